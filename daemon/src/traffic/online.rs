//! Who is connected on a key (a connection-quality signal the core exposes): Xray's online map (`statsUserOnline` in the policy of
//! the users' level, Xray v24.11.5+). v2fly has none, and is reported as unsupported,
//! never as zero.

use std::path::Path;

use veil_shared::traffic::{Online, OnlineIp};

use crate::applier::email_for;
use crate::corelink::{CoreError, CoreLink, Flavor};

/// The level Veil gives every user.
const LEVEL: &str = "0";

/// Whether the core config turns on online statistics for `LEVEL`; `None` when the file
/// cannot be read (then the core is asked anyway). Comments are allowed, as the core
/// allows them.
pub fn policy_enabled(core_config: &Path) -> Option<bool> {
    let bytes = std::fs::read(core_config).ok()?;
    let root = veil_shared::coreconfig::parse(&bytes).ok()?.root;
    Some(root["policy"]["levels"][LEVEL]["statsUserOnline"] == serde_json::Value::Bool(true))
}

/// The key's online state as the core reports it now.
pub async fn lookup(link: &CoreLink, core_config: &Path, key_id: i64) -> Online {
    if link.flavor() == Flavor::V2fly {
        return Online::Unsupported {
            reason: "the v2fly core (v2ray 4.x) has no online statistics".into(),
        };
    }
    if policy_enabled(core_config) == Some(false) {
        return Online::Off;
    }
    let email = email_for(key_id);
    let count = match link.online_count(&email).await {
        Ok(count) => count.unwrap_or(0),
        Err(e) => return from_error(e),
    };
    let ips = match link.online_ips(&email).await {
        Ok(ips) => ips
            .unwrap_or_default()
            .into_iter()
            .map(|(ip, last_seen)| OnlineIp { ip, last_seen })
            .collect(),
        // Xray v24.11.5 – v25.2.17 count IPs but cannot list them.
        Err(CoreError::Rejected { code: 12, .. }) => Vec::new(),
        Err(e) => return from_error(e),
    };
    Online::Known { count, ips }
}

fn from_error(e: CoreError) -> Online {
    match e {
        CoreError::Rejected { code: 12, .. } | CoreError::Unsupported(_) => Online::Unsupported {
            reason: "this core has no GetStatsOnline (Xray v24.11.5 or newer has)".into(),
        },
        other => Online::Unavailable {
            error: other.to_string(),
        },
    }
}
