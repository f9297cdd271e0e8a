//! Tests of the config document: errors name the file and the tag, the client list is
//! replaced in place, everything else (order, unknown fields) is kept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use serde_json::json;
use veil_shared::coreconfig::InboundClient as FileClient;

const P: &str = "/etc/xray/config.json";

fn doc(v: Value) -> Document {
    parse(Path::new(P), &serde_json::to_vec(&v).unwrap()).unwrap()
}

fn vless(settings: Value) -> Value {
    json!({"inbounds": [
        {"tag": "api-in", "protocol": "dokodemo-door", "port": 10085},
        {"tag": "vless-in", "protocol": "vless", "port": 443, "listen": "0.0.0.0",
         "settings": settings,
         "streamSettings": {"network": "raw", "security": "REALITY",
                            "realitySettings": {"serverNames": ["a.example"]}}}
    ]})
}

fn load(v: Value) -> Result<ManagedInbound, CoreFileError> {
    managed_inbound(&doc(v), Path::new(P), "vless-in")
}

#[test]
fn users_alias() {
    let v = vless(json!({"users": [{"id": "u", "email": "a"}], "decryption": "none"}));
    let mut d = doc(v);
    let m = managed_inbound(&d, Path::new(P), "vless-in").unwrap();
    assert_eq!(m.clients.len(), 1);
    set_clients(&mut d, Path::new(P), "vless-in", vec![json!({"id": "n"})]).unwrap();
    let s = &d.root["inbounds"][1]["settings"];
    assert_eq!(s["users"], json!([{"id": "n"}]));
    assert!(s.get("clients").is_none());
    // Both present: "clients" is the one the core reads.
    let v = vless(json!({"users": [{"id": "old"}], "clients": [{"id": "u"}]}));
    assert_eq!(load(v).unwrap().clients[0].id, "u");
}

#[test]
fn errors_name_path_and_tag() {
    let e = load(json!({"inbounds": [{"tag": "other", "protocol": "vmess"}]})).unwrap_err();
    assert!(matches!(e, CoreFileError::InboundNotFound { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains(P) && msg.contains("\"vless-in\"") && msg.contains("\"other\""),
        "{msg}"
    );

    let e = load(json!({"inbounds": [{"tag": "vless-in", "protocol": "vmess"}]})).unwrap_err();
    assert!(matches!(e, CoreFileError::NotVless { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains(P) && msg.contains("vless-in") && msg.contains("vmess"),
        "{msg}"
    );

    let e = load(json!({"inbounds": [
        {"tag": "vless-in", "protocol": "vless"}, {"tag": "vless-in", "protocol": "vless"}
    ]}))
    .unwrap_err();
    assert!(
        matches!(e, CoreFileError::DuplicateTag { count: 2, .. }),
        "{e}"
    );

    let e = load(json!({"outbounds": []})).unwrap_err();
    assert!(matches!(e, CoreFileError::BadStructure { .. }));
    assert!(e.to_string().contains("no \"inbounds\" array"), "{e}");
    let e = load(json!({"inbounds": {}})).unwrap_err();
    assert!(
        e.to_string().contains("\"inbounds\" must be an array"),
        "{e}"
    );

    let e = load(vless(json!({"clients": [{"id": "u"}, {"email": "x"}]}))).unwrap_err();
    assert!(
        matches!(e, CoreFileError::BadClient { index: 1, .. }),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("settings.clients[1]") && msg.contains("vless-in"),
        "{msg}"
    );

    let e = load(vless(json!({"clients": {}}))).unwrap_err();
    assert!(matches!(e, CoreFileError::BadInbound { .. }), "{e}");
    let e = load(vless(json!("x"))).unwrap_err();
    assert!(
        e.to_string().contains("\"settings\" must be an object"),
        "{e}"
    );

    let e = parse(Path::new(P), b"{\"inbounds\": [").unwrap_err();
    assert!(matches!(e, CoreFileError::NotJson { .. }));
    assert!(
        e.to_string().contains(P) && e.to_string().contains("line 1"),
        "{e}"
    );
    let e = parse(Path::new(P), b"[1]").unwrap_err();
    assert!(matches!(e, CoreFileError::BadStructure { .. }), "{e}");
}

#[test]
fn preserves_order_and_unknown_fields() {
    let text = r#"{
  "routing": {"rules": [], "domainStrategy": "AsIs"},
  "log": {"loglevel": "warning", "access": "none"},
  "inbounds": [
{"tag": "vless-in", "protocol": "vless", "port": 443,
 "settings": {"decryption": "none", "clients": [{"id": "old"}], "zzz-unknown": [1, 2.5, null]},
 "sniffing": {"enabled": true}}
  ],
  "outbounds": [{"protocol": "freedom", "tag": "direct"}],
  "x-operator-note": {"b": 1, "a": 2}
}"#;
    let mut d = parse(Path::new(P), text.as_bytes()).unwrap();
    let new = FileClient {
        id: "n".into(),
        email: "e".into(),
        level: 0,
        flow: String::new(),
    };
    set_clients(&mut d, Path::new(P), "vless-in", vec![new.to_json()]).unwrap();
    let out = String::from_utf8(render(&d.root).unwrap()).unwrap();
    let keys: Vec<&str> = d
        .root
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["routing", "log", "inbounds", "outbounds", "x-operator-note"]
    );
    // Key order inside nested objects too, in the rendered text.
    let pos = |s: &str| {
        out.find(s)
            .unwrap_or_else(|| panic!("{s} missing in {out}"))
    };
    assert!(pos("\"rules\"") < pos("\"domainStrategy\""));
    assert!(
        pos("\"decryption\"") < pos("\"clients\"") && pos("\"clients\"") < pos("\"zzz-unknown\"")
    );
    assert!(pos("\"b\": 1") < pos("\"a\": 2"));
    assert!(out.contains("\"sniffing\""));
    assert!(out.ends_with("}\n") && !out.ends_with("\n\n"));
    assert!(
        out.contains("\n  \"log\": {\n    \"loglevel\""),
        "2-space indent:\n{out}"
    );
    assert!(!out.contains("\"flow\""));
    assert!(!out.contains("\"old\""));
    // Everything but the client list is unchanged.
    let mut before: Value = serde_json::from_str(text).unwrap();
    let mut after: Value = serde_json::from_str(&out).unwrap();
    before["inbounds"][0]["settings"]["clients"] = Value::Null;
    after["inbounds"][0]["settings"]["clients"] = Value::Null;
    assert_eq!(before, after);
    // Rendering is stable: parse + render again gives the same bytes.
    let again = render(&parse(Path::new(P), out.as_bytes()).unwrap().root).unwrap();
    assert_eq!(again, out.as_bytes());
}

#[test]
fn set_clients_creates_settings() {
    let mut v = vless(json!(null));
    v["inbounds"][1].as_object_mut().unwrap().remove("settings");
    let mut d = doc(v);
    set_clients(&mut d, Path::new(P), "vless-in", vec![json!({"id": "n"})]).unwrap();
    assert_eq!(
        d.root["inbounds"][1]["settings"],
        json!({"clients": [{"id": "n"}]})
    );
    let mut d = doc(vless(json!({"clients": 5})));
    let e = set_clients(&mut d, Path::new(P), "vless-in", vec![]).unwrap_err();
    assert!(matches!(e, CoreFileError::BadInbound { .. }), "{e}");
}

#[test]
fn comments_are_noticed() {
    let ok = "/* c */ {\"inbounds\": [] // trailing\n}";
    let d = parse(Path::new(P), ok.as_bytes()).unwrap();
    assert!(d.had_comments);
    assert_eq!(d.root, json!({"inbounds": []}));
    assert!(!parse(Path::new(P), b"{}").unwrap().had_comments);
}
