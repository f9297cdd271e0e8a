#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use uuid::Uuid;

use super::headers::{self, HeaderSettings};
use super::render;
use super::*;
use crate::reality::RealityClient;

const HOSTILE: &str = "Ж \"q\" 'a' <b>&\r\nx-evil: 1 # % + : - [c] {d} 🦊";

fn reality() -> Endpoint {
    Endpoint {
        port: 443,
        network: "tcp".into(),
        flow: "xtls-rprx-vision".into(),
        security: Security::Reality(RealityClient {
            server_name: "www.example.com".into(),
            public_key: "SGVsbG8tV29ybGQtdGhpcy1pcy1hLXB1YmxpYy1rZXk".into(),
            short_id: "0123".into(),
            fingerprint: "chrome".into(),
            spider_x: "/".into(),
        }),
    }
}

fn key(name: &str) -> SubKey {
    SubKey {
        name: name.into(),
        uuid: Uuid::from_u128(0x6f1c1f4e_8a5e_4d43_9a57_1b0a4b3c2d1e),
        state: KeyState::Active,
        disable_reason: None,
        upload: 1000,
        download: 2_000_000,
        data_limit: Some(10_000_000_000),
        expires_at: Some(1_900_000_000),
    }
}

fn servers() -> Vec<Server> {
    vec![Server {
        host: "vpn.example.com".into(),
        endpoint: reality(),
        label: None,
    }]
}

#[test]
fn base64_decodes_to_links_that_round_trip_the_name() {
    for name in ["alice", HOSTILE, "a b+c=d&e#f%g"] {
        let e = entries(&key(name), &servers(), 0);
        let body = render::base64_links(&e);
        let text = String::from_utf8(STANDARD.decode(body).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1);
        let url = url::Url::parse(lines[0]).unwrap();
        assert_eq!(url.scheme(), "vless");
        assert_eq!(url.host_str(), Some("vpn.example.com"));
        assert_eq!(url.port(), Some(443));
        assert_eq!(url.username(), key(name).uuid.to_string());
        let fragment = percent_encoding::percent_decode_str(url.fragment().unwrap())
            .decode_utf8()
            .unwrap();
        assert_eq!(fragment, name);
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["security"], "reality");
        assert_eq!(q["pbk"], "SGVsbG8tV29ybGQtdGhpcy1pcy1hLXB1YmxpYy1rZXk");
        assert_eq!(q["sid"], "0123");
        assert_eq!(q["flow"], "xtls-rprx-vision");
    }
}

#[test]
fn several_servers_get_unique_names() {
    let mut two = servers();
    two.push(two[0].clone());
    let e = entries(&key("k"), &two, 0);
    assert_eq!(e.len(), 2);
    assert_ne!(e[0].name, e[1].name);
}

#[test]
fn inactive_keys_get_a_placeholder_that_says_why() {
    let mut k = key("alice");
    k.state = KeyState::Disabled;
    k.disable_reason = Some(DisableReason::Limited);
    let e = entries(&k, &servers(), 0);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].name, "⛔ disabled: over data limit");
    assert_eq!(e[0].uuid, Uuid::nil());
    assert_eq!((e[0].host.as_str(), e[0].endpoint.port), ("0.0.0.0", 1));
    k.disable_reason = Some(DisableReason::Manual);
    assert_eq!(entries(&k, &servers(), 0)[0].name, "⛔ disabled");
    let mut k = key("bob");
    k.expires_at = Some(10);
    assert_eq!(entries(&k, &servers(), 10)[0].name, "⛔ disabled: expired");
    assert_eq!(entries(&k, &servers(), 9)[0].name, "bob");
    let link = render::links(&entries(&k, &servers(), 11));
    assert!(
        link.starts_with("vless://00000000-0000-0000-0000-000000000000@0.0.0.0:1?"),
        "{link}"
    );
}

#[test]
fn sing_box_has_the_reality_fields() {
    let e = entries(&key(HOSTILE), &servers(), 0);
    let text = render::body(
        Format::from_user_agent("SFI (sing-box 1.12.3; language en)"),
        &e,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let out = v["outbounds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["type"] == "vless")
        .unwrap();
    assert_eq!(out["tag"], HOSTILE);
    assert_eq!(out["server"], "vpn.example.com");
    assert_eq!(out["server_port"], 443);
    assert_eq!(out["flow"], "xtls-rprx-vision");
    let tls = &out["tls"];
    assert_eq!(tls["enabled"], true);
    assert_eq!(tls["server_name"], "www.example.com");
    assert_eq!(tls["utls"]["enabled"], true);
    assert_eq!(tls["utls"]["fingerprint"], "chrome");
    assert_eq!(tls["reality"]["enabled"], true);
    assert_eq!(
        tls["reality"]["public_key"],
        "SGVsbG8tV29ybGQtdGhpcy1pcy1hLXB1YmxpYy1rZXk"
    );
    assert_eq!(tls["reality"]["short_id"], "0123");
    assert_eq!(v["dns"]["servers"][0]["type"], "https");
    assert_eq!(v["route"]["default_domain_resolver"], "local");
    assert_eq!(v["inbounds"][0]["strict_route"], true);
}

#[test]
fn sing_box_shape_follows_the_version() {
    let e = entries(&key("k"), &servers(), 0);
    let v = |ua: &str| -> serde_json::Value {
        serde_json::from_str(&render::body(Format::from_user_agent(ua), &e).unwrap()).unwrap()
    };
    let sfa = v("SFA/1.11.9 (589; sing-box 1.11.9; language en_US)");
    assert!(sfa["dns"]["servers"][0].get("type").is_none());
    assert_eq!(sfa["route"]["rules"][0]["action"], "sniff");
    assert!(sfa["inbounds"][0].get("strict_route").is_none());
    assert!(sfa["route"].get("default_domain_resolver").is_none());
    let old = v("SFI (sing-box 1.9.7; language en)");
    assert_eq!(old["inbounds"][0]["inet4_address"], "172.19.0.1/30");
    assert_eq!(old["inbounds"][0]["sniff"], true);
    assert_eq!(old["route"]["rules"][0]["outbound"], "dns-out");
    let ten = v("SFM/1.10.1 (1; sing-box 1.10.1; language en)");
    assert!(ten["inbounds"][0]["address"].is_array());
    assert_eq!(
        SingBoxVersion::from_user_agent("sing-box 1.13.0"),
        Some(SingBoxVersion {
            major: 1,
            minor: 13
        })
    );
}

#[test]
fn mihomo_yaml_parses_with_the_reality_fields() {
    for name in [HOSTILE, "0123", "true", "- a", "null", "proxy: x"] {
        let e = entries(&key(name), &servers(), 0);
        let text = render::body(Format::from_user_agent("clash-verge/v2.2.3"), &e).unwrap();
        let v: serde_json::Value = serde_norway::from_str(&text).unwrap();
        let p = &v["proxies"][0];
        assert_eq!(p["name"], name, "{text}");
        assert_eq!(p["type"], "vless");
        assert_eq!(p["server"], "vpn.example.com");
        assert_eq!(p["port"], 443);
        assert_eq!(p["tls"], true);
        assert_eq!(p["flow"], "xtls-rprx-vision");
        assert_eq!(p["servername"], "www.example.com");
        assert_eq!(p["client-fingerprint"], "chrome");
        assert_eq!(
            p["reality-opts"]["public-key"],
            "SGVsbG8tV29ybGQtdGhpcy1pcy1hLXB1YmxpYy1rZXk"
        );
        assert_eq!(p["reality-opts"]["short-id"], "0123");
        assert_eq!(v["proxy-groups"][0]["proxies"][0], name);
        assert_eq!(
            v["rules"].as_array().unwrap().last().unwrap(),
            "MATCH,PROXY"
        );
    }
}

#[test]
fn xray_is_an_array_of_named_configs() {
    let e = entries(&key("k"), &servers(), 0);
    let v: serde_json::Value =
        serde_json::from_str(&render::body(Format::Xray, &e).unwrap()).unwrap();
    let first = &v.as_array().unwrap()[0];
    assert_eq!(first["remarks"], "k");
    assert!(first["inbounds"].is_array() && first["routing"].is_object());
    assert_eq!(
        first["outbounds"][0]["streamSettings"]["realitySettings"]["shortId"],
        "0123"
    );
}

#[test]
fn formats_by_user_agent_and_query() {
    let sing = |f: Format| matches!(f, Format::SingBox { .. });
    for ua in [
        "mihomo/1.19",
        "clash-verge/v2.0.0",
        "FlClash/v0.8 clash-verge Platform/android",
        "ClashMetaForAndroid/2.11",
        "NekoBox/Android/1.3 (Prefer ClashMeta Format)",
    ] {
        assert_eq!(Format::from_user_agent(ua), Format::Mihomo, "{ua}");
    }
    for ua in [
        "SFA/1.11.9 (589; sing-box 1.11.9; language en_US)",
        "SFI (sing-box 1.12.0; language en)",
        "Karing/1.1",
        "HiddifyNext/2.5.7 (android) like ClashMeta v2ray sing-box",
        "sing-box 1.12.0",
    ] {
        assert!(sing(Format::from_user_agent(ua)), "{ua}");
    }
    for ua in [
        "v2rayNG/1.9.1",
        "v2rayN/7.0",
        "Happ/1.63.1",
        "Streisand",
        "",
        "curl/8",
    ] {
        assert_eq!(Format::from_user_agent(ua), Format::Base64, "{ua}");
    }
    assert_eq!(Format::from_query("XRAY", ""), Some(Format::Xray));
    assert_eq!(Format::from_query("clash", ""), Some(Format::Mihomo));
    assert_eq!(Format::from_query("links", ""), Some(Format::Links));
    assert!(sing(Format::from_query("singbox", "").unwrap()));
    assert_eq!(Format::from_query("nope", ""), None);
}

#[test]
fn headers_exactly_as_specified() {
    let settings = HeaderSettings {
        update_hours: 12,
        support_url: Some("https://t.me/support".into()),
        web_page_url: Some("https://evil\r\n.example".into()),
    };
    let h = headers::headers(&key("alice"), Format::Base64, &settings);
    let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
    assert_eq!(
        get("subscription-userinfo"),
        Some("upload=1000; download=2000000; total=10000000000; expire=1900000000")
    );
    assert_eq!(get("profile-title"), Some("alice"));
    assert_eq!(get("profile-update-interval"), Some("12"));
    assert_eq!(
        get("content-disposition"),
        Some("attachment; filename=\"alice.txt\"")
    );
    assert_eq!(get("support-url"), Some("https://t.me/support"));
    assert_eq!(get("profile-web-page-url"), None);

    let mut unlimited = key("Ключ 1");
    unlimited.data_limit = None;
    unlimited.expires_at = None;
    let h = headers::headers(&unlimited, Format::Mihomo, &HeaderSettings::default());
    let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
    assert_eq!(
        get("subscription-userinfo"),
        Some("upload=1000; download=2000000; total=0; expire=0")
    );
    assert_eq!(
        get("profile-title"),
        Some(format!("base64:{}", STANDARD.encode("Ключ 1")).as_str())
    );
    assert_eq!(get("profile-update-interval"), Some("1"));
    assert_eq!(
        get("content-disposition"),
        Some(
            "attachment; filename=\"1.yaml\"; \
             filename*=UTF-8''%D0%9A%D0%BB%D1%8E%D1%87%201.yaml"
        )
    );

    let h = headers::headers(&key(HOSTILE), Format::Xray, &HeaderSettings::default());
    for (name, value) in &h {
        assert!(
            value.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "{name}: {value:?}"
        );
    }
}
