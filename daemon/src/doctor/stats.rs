//! Statistics and policy: traffic per key needs `stats` and per-user counters on every
//! level the keys use; online users need `statsUserOnline` (Xray); the phone-friendly
//! timeouts are advice.

use serde_json::Value;
use veil_shared::api::Finding;
use veil_shared::coreconfig::{Flavor, ManagedInbound, PHONE_POLICY_VALUES};

use super::facts::CoreFacts;
use super::facts::checks::{PHONE_POLICY, STATS, USER_ONLINE, USER_STATS};

/// The policy levels the managed clients use (always including 0, which Veil gives keys).
fn levels_in_use(inbound: Option<&ManagedInbound>) -> Vec<u32> {
    let mut levels = vec![0];
    for c in inbound.map(|i| i.clients.as_slice()).unwrap_or_default() {
        if !levels.contains(&c.level) {
            levels.push(c.level);
        }
    }
    levels
}

pub(super) fn check_stats(
    root: &Value,
    facts: &CoreFacts<'_>,
    inbound: Option<&ManagedInbound>,
    out: &mut Vec<Finding>,
) {
    if !root.get("stats").is_some_and(Value::is_object) {
        out.push(Finding::error(
            STATS,
            "the core config has no top-level \"stats\" object: every key's traffic reads zero",
            "add \"stats\": {} at the top level",
        ));
    }
    let levels = &root["policy"]["levels"];
    for level in levels_in_use(inbound) {
        check_level(&levels[level.to_string()], level, facts, out);
    }
    check_phone_policy(&levels["0"], out);
}

/// One policy level the keys use: per-user counters (and online users on Xray).
fn check_level(policy: &Value, level: u32, facts: &CoreFacts<'_>, out: &mut Vec<Finding>) {
    let on = |key: &str| policy.get(key).and_then(Value::as_bool) == Some(true);
    let off: Vec<&str> = ["statsUserUplink", "statsUserDownlink"]
        .into_iter()
        .filter(|k| !on(k))
        .collect();
    if !off.is_empty() {
        out.push(Finding::error(
            USER_STATS,
            format!(
                "policy.levels.\"{level}\" does not turn on {}: per-key traffic reads zero",
                off.join(" and ")
            ),
            format!(
                "set \"policy\": {{\"levels\": {{\"{level}\": {{\"statsUserUplink\": true, \
                 \"statsUserDownlink\": true}}}}}}"
            ),
        ));
    }
    if facts.flavor == Flavor::Xray && !on("statsUserOnline") {
        out.push(Finding::warning(
            USER_ONLINE,
            format!(
                "policy.levels.\"{level}\".statsUserOnline is off: Veil cannot tell which keys \
                 are online"
            ),
            format!("set policy.levels.\"{level}\".statsUserOnline to true (Xray ≥ 24.11.5)"),
        ));
    }
}

/// Level 0's timeouts against the phone-friendly ones `veil init` writes (advice only).
fn check_phone_policy(level0: &Value, out: &mut Vec<Finding>) {
    let off: Vec<String> = PHONE_POLICY_VALUES
        .iter()
        .filter(|(k, v)| level0.get(*k).and_then(Value::as_u64) != Some(*v))
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if !off.is_empty() {
        out.push(Finding::info(
            PHONE_POLICY,
            format!(
                "policy.levels.\"0\" differs from the phone-friendly timeouts ({})",
                off.join(", ")
            ),
            "phones switching networks reconnect faster with handshake 4, connIdle 300, \
             uplinkOnly 2, downlinkOnly 5 and a modest bufferSize (e.g. 64)",
        ));
    }
}
