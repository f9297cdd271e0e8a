//! Disable that really disconnects: when keys leave the core, their open tunnels are cut.
//!
//! Removing a user from the core only stops new handshakes; a phone streaming video keeps
//! its tunnel for hours. After the applier has removed keys (disable, limit, expiry,
//! delete, rotate), it hands their ids here: the core's online map (Xray's
//! `GetStatsOnlineIpList`, policy `statsUserOnline`) gives each key's source addresses, and
//! the established connections from those addresses to the managed inbound's port are
//! destroyed ([`sockdiag`]). Remove first, then cut, so the phone cannot come back with the
//! old key.
//!
//! The mapping is by address: the core tells which addresses a user connects from, not
//! which sockets. Another key connecting from the same address (carrier NAT, one
//! household) loses its connections too; its key is still valid, so its app reconnects at
//! once. That collateral is counted, never hidden: the keys still online from a cut address
//! (GetAllOnlineUsers, Xray v26.1.13+; "unknown" on older cores) are reported with the cut.
//! With v2fly there is no online map at all: the feature reports itself not supported.

pub mod sockdiag;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use futures_util::StreamExt;
use serde::Deserialize;
use veil_shared::api::DisconnectStatus;

use crate::corelink::{CoreError, CoreLink, Flavor};
use crate::coreuser::{email_for, id_from_email};
pub use sockdiag::{Availability, CutReport};

/// `[core] disconnect`: whether leaving the core also cuts a key's connections.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Cut, where the capability, the kernel and the core allow it (the default).
    #[default]
    On,
    Off,
}

/// Online-map lookups in flight at once.
const LOOKUPS: usize = 32;

/// What cutting one key did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyCut {
    pub key_id: i64,
    /// Connections destroyed from the key's addresses.
    pub connections: usize,
    /// The key's addresses, as the core reported them.
    pub addresses: Vec<IpAddr>,
    /// Other keys online from one of these addresses (cut along), when the core can say.
    pub collateral: Option<usize>,
    /// Why the cut (or part of it) failed.
    pub error: Option<String>,
}

impl KeyCut {
    /// For the audit trail and the key's events.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "disconnected {} connection{} from {} address{}",
            self.connections,
            if self.connections == 1 { "" } else { "s" },
            self.addresses.len(),
            if self.addresses.len() == 1 { "" } else { "es" },
        );
        if !self.addresses.is_empty() {
            let list: Vec<String> = self.addresses.iter().map(ToString::to_string).collect();
            text.push_str(&format!(" ({})", list.join(", ")));
        }
        match self.collateral {
            Some(0) | None if self.addresses.is_empty() => {}
            Some(0) => {}
            Some(n) => text.push_str(&format!(
                "; cut along: {n} other key{} online from the same address",
                if n == 1 { "" } else { "s" }
            )),
            None => text.push_str("; other keys on these addresses: unknown (core too old)"),
        }
        if let Some(e) = &self.error {
            text.push_str(&format!("; failed: {e}"));
        }
        text
    }
}

/// What one call of [`Disconnector::after_removal`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Each key with an address or an error (keys offline are left out).
    pub keys: Vec<KeyCut>,
    /// Connections destroyed, and ones that could not be.
    pub cut: usize,
    pub failed: usize,
}

/// Cuts removed keys' connections; one per daemon, made at start.
#[derive(Debug)]
pub struct Disconnector {
    port: Option<u16>,
    status: DisconnectStatus,
}

impl Disconnector {
    /// Decides once, at start, whether cutting is possible: the setting, the core's
    /// flavor, the inbound's port, and a probe of the kernel path ([`sockdiag::probe`]).
    pub fn new(mode: Mode, flavor: Flavor, port: Option<u16>) -> Disconnector {
        let status = if mode == Mode::Off {
            DisconnectStatus::Off
        } else if flavor == Flavor::V2fly {
            DisconnectStatus::Unsupported {
                reason: "the v2fly core (v2ray 4.x) has no per-user online addresses".into(),
            }
        } else if port.is_none() {
            DisconnectStatus::Unavailable {
                reason: "the managed inbound has no single port".into(),
            }
        } else {
            match sockdiag::probe() {
                Availability::Available => DisconnectStatus::On,
                other => DisconnectStatus::Unavailable {
                    reason: other.describe(),
                },
            }
        };
        match &status {
            DisconnectStatus::On => tracing::info!(?port, "disconnect: on"),
            other => tracing::info!(status = ?other, "disconnect: not cutting connections"),
        }
        Disconnector { port, status }
    }

    pub fn status(&self) -> &DisconnectStatus {
        &self.status
    }

    /// Cuts the connections of keys just removed from the core. Empty when cutting is off
    /// or unavailable (the status says why).
    pub async fn after_removal(&self, link: &CoreLink, key_ids: &[i64]) -> Outcome {
        let (DisconnectStatus::On, Some(port)) = (&self.status, self.port) else {
            return Outcome::default();
        };
        if key_ids.is_empty() {
            return Outcome::default();
        }
        let mut cuts = online_addresses(link, key_ids).await;
        cuts.retain(|c| !c.addresses.is_empty() || c.error.is_some());
        let owned: BTreeSet<IpAddr> = cuts.iter().flat_map(|c| c.addresses.clone()).collect();
        if owned.is_empty() {
            return Outcome {
                keys: cuts,
                ..Outcome::default()
            };
        }
        let collateral = others_online(link, key_ids, &owned).await;
        let peers = owned.clone();
        let cut = tokio::task::spawn_blocking(move || sockdiag::cut(port, &peers)).await;
        let (per_address, error, totals) = match cut {
            Ok(Ok(report)) => {
                let error = report.failed.first().map(|(peer, e)| {
                    format!(
                        "{} connection(s) not destroyed ({peer}: {e})",
                        report.failed.len()
                    )
                });
                (report.per_address, error, (report.cut, report.failed.len()))
            }
            Ok(Err(e)) => (
                BTreeMap::new(),
                Some(format!("listing connections: {e}")),
                (0, 0),
            ),
            Err(e) => (
                BTreeMap::new(),
                Some(format!("the cutting task failed: {e}")),
                (0, 0),
            ),
        };
        for key in &mut cuts {
            key.connections = key
                .addresses
                .iter()
                .map(|a| per_address.get(a).copied().unwrap_or(0))
                .sum();
            if !key.addresses.is_empty() {
                key.collateral = collateral.as_ref().map(|others| {
                    others
                        .iter()
                        .filter(|(_, addrs)| key.addresses.iter().any(|a| addrs.contains(a)))
                        .count()
                });
                if error.is_some() {
                    key.error.clone_from(&error);
                }
            }
        }
        Outcome {
            keys: cuts,
            cut: totals.0,
            failed: totals.1,
        }
    }
}

/// Each key's online addresses (canonical; IPv6 without brackets).
async fn online_addresses(link: &CoreLink, key_ids: &[i64]) -> Vec<KeyCut> {
    futures_util::stream::iter(key_ids.iter().copied())
        .map(|key_id| async move {
            match link.online_ips(&email_for(key_id)).await {
                Ok(ips) => KeyCut {
                    key_id,
                    addresses: parse_ips(ips.unwrap_or_default()),
                    ..KeyCut::default()
                },
                Err(e) => KeyCut {
                    key_id,
                    error: Some(format!("reading its online addresses: {e}")),
                    ..KeyCut::default()
                },
            }
        })
        .buffered(LOOKUPS)
        .collect()
        .await
}

/// The other keys online now from one of `owned` (by key id, with their addresses), or
/// `None` when the core cannot list who is online.
async fn others_online(
    link: &CoreLink,
    cut: &[i64],
    owned: &BTreeSet<IpAddr>,
) -> Option<Vec<(i64, BTreeSet<IpAddr>)>> {
    let emails = match link.online_users().await {
        Ok(emails) => emails,
        Err(CoreError::Unsupported(_) | CoreError::Rejected { code: 12, .. }) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "disconnect: listing online users failed");
            return None;
        }
    };
    let cut: BTreeSet<i64> = cut.iter().copied().collect();
    let others: Vec<i64> = emails
        .iter()
        .filter_map(|e| id_from_email(e))
        .filter(|id| !cut.contains(id))
        .collect();
    let found: Vec<KeyCut> = online_addresses(link, &others).await;
    Some(
        found
            .into_iter()
            .map(|k| (k.key_id, k.addresses.into_iter().collect::<BTreeSet<_>>()))
            .filter(|(_, addrs)| !addrs.is_disjoint(owned))
            .collect(),
    )
}

/// The core's IP strings (`192.0.2.7`, `[2001:db8::1]`) as addresses; others are skipped.
fn parse_ips(ips: Vec<(String, i64)>) -> Vec<IpAddr> {
    let set: BTreeSet<IpAddr> = ips
        .into_iter()
        .filter_map(|(ip, _)| {
            let bare = ip.trim_start_matches('[').trim_end_matches(']');
            bare.parse::<IpAddr>().ok().map(|a| a.to_canonical())
        })
        .collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_addresses_parse_canonically() {
        let ips = parse_ips(vec![
            ("192.0.2.7".into(), 1),
            ("[2001:db8::1]".into(), 2),
            ("[::ffff:192.0.2.7]".into(), 3),
            ("not an address".into(), 4),
        ]);
        let expected: Vec<IpAddr> =
            vec!["192.0.2.7".parse().unwrap(), "2001:db8::1".parse().unwrap()];
        assert_eq!(ips, expected);
    }

    #[test]
    fn a_cut_reads_as_a_sentence() {
        let cut = KeyCut {
            key_id: 7,
            connections: 3,
            addresses: vec!["127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap()],
            collateral: Some(1),
            error: None,
        };
        assert_eq!(
            cut.describe(),
            "disconnected 3 connections from 2 addresses (127.0.0.2, 127.0.0.3); \
             cut along: 1 other key online from the same address"
        );
        let none = KeyCut {
            key_id: 7,
            ..KeyCut::default()
        };
        assert_eq!(
            none.describe(),
            "disconnected 0 connections from 0 addresses"
        );
    }
}
