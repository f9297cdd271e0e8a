//! Fleet mode on the wire: a node's link to the registry, as `health` reports it.

use serde::{Deserialize, Serialize};

/// This node's link to the fleet's registry (PostgreSQL).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetHealth {
    /// This node's name.
    pub node: String,
    /// Whether the registry answered the last time it was used. While it is down, key
    /// changes are refused (`registry_unavailable`) and every key keeps working.
    pub up: bool,
    /// Unix seconds of the last change of `up`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Unix seconds of the last completed sync with the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<i64>,
    /// Key changes made on other nodes and taken into this node's copy, since the start.
    #[serde(default)]
    pub pulled: u64,
    /// Key changes this node wrote to the registry, since the start.
    #[serde(default)]
    pub pushed: u64,
}

/// `node.list`: every node of the fleet as this node last read it from the registry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeListParams {}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeList {
    /// The node answering.
    pub this: String,
    /// Whether the registry is reachable now; when it is not, the list is as last read.
    pub registry_up: bool,
    pub nodes: Vec<NodeInfo>,
}

/// One node as the registry knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    /// Drained (`node.drain`): left out of subscriptions; it keeps serving its keys.
    pub draining: bool,
    /// Unix seconds of the node's last beat (every `traffic_secs`); `None` before its first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<i64>,
    /// Its core as the node last said (`up`, `down`, `unknown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core: Option<String>,
    /// Keys active, and pending on its core, as the node last said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys_active: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys_pending: Option<u64>,
    /// The veild version it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub veild: Option<String>,
    /// The host its keys dial (what subscriptions list), once it published it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Bytes through this node of every key, since their resets.
    pub uplink: u64,
    pub downlink: u64,
}

/// `node.drain`: leaves a node out of subscriptions (phones move to the others at their
/// next refresh) or, with `undo`, puts it back. The node keeps serving its keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeDrainParams {
    pub node: String,
    #[serde(default)]
    pub undo: bool,
}
