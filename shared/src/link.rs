//! `vless://` share links, encoded so that every client parser reads them the same way.
//!
//! Shape (Xray-core issue #91, the form v2rayN, v2rayNG, Hiddify, NekoBox and 3x-ui share):
//!
//! ```text
//! vless://UUID@HOST:PORT?encryption=none&flow=…&security=reality&sni=…&fp=chrome&pbk=…&sid=…&spx=%2F&type=tcp&headerType=none#NAME
//! ```
//!
//! The parsers disagree on `+` (a space for Go's and OkHttp's query readers, a plus for
//! v2rayNG and v2rayN) and break on a raw `=` or `&` inside a value, so every value and the
//! name are escaped like JavaScript's `encodeURIComponent`: only `A–Z a–z 0–9 - _ . ! ~ * ' ( )`
//! stay as they are; space is `%20`, `+` is `%2B`, `=` is `%3D`, `&` is `%26`, `#` is `%23`,
//! `%` is `%25`, and any other character is its UTF-8 bytes as `%XX`. There is always a
//! query (v2rayNG refuses a link without one), keys are the exact camelCase names the
//! parsers look up, and `type` is `tcp` (Hiddify refuses `raw`).

use std::net::Ipv6Addr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use uuid::Uuid;

use crate::reality::{Endpoint, Security};

/// What `encodeURIComponent` escapes: everything but `A–Z a–z 0–9 - _ . ! ~ * ' ( )`.
pub const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Escapes a query value or the name like `encodeURIComponent`.
pub fn encode_component(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// The host as it goes in a URL: an IPv6 address in brackets, anything else as it is
/// (`veild.toml` only admits DNS names in ASCII, punycode for IDN, and IP addresses).
pub fn url_host(host: &str) -> String {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<Ipv6Addr>().is_ok() {
        format!("[{bare}]")
    } else {
        host.to_owned()
    }
}

/// Checks a host clients can dial: a DNS name in ASCII (letters, digits, hyphens, dots;
/// IDN in punycode) or an IP address, without scheme, port or path.
pub fn check_host(host: &str) -> Result<(), &'static str> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    if host.is_empty() || host.len() > 253 {
        return Err("must be a DNS name or an IP address");
    }
    if host.contains("://") || host.contains(':') || host.contains('/') {
        return Err("must be a bare host: no scheme, port or path");
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if host.trim_end_matches('.').split('.').all(label_ok) {
        Ok(())
    } else {
        Err("must be a DNS name (letters, digits, hyphens; IDN in punycode xn--…) or an IP address")
    }
}

/// The query pairs of a key's link, in the order they are written.
pub fn query_pairs(endpoint: &Endpoint) -> Vec<(&'static str, String)> {
    let mut pairs = vec![("encryption", "none".to_owned())];
    if !endpoint.flow.is_empty() {
        pairs.push(("flow", endpoint.flow.clone()));
    }
    pairs.push(("security", endpoint.security_name().to_owned()));
    if let Security::Reality(r) = &endpoint.security {
        pairs.push(("sni", r.server_name.clone()));
        pairs.push(("fp", r.fingerprint.clone()));
        pairs.push(("pbk", r.public_key.clone()));
        pairs.push(("sid", r.short_id.clone()));
        pairs.push(("spx", r.spider_x.clone()));
    }
    pairs.push(("type", endpoint.network.clone()));
    pairs.push(("headerType", "none".to_owned()));
    pairs
}

/// The share link of the key `uuid` named `name`, dialling `host`.
pub fn vless_link(uuid: &Uuid, host: &str, endpoint: &Endpoint, name: &str) -> String {
    let query = query_pairs(endpoint)
        .iter()
        .map(|(key, value)| format!("{key}={}", encode_component(value)))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "vless://{}@{}:{}?{query}#{}",
        uuid.hyphenated(),
        url_host(host),
        endpoint.port,
        encode_component(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reality::RealityClient;

    #[test]
    fn components_escape_like_encode_uri_component() {
        assert_eq!(
            encode_component("a b+c=d&e#f%g/h?i"),
            "a%20b%2Bc%3Dd%26e%23f%25g%2Fh%3Fi"
        );
        assert_eq!(encode_component("-_.!~*'()"), "-_.!~*'()");
        assert_eq!(encode_component("Ж"), "%D0%96");
        assert_eq!(encode_component("🦊"), "%F0%9F%A6%8A");
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        assert_eq!(url_host("2001:db8::1"), "[2001:db8::1]");
        assert_eq!(url_host("[2001:db8::1]"), "[2001:db8::1]");
        assert_eq!(url_host("203.0.113.7"), "203.0.113.7");
        assert_eq!(url_host("vpn.example.com"), "vpn.example.com");
    }

    #[test]
    fn hosts_clients_can_dial() {
        for ok in [
            "vpn.example.com",
            "xn--80ak6aa92e.com",
            "203.0.113.7",
            "2001:db8::1",
            "a.",
        ] {
            assert_eq!(check_host(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "https://vpn.example.com",
            "vpn.example.com:443",
            "a/b",
            "-a.com",
            "пример.рф",
            "a..b",
        ] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn canonical_reality_link() {
        let endpoint = Endpoint {
            port: 443,
            network: "tcp".into(),
            flow: "xtls-rprx-vision".into(),
            security: Security::Reality(RealityClient {
                server_name: "www.example.com".into(),
                public_key: "PUB".into(),
                short_id: "0123".into(),
                fingerprint: "chrome".into(),
                spider_x: "/".into(),
            }),
        };
        let uuid = Uuid::from_u128(0x6f1c1f4e_8a5e_4d43_9a57_1b0a4b3c2d1e);
        assert_eq!(
            vless_link(&uuid, "vpn.example.com", &endpoint, "My Server"),
            "vless://6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d1e@vpn.example.com:443?encryption=none\
             &flow=xtls-rprx-vision&security=reality&sni=www.example.com&fp=chrome&pbk=PUB\
             &sid=0123&spx=%2F&type=tcp&headerType=none#My%20Server"
        );
    }

    #[test]
    fn plain_link_has_a_query_and_no_flow() {
        let endpoint = Endpoint {
            port: 8443,
            network: "tcp".into(),
            flow: String::new(),
            security: Security::None,
        };
        let uuid = Uuid::from_u128(1);
        assert_eq!(
            vless_link(&uuid, "::1", &endpoint, "a"),
            "vless://00000000-0000-0000-0000-000000000001@[::1]:8443?encryption=none\
             &security=none&type=tcp&headerType=none#a"
        );
    }
}
