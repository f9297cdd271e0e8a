//! The subscription bodies, one function per format. Names and every other value go
//! through a serializer (JSON, YAML) or the link encoder; nothing is pasted into text.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{Entry, Format, SingBoxVersion};
use crate::clientconfig::{self, LocalPorts, PRIVATE_RANGES};
use crate::link;
use crate::reality::Security;

/// Why a body could not be written (only YAML serialization can fail).
#[derive(Debug, thiserror::Error)]
#[error("cannot write the subscription body: {0}")]
pub struct RenderError(String);

/// The body of `format` for `entries`, as text.
pub fn body(format: Format, entries: &[Entry]) -> Result<String, RenderError> {
    let json = |v: Value| serde_json::to_string_pretty(&v).map_err(|e| RenderError(e.to_string()));
    match format {
        Format::Base64 => Ok(base64_links(entries)),
        Format::Links => Ok(links(entries)),
        Format::SingBox {
            version,
            strict_route,
        } => json(sing_box(entries, version, strict_route)),
        Format::Mihomo => mihomo(entries),
        Format::Xray => json(xray(entries)),
    }
}

/// The entries' `vless://` links, one a line.
pub fn links(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|e| link::vless_link(&e.uuid, &e.host, &e.endpoint, &e.name))
        .collect::<Vec<_>>()
        .join("\n")
}

/// [`links`] in standard base64 (with padding), what v2rayNG and its kin expect.
pub fn base64_links(entries: &[Entry]) -> String {
    STANDARD.encode(links(entries))
}

fn bare(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Outbound tags the config itself uses; an entry named like one gets a suffix.
const RESERVED_TAGS: &[&str] = &["proxy", "direct", "dns-out"];

fn tag_of(name: &str) -> String {
    if RESERVED_TAGS.contains(&name) {
        format!("{name} (key)")
    } else {
        name.to_owned()
    }
}

/// One sing-box VLESS outbound (REALITY: `tls.utls` enabled with the fingerprint, and
/// `tls.reality` with the public key and short id).
pub fn sing_box_outbound(entry: &Entry) -> Value {
    let e = &entry.endpoint;
    let mut out = json!({
        "type": "vless",
        "tag": tag_of(&entry.name),
        "server": bare(&entry.host),
        "server_port": e.port,
        "uuid": entry.uuid.hyphenated().to_string(),
    });
    if !e.flow.is_empty() {
        out["flow"] = json!(e.flow);
    }
    out["packet_encoding"] = json!("xudp");
    if let Security::Reality(r) = &e.security {
        out["tls"] = json!({
            "enabled": true,
            "server_name": r.server_name,
            "utls": {"enabled": true, "fingerprint": r.fingerprint},
            "reality": {"enabled": true, "public_key": r.public_key, "short_id": r.short_id},
        });
    }
    out
}

/// A complete sing-box config: a TUN inbound, the entries behind a `proxy` selector, DNS
/// through the tunnel, private addresses direct. Shaped for `version`: typed DNS servers
/// and `default_domain_resolver` from 1.12, rule actions (sniff, hijack-dns) from 1.11
/// (before: the inbound's `sniff` and a `dns` outbound), TUN `address` from 1.10 (before:
/// `inet4_address`/`inet6_address`).
pub fn sing_box(entries: &[Entry], version: SingBoxVersion, strict_route: bool) -> Value {
    let tags: Vec<String> = entries.iter().map(|e| tag_of(&e.name)).collect();
    let mut outbounds = vec![json!({
        "type": "selector",
        "tag": "proxy",
        "outbounds": tags,
        "default": tags.first(),
    })];
    outbounds.extend(entries.iter().map(sing_box_outbound));
    outbounds.push(json!({"type": "direct", "tag": "direct"}));

    let typed_dns = version.at_least(1, 12);
    let actions = version.at_least(1, 11);
    let dns = if typed_dns {
        json!({"servers": [
            {"type": "https", "tag": "remote", "server": "1.1.1.1", "detour": "proxy"},
            {"type": "local", "tag": "local"}
        ], "final": "remote"})
    } else {
        json!({"servers": [
            {"tag": "remote", "address": "https://1.1.1.1/dns-query", "detour": "proxy"},
            {"tag": "local", "address": "local", "detour": "direct"}
        ], "final": "remote"})
    };

    let mut tun = json!({"type": "tun", "tag": "tun-in"});
    if version.at_least(1, 10) {
        tun["address"] = json!(["172.19.0.1/30", "fdfe:dcba:9876::1/126"]);
    } else {
        tun["inet4_address"] = json!("172.19.0.1/30");
        tun["inet6_address"] = json!("fdfe:dcba:9876::1/126");
    }
    tun["auto_route"] = json!(true);
    if strict_route {
        tun["strict_route"] = json!(true);
    }
    tun["stack"] = json!("mixed");

    let mut rules = Vec::new();
    if actions {
        rules.push(json!({"action": "sniff"}));
        rules.push(json!({"protocol": "dns", "action": "hijack-dns"}));
    } else {
        tun["sniff"] = json!(true);
        outbounds.push(json!({"type": "dns", "tag": "dns-out"}));
        rules.push(json!({"protocol": "dns", "outbound": "dns-out"}));
    }
    rules.push(json!({"ip_is_private": true, "outbound": "direct"}));

    let mut route = json!({"rules": rules, "final": "proxy", "auto_detect_interface": true});
    if typed_dns {
        route["default_domain_resolver"] = json!("local");
    }
    json!({
        "log": {"level": "warn"},
        "dns": dns,
        "inbounds": [tun],
        "outbounds": outbounds,
        "route": route,
    })
}

/// One mihomo proxy (REALITY: `tls: true`, `servername`, `client-fingerprint` and
/// `reality-opts`).
pub fn mihomo_proxy(entry: &Entry) -> Value {
    let e = &entry.endpoint;
    let mut p = json!({
        "name": entry.name,
        "type": "vless",
        "server": bare(&entry.host),
        "port": e.port,
        "uuid": entry.uuid.hyphenated().to_string(),
        "network": "tcp",
        "udp": true,
    });
    match &e.security {
        Security::Reality(r) => {
            p["tls"] = json!(true);
            if !e.flow.is_empty() {
                p["flow"] = json!(e.flow);
            }
            p["servername"] = json!(r.server_name);
            p["client-fingerprint"] = json!(r.fingerprint);
            let mut opts = json!({"public-key": r.public_key});
            if !r.short_id.is_empty() {
                opts["short-id"] = json!(r.short_id);
            }
            p["reality-opts"] = opts;
        }
        Security::None => {
            p["tls"] = json!(false);
            if !e.flow.is_empty() {
                p["flow"] = json!(e.flow);
            }
        }
    }
    p
}

/// A complete mihomo (Clash Meta) profile: the proxies, a `PROXY` select group, private
/// ranges direct (by address, no GeoIP database needed), everything else through `PROXY`.
pub fn mihomo_profile(entries: &[Entry]) -> Value {
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let mut rules: Vec<String> = PRIVATE_RANGES
        .iter()
        .map(|range| {
            let kind = if range.contains(':') {
                "IP-CIDR6"
            } else {
                "IP-CIDR"
            };
            format!("{kind},{range},DIRECT,no-resolve")
        })
        .collect();
    rules.push("MATCH,PROXY".to_owned());
    json!({
        "mixed-port": 7890,
        "allow-lan": false,
        "mode": "rule",
        "log-level": "warning",
        "proxies": entries.iter().map(mihomo_proxy).collect::<Vec<_>>(),
        "proxy-groups": [{"name": "PROXY", "type": "select", "proxies": names}],
        "rules": rules,
    })
}

/// [`mihomo_profile`] as YAML text.
pub fn mihomo(entries: &[Entry]) -> Result<String, RenderError> {
    serde_norway::to_string(&mihomo_profile(entries)).map_err(|e| RenderError(e.to_string()))
}

/// A JSON array of complete Xray client configs, one per entry, each named by `remarks`
/// (v2rayNG's and v2rayN's form of a JSON subscription).
pub fn xray(entries: &[Entry]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|e| {
                let mut config = clientconfig::client_config(
                    &e.uuid,
                    &e.host,
                    &e.endpoint,
                    LocalPorts::default(),
                );
                if let Value::Object(map) = &mut config {
                    map.insert("remarks".to_owned(), json!(e.name));
                }
                config
            })
            .collect(),
    )
}
