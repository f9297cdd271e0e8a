//! What veild says about cutting the connections of keys that left the core: its state in
//! `health`, and the `event.disconnect` notification (re-exported by the api module).

use serde::{Deserialize, Serialize};

/// Cutting removed keys' connections (`[core] disconnect`), as `health` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisconnectHealth {
    #[serde(flatten)]
    pub status: DisconnectStatus,
    /// Connections destroyed since veild started.
    #[serde(default)]
    pub connections_cut: u64,
    /// The last cut, as the audit trail says it (`key 7: disconnected 3 connections…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

/// Whether cutting is on, and if not, why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DisconnectStatus {
    /// A disabled, deleted or rotated key's connections are cut.
    On,
    /// `[core] disconnect = "off"`.
    Off,
    /// The core cannot say which addresses a key connects from (v2fly).
    Unsupported { reason: String },
    /// The daemon or the kernel cannot destroy sockets (no `CAP_NET_ADMIN`, no
    /// `CONFIG_INET_DIAG_DESTROY`), or the inbound has no single port.
    Unavailable { reason: String },
}

impl DisconnectStatus {
    /// One line for people: `on`, `off`, `not supported: …`, `unavailable: …`.
    pub fn describe(&self) -> String {
        match self {
            DisconnectStatus::On => "on".into(),
            DisconnectStatus::Off => "off".into(),
            DisconnectStatus::Unsupported { reason } => format!("not supported: {reason}"),
            DisconnectStatus::Unavailable { reason } => format!("unavailable: {reason}"),
        }
    }
}

/// `event.disconnect`: a key that left the core lost its open connections.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisconnectEvent {
    pub key_id: i64,
    pub name: String,
    /// Connections destroyed.
    pub connections: u64,
    /// The addresses they came from.
    pub addresses: Vec<String>,
    /// Other keys online from one of those addresses, cut along; absent when the core
    /// cannot list who is online.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collateral: Option<u64>,
    /// The sentence the audit trail keeps (`disconnected 3 connections from 2 addresses…`).
    pub detail: String,
}
