//! Tests of the managed inbound's reader.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use serde_json::json;

const VISION: &str = "xtls-rprx-vision";

fn vless(settings: Value) -> Value {
    json!({"inbounds": [
        {"tag": "api-in", "protocol": "dokodemo-door", "port": 10085},
        {"tag": "vless-in", "protocol": "vless", "port": 443, "listen": "0.0.0.0",
         "settings": settings,
         "streamSettings": {"network": "raw", "security": "REALITY",
                            "realitySettings": {"serverNames": ["a.example"]}}}
    ]})
}

fn load(v: Value) -> Result<ManagedInbound, InboundError> {
    ManagedInbound::read(&v, "vless-in")
}

#[test]
fn reads_the_inbound() {
    let m = load(vless(json!({"clients": [
        {"id": "u1", "email": "a@x", "flow": VISION, "level": 1, "extra": true},
        {"id": "u2", "email": "b@x"}
    ], "decryption": "none"})))
    .unwrap();
    assert_eq!(m.tag, "vless-in");
    assert_eq!(m.protocol, "vless");
    assert_eq!(m.port, Some(443));
    assert_eq!(m.listen.as_deref(), Some("0.0.0.0"));
    assert_eq!(m.decryption.as_deref(), Some("none"));
    assert_eq!(m.stream.network.as_deref(), Some("tcp"));
    assert_eq!(m.stream.security.as_deref(), Some("reality"));
    assert_eq!(
        m.stream.reality.as_ref().unwrap().server_names,
        ["a.example"]
    );
    assert_eq!(m.clients.len(), 2);
    assert_eq!(m.clients[0].level, 1);
    assert_eq!(m.clients[1].email, "b@x");
    assert_eq!(m.raw_clients[0]["extra"], true);
    let kept = m.unmanaged(|c| c.email == "b@x");
    assert_eq!(kept, vec![m.raw_clients[0].clone()]);
}

#[test]
fn ports_and_missing_parts() {
    let mut v = vless(json!({"decryption": "none"}));
    v["inbounds"][1]["port"] = json!("8443");
    v["inbounds"][1]
        .as_object_mut()
        .unwrap()
        .remove("streamSettings");
    let m = load(v.clone()).unwrap();
    assert_eq!(m.port, Some(8443));
    assert!(m.clients.is_empty());
    assert_eq!(m.stream, StreamSettings::default());
    v["inbounds"][1]["port"] = json!("1000-2000");
    assert_eq!(load(v.clone()).unwrap().port, None);
    v["inbounds"][1]["port"] = json!(70000);
    assert_eq!(load(v.clone()).unwrap().port, None);
    v["inbounds"][1].as_object_mut().unwrap().remove("settings");
    let m = load(v).unwrap();
    assert!(m.clients.is_empty() && m.decryption.is_none());
}

#[test]
fn flow_detection() {
    let c = |flow: &str| json!({"id": "u", "flow": flow});
    let flow = |settings: Value| load(vless(settings)).unwrap().flow;
    // Settings-level flow wins.
    assert_eq!(flow(json!({"flow": VISION, "clients": [c("")]})), VISION);
    // "none" at settings level means no flow; then the clients decide.
    assert_eq!(
        flow(json!({"flow": "none", "clients": [c(VISION)]})),
        VISION
    );
    // The majority of clients.
    assert_eq!(
        flow(json!({"clients": [c(""), c(VISION), c(VISION)]})),
        VISION
    );
    assert_eq!(flow(json!({"clients": [c(""), c(""), c(VISION)]})), "");
    // A client's "none" is no flow too.
    assert_eq!(flow(json!({"clients": [c("none"), c(""), c(VISION)]})), "");
    // A tie goes to the first seen.
    assert_eq!(flow(json!({"clients": [c(VISION), c("")]})), VISION);
    assert_eq!(flow(json!({"clients": [c(""), c(VISION)]})), "");
    // Nothing at all.
    assert_eq!(flow(json!({"clients": []})), "");
}

#[test]
fn flows_per_flavor_and_client() {
    let m = load(vless(json!({"flow": VISION, "clients": [
        {"id": "a"}, {"id": "b", "flow": "none"}, {"id": "c", "flow": "other"}
    ]})))
    .unwrap();
    assert_eq!(m.key_flow(Flavor::Xray), VISION);
    assert_eq!(m.key_flow(Flavor::V2fly), "");
    let flows: Vec<&str> = m.clients.iter().map(|c| m.client_flow(c)).collect();
    assert_eq!(flows, [VISION, VISION, "other"]);
}

#[test]
fn users_alias() {
    let v = vless(json!({"users": [{"id": "u", "email": "a"}], "decryption": "none"}));
    assert_eq!(load(v).unwrap().clients.len(), 1);
    // Both present: "clients" is the one the core reads.
    let v = vless(json!({"users": [{"id": "old"}], "clients": [{"id": "u"}]}));
    assert_eq!(load(v).unwrap().clients[0].id, "u");
    let only_users = json!({"users": []});
    assert_eq!(clients_key(only_users.as_object().unwrap()), "users");
    let null_clients = json!({"clients": null, "users": []});
    assert_eq!(clients_key(null_clients.as_object().unwrap()), "users");
}

#[test]
fn errors_say_what_is_wrong() {
    let e = load(json!({"inbounds": [{"tag": "other", "protocol": "vmess"}]})).unwrap_err();
    assert_eq!(
        e,
        InboundError::NotFound {
            tag: "vless-in".into(),
            available: vec!["other".into()]
        }
    );
    assert!(e.to_string().contains("\"other\""), "{e}");
    let e = load(json!({"inbounds": []})).unwrap_err();
    assert!(e.to_string().contains("tags present: none"), "{e}");

    let e = load(json!({"inbounds": [{"tag": "vless-in", "protocol": "vmess"}]})).unwrap_err();
    assert!(matches!(e, InboundError::NotVless { ref protocol, .. } if protocol == "vmess"));
    let e = load(json!({"inbounds": [{"tag": "vless-in"}]})).unwrap_err();
    assert!(matches!(e, InboundError::NotVless { ref protocol, .. } if protocol == "(none)"));

    let e = load(json!({"inbounds": [
        {"tag": "vless-in", "protocol": "vless"}, {"tag": "vless-in", "protocol": "vless"}
    ]}))
    .unwrap_err();
    assert!(matches!(e, InboundError::Duplicate { count: 2, .. }), "{e}");

    assert_eq!(
        load(json!({"outbounds": []})).unwrap_err(),
        InboundError::NoInbounds
    );
    assert_eq!(
        load(json!({"inbounds": {}})).unwrap_err(),
        InboundError::InboundsNotArray("an object")
    );

    let e = load(vless(json!({"clients": [{"id": "u"}, {"email": "x"}]}))).unwrap_err();
    assert!(matches!(e, InboundError::BadClient { index: 1, .. }), "{e}");
    assert!(e.to_string().contains("settings.clients[1]"), "{e}");

    for (settings, needle) in [
        (
            json!({"clients": {}}),
            "\"settings.clients\" must be an array",
        ),
        (json!("x"), "\"settings\" must be an object"),
        (json!({"flow": 1}), "\"settings.flow\" must be a string"),
    ] {
        let e = load(vless(settings)).unwrap_err();
        assert!(matches!(e, InboundError::BadSettings { .. }), "{e}");
        assert!(e.to_string().contains(needle), "{e}");
    }
}

#[test]
fn protocol_is_case_insensitive() {
    let mut v = vless(json!({"clients": []}));
    v["inbounds"][1]["protocol"] = json!("VLESS");
    assert_eq!(load(v).unwrap().protocol, "VLESS");
}
