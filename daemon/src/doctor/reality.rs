//! REALITY on the managed inbound: only on Xray, with a target, server names, a private
//! key, short ids and a `minClientVer` every client Veil supports passes.

use veil_shared::api::Finding;
use veil_shared::coreconfig::{MIN_CLIENT_VERSION, ManagedInbound, RealitySettings};
use veil_shared::reality;

use super::api::split_host_port;
use super::facts::CoreFacts;
use super::facts::checks::{
    MIN_CLIENT_VER, PRIVATE_KEY, REALITY_ON_V2FLY, SERVER_NAMES, SHORT_IDS, TARGET,
};

pub(super) fn check_reality(
    inbound: &ManagedInbound,
    facts: &CoreFacts<'_>,
    out: &mut Vec<Finding>,
) {
    if !inbound.stream.is_reality() {
        return;
    }
    if !facts.flavor.has_reality() {
        out.push(Finding::error(
            REALITY_ON_V2FLY,
            "the inbound asks for REALITY, but v2ray 4.x has none: it silently serves plain VLESS",
            "run Xray (flavor = \"xray\") for REALITY, or set \"security\": \"none\" for a plain \
             trial setup",
        ));
        return;
    }
    let Some(rs) = &inbound.stream.reality else {
        out.push(Finding::error(
            TARGET,
            "\"security\" is \"reality\" but streamSettings.realitySettings is missing",
            "add realitySettings with target, serverNames, privateKey, shortIds and minClientVer \
             (`veil init` writes them)",
        ));
        return;
    };
    check_target_and_names(rs, out);
    if let Err(e) = reality::decode_key(&rs.private_key) {
        out.push(Finding::error(
            PRIVATE_KEY,
            format!("realitySettings.privateKey {e}"),
            "generate a keypair (`xray x25519`) and set \"privateKey\" to its private half; \
             every key's link then carries the new public key, so hand out links again \
             (`veil key qr KEY`)",
        ));
    }
    check_short_ids(rs, out);
    check_min_client_ver(rs, out);
}

fn valid_target(target: &str) -> bool {
    if target.starts_with('/') || target.starts_with('@') {
        return true;
    }
    if target.parse::<u16>().is_ok_and(|p| p > 0) {
        return true;
    }
    split_host_port(target).is_some_and(|(host, port)| !host.is_empty() && port > 0)
}

fn valid_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| p.parse::<u8>().is_ok())
}

fn check_target_and_names(rs: &RealitySettings, out: &mut Vec<Finding>) {
    match rs.target.as_deref() {
        Some(t) if valid_target(t) => {}
        other => out.push(Finding::error(
            TARGET,
            match other {
                Some(t) => format!("realitySettings.target \"{t}\" is not HOST:PORT"),
                None => "realitySettings has no \"target\" (or \"dest\")".to_owned(),
            },
            "set \"target\": \"www.example.com:443\", a real TLS 1.3 site whose name is in \
             serverNames",
        )),
    }
    if rs.server_name().is_none() {
        out.push(Finding::error(
            SERVER_NAMES,
            "realitySettings.serverNames is empty: no client name is accepted, and links have no sni",
            "set \"serverNames\": [\"www.example.com\"], the name(s) of the target site",
        ));
    }
}

fn check_short_ids(rs: &RealitySettings, out: &mut Vec<Finding>) {
    let ids = match &rs.short_ids {
        Some(ids) if !ids.is_empty() => ids,
        _ => {
            out.push(Finding::error(
                SHORT_IDS,
                "realitySettings.shortIds is missing or empty; Xray requires at least one",
                "set \"shortIds\": [\"<8 random bytes as hex>\"] (`openssl rand -hex 8`)",
            ));
            return;
        }
    };
    for (i, id) in ids.iter().enumerate() {
        let problem = match id {
            Ok(s) => reality::short_id_problem(s),
            Err(other) => Some(format!("{other} is not a string")),
        };
        if let Some(problem) = problem {
            out.push(Finding::error(
                SHORT_IDS,
                format!("realitySettings.shortIds[{i}]: {problem}"),
                "use even-length hex of at most 16 characters, e.g. \"0123456789abcdef\"",
            ));
        }
    }
}

fn check_min_client_ver(rs: &RealitySettings, out: &mut Vec<Finding>) {
    match rs.min_client_ver.as_str() {
        "" => out.push(Finding::error(
            MIN_CLIENT_VER,
            "realitySettings.minClientVer is empty: since Xray 26.7.11 that means 26.3.27, which \
             silently refuses every sing-box based client (Hiddify, NekoBox) and older Xray clients",
            format!("set \"minClientVer\": \"{MIN_CLIENT_VERSION}\""),
        )),
        v if !valid_version(v) => out.push(Finding::error(
            MIN_CLIENT_VER,
            format!("realitySettings.minClientVer \"{v}\" is not x.y.z (each 0–255)"),
            format!("set \"minClientVer\": \"{MIN_CLIENT_VERSION}\""),
        )),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_versions() {
        for ok in [
            "www.example.com:443",
            "443",
            "/run/x.sock",
            "@abstract",
            "[::1]:8443",
        ] {
            assert!(valid_target(ok), "{ok}");
        }
        for bad in ["www.example.com", ":443", "x:0", ""] {
            assert!(!valid_target(bad), "{bad}");
        }
        assert!(valid_version("1.8.0") && valid_version("255.0.1"));
        assert!(!valid_version("1.8") && !valid_version("1.8.256") && !valid_version("a.b.c"));
    }
}
