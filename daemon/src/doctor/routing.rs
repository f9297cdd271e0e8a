//! Routing: clients must not reach the server's loopback (the core's API is there) or its
//! private networks.

use std::net::Ipv4Addr;

use serde_json::Value;
use veil_shared::api::Finding;
use veil_shared::coreconfig::strings;

use super::facts::checks::PRIVATE_DESTINATIONS;
use super::facts::{CoreFacts, array_at, str_at};

/// The routing rules, wherever the config keeps them (`routing.rules`, or v4's legacy
/// `routing.settings.rules`).
pub(super) fn rules(root: &Value) -> Vec<&Value> {
    let routing = root.get("routing");
    let direct = routing.map(|r| array_at(r, "rules")).unwrap_or_default();
    let legacy = routing
        .and_then(|r| r.get("settings"))
        .map(|s| array_at(s, "rules"))
        .unwrap_or_default();
    direct.iter().chain(legacy).collect()
}

/// Whether an `ip` entry of a routing rule covers 127.0.0.1.
fn covers_loopback(entry: &str) -> bool {
    if entry.eq_ignore_ascii_case("geoip:private") {
        return true;
    }
    let (addr, bits) = match entry.split_once('/') {
        Some((a, b)) => (a, b.parse::<u32>().ok()),
        None => (entry, Some(32)),
    };
    let (Ok(net), Some(bits)) = (addr.parse::<Ipv4Addr>(), bits) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    (u32::from(net) & mask) == (u32::from(Ipv4Addr::LOCALHOST) & mask)
}

pub(super) fn check_private_destinations(
    root: &Value,
    facts: &CoreFacts<'_>,
    out: &mut Vec<Finding>,
) {
    let blackholes: Vec<&str> = array_at(root, "outbounds")
        .iter()
        .filter(|o| str_at(o, "protocol").is_some_and(|p| p.eq_ignore_ascii_case("blackhole")))
        .filter_map(|o| str_at(o, "tag"))
        .collect();
    let blocked = rules(root).into_iter().any(|r| {
        let applies = match r.get("inboundTag") {
            None => true,
            tags => strings(tags).contains(&facts.inbound_tag),
        };
        applies
            && str_at(r, "outboundTag").is_some_and(|t| blackholes.contains(&t))
            && strings(r.get("ip")).into_iter().any(covers_loopback)
    });
    if !blocked {
        out.push(Finding::warning(
            PRIVATE_DESTINATIONS,
            format!(
                "traffic from \"{}\" to loopback and private addresses is not blocked: a key's \
                 user can reach the server's own services, the core's API included",
                facts.inbound_tag
            ),
            "add an outbound {\"tag\": \"block\", \"protocol\": \"blackhole\"} and the routing rule \
             {\"type\": \"field\", \"ip\": [\"127.0.0.0/8\", \"10.0.0.0/8\", \"172.16.0.0/12\", \
             \"192.168.0.0/16\", \"169.254.0.0/16\", \"::1/128\", \"fc00::/7\", \"fe80::/10\"], \
             \"outboundTag\": \"block\"}",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_coverage() {
        for yes in [
            "127.0.0.0/8",
            "127.0.0.1",
            "127.0.0.1/32",
            "0.0.0.0/0",
            "geoip:private",
        ] {
            assert!(covers_loopback(yes), "{yes}");
        }
        for no in ["10.0.0.0/8", "::1/128", "127.0.0.2/32", "x", "127.0.0.0/33"] {
            assert!(!covers_loopback(no), "{no}");
        }
    }
}
