//! A complete client config (JSON) for Xray-based clients (and v2ray 4.x for plain VLESS):
//! local SOCKS5 and HTTP proxies on loopback, the key's VLESS outbound with its REALITY
//! settings, and routing that keeps private and local addresses off the tunnel.
//!
//! Routing uses explicit address ranges rather than `geoip:private`, which needs a
//! `geoip.dat` file that not every client has.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::reality::{Endpoint, Security};

/// The local ports v2rayN and most desktop clients use.
pub const DEFAULT_SOCKS_PORT: u16 = 10808;
pub const DEFAULT_HTTP_PORT: u16 = 10809;

/// Private, loopback, link-local and other local ranges: reached directly, never through
/// the server.
pub const PRIVATE_RANGES: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "224.0.0.0/4",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
];

/// Where the client's local proxies listen (always on 127.0.0.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalPorts {
    pub socks: u16,
    pub http: u16,
}

impl Default for LocalPorts {
    fn default() -> Self {
        LocalPorts {
            socks: DEFAULT_SOCKS_PORT,
            http: DEFAULT_HTTP_PORT,
        }
    }
}

/// The VLESS outbound of key `uuid` towards `host` (tag `proxy`).
pub fn vless_outbound(uuid: &Uuid, host: &str, endpoint: &Endpoint) -> Value {
    let mut user = json!({"id": uuid.hyphenated().to_string(), "encryption": "none", "level": 0});
    if !endpoint.flow.is_empty() {
        user["flow"] = json!(endpoint.flow);
    }
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let mut stream = json!({"network": endpoint.network, "security": endpoint.security_name()});
    if let Security::Reality(r) = &endpoint.security {
        stream["realitySettings"] = json!({
            "serverName": r.server_name,
            "fingerprint": r.fingerprint,
            "publicKey": r.public_key,
            "shortId": r.short_id,
            "spiderX": r.spider_x,
        });
    }
    json!({
        "tag": "proxy",
        "protocol": "vless",
        "settings": {"vnext": [{"address": bare_host, "port": endpoint.port, "users": [user]}]},
        "streamSettings": stream,
    })
}

/// The whole client config of key `uuid`.
pub fn client_config(uuid: &Uuid, host: &str, endpoint: &Endpoint, ports: LocalPorts) -> Value {
    json!({
        "log": {"loglevel": "warning"},
        "inbounds": [
            {
                "tag": "socks-in",
                "listen": "127.0.0.1",
                "port": ports.socks,
                "protocol": "socks",
                "settings": {"auth": "noauth", "udp": true},
                "sniffing": {"enabled": true, "destOverride": ["http", "tls"]}
            },
            {
                "tag": "http-in",
                "listen": "127.0.0.1",
                "port": ports.http,
                "protocol": "http",
                "settings": {},
                "sniffing": {"enabled": true, "destOverride": ["http", "tls"]}
            }
        ],
        "outbounds": [
            vless_outbound(uuid, host, endpoint),
            {"tag": "direct", "protocol": "freedom", "settings": {}},
            {"tag": "block", "protocol": "blackhole", "settings": {}}
        ],
        "routing": {
            "domainStrategy": "AsIs",
            "rules": [
                {"type": "field", "domain": ["localhost"], "outboundTag": "direct"},
                {"type": "field", "ip": PRIVATE_RANGES, "outboundTag": "direct"}
            ]
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::reality::RealityClient;

    fn reality() -> Endpoint {
        Endpoint {
            port: 443,
            network: "tcp".into(),
            flow: "xtls-rprx-vision".into(),
            security: Security::Reality(RealityClient {
                server_name: "www.example.com".into(),
                public_key: "PUB".into(),
                short_id: "ab".into(),
                fingerprint: "chrome".into(),
                spider_x: "/".into(),
            }),
        }
    }

    #[test]
    fn reality_config_carries_every_client_setting() {
        let uuid = Uuid::from_u128(5);
        let c = client_config(&uuid, "2001:db8::1", &reality(), LocalPorts::default());
        let out = &c["outbounds"][0];
        assert_eq!(out["protocol"], "vless");
        let vnext = &out["settings"]["vnext"][0];
        assert_eq!(vnext["address"], "2001:db8::1");
        assert_eq!(vnext["port"], 443);
        let user = &vnext["users"][0];
        assert_eq!(user["id"], uuid.to_string());
        assert_eq!(user["encryption"], "none");
        assert_eq!(user["flow"], "xtls-rprx-vision");
        let s = &out["streamSettings"];
        assert_eq!(
            (s["network"].as_str(), s["security"].as_str()),
            (Some("tcp"), Some("reality"))
        );
        let r = &s["realitySettings"];
        assert_eq!(r["serverName"], "www.example.com");
        assert_eq!(r["fingerprint"], "chrome");
        assert_eq!(r["publicKey"], "PUB");
        assert_eq!(r["shortId"], "ab");
        assert_eq!(r["spiderX"], "/");
        assert!(r.get("serverNames").is_none() && r.get("shortIds").is_none());
        for inbound in c["inbounds"].as_array().unwrap() {
            assert_eq!(inbound["listen"], "127.0.0.1");
        }
        assert_eq!(c["inbounds"][0]["port"], DEFAULT_SOCKS_PORT);
        assert_eq!(c["inbounds"][1]["port"], DEFAULT_HTTP_PORT);
        let text = c.to_string();
        assert!(
            !text.contains("geoip") && !text.contains("geosite"),
            "{text}"
        );
    }

    #[test]
    fn plain_config_has_no_reality_and_no_flow() {
        let e = Endpoint {
            port: 8443,
            network: "tcp".into(),
            flow: String::new(),
            security: Security::None,
        };
        let c = client_config(
            &Uuid::from_u128(1),
            "127.0.0.1",
            &e,
            LocalPorts { socks: 1, http: 2 },
        );
        let out = &c["outbounds"][0];
        assert!(
            out["settings"]["vnext"][0]["users"][0]
                .get("flow")
                .is_none()
        );
        assert_eq!(out["streamSettings"]["security"], "none");
        assert!(out["streamSettings"].get("realitySettings").is_none());
        assert_eq!(c["inbounds"][0]["port"], 1);
        assert_eq!(c["inbounds"][1]["port"], 2);
    }
}
