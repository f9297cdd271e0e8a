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
