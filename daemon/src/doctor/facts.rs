//! What the config checks share: their stable names, the daemon's facts about the core,
//! and small readers of the config's JSON.

use serde_json::Value;
use veil_shared::coreconfig::Flavor;

/// The check names, stable for scripts.
pub mod checks {
    pub const MANAGED_INBOUND: &str = "managed_inbound";
    pub const API: &str = "api";
    pub const API_SERVICES: &str = "api_services";
    pub const API_LOOPBACK: &str = "api_loopback";
    pub const API_ADDRESS: &str = "api_address";
    pub const PRIVATE_DESTINATIONS: &str = "private_destinations";
    pub const STATS: &str = "stats";
    pub const USER_STATS: &str = "user_stats";
    pub const USER_ONLINE: &str = "user_online";
    pub const PHONE_POLICY: &str = "phone_policy";
    pub const FLOW: &str = "flow";
    pub const REALITY_ON_V2FLY: &str = "reality_on_v2fly";
    pub const TARGET: &str = "target";
    pub const SERVER_NAMES: &str = "server_names";
    pub const PRIVATE_KEY: &str = "private_key";
    pub const SHORT_IDS: &str = "short_ids";
    pub const MIN_CLIENT_VER: &str = "min_client_ver";
    pub const LINK_SUPPORT: &str = "link_support";

    /// Every check `check_core_config` runs.
    pub const CORE_CONFIG: &[&str] = &[
        MANAGED_INBOUND,
        API,
        API_SERVICES,
        API_LOOPBACK,
        API_ADDRESS,
        PRIVATE_DESTINATIONS,
        STATS,
        USER_STATS,
        USER_ONLINE,
        PHONE_POLICY,
        FLOW,
        REALITY_ON_V2FLY,
        TARGET,
        SERVER_NAMES,
        PRIVATE_KEY,
        SHORT_IDS,
        MIN_CLIENT_VER,
        LINK_SUPPORT,
    ];
}

/// What the daemon's own config says about the core.
#[derive(Clone, Copy, Debug)]
pub struct CoreFacts<'a> {
    pub flavor: Flavor,
    /// `[core] inbound_tag`.
    pub inbound_tag: &'a str,
    /// `[core] api`: the `HOST:PORT` veild dials.
    pub api: &'a str,
}

pub(super) fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub(super) fn array_at<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Every inbound of the config (none when `inbounds` is missing or not a list).
pub(super) fn inbounds(root: &Value) -> &[Value] {
    array_at(root, "inbounds")
}
