//! The config file as a JSON document: parsing (with the comments the cores accept),
//! finding the managed inbound, reading it, replacing its client list and rendering.
//! Pure functions over bytes and values, so every rule here is unit-tested without I/O.
//!
//! Objects keep their key order (serde_json `preserve_order`), so a rendered document
//! lists everything in the operator's order.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::client::{FileClient, json_type};
use super::error::CoreFileError;

/// The managed inbound as found in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedInbound {
    pub tag: String,
    /// As written (the cores compare it case-insensitively; this is always some case of "vless").
    pub protocol: String,
    /// `None` when absent or not a single port (a range or an env reference).
    pub port: Option<u16>,
    pub listen: Option<String>,
    /// The flow new clients should get: the settings-level `flow` if set (Xray applies it
    /// to clients without one), else the flow most existing clients use (first seen wins
    /// a tie), else `""`.
    pub flow: String,
    /// The client list as found, in file order (`clients`, or Xray's alias `users`).
    pub clients: Vec<FileClient>,
    /// The same entries as raw JSON, index for index with `clients`, for preserving the
    /// clients Veil does not own verbatim (unknown fields included).
    pub raw_clients: Vec<Value>,
    /// `streamSettings.network`, lower-cased, with Xray's `raw` reported as `tcp`. `None`
    /// when absent, which the cores read as `tcp`.
    pub network: Option<String>,
    /// `streamSettings.security`, lower-cased (`reality`, `tls`, `none`); `None` when absent.
    pub security: Option<String>,
    /// The whole `streamSettings` object, for callers that need more (REALITY keys,
    /// server names, short ids) to build share links.
    pub stream_settings: Option<Value>,
}

impl ManagedInbound {
    /// The raw entries of clients for which `is_managed` is false, in file order: what
    /// [`super::CoreFile::write_clients`] should get as `keep` to preserve them.
    pub fn unmanaged(&self, is_managed: impl Fn(&FileClient) -> bool) -> Vec<Value> {
        self.clients
            .iter()
            .zip(&self.raw_clients)
            .filter(|(c, _)| !is_managed(c))
            .map(|(_, raw)| raw.clone())
            .collect()
    }
}

/// A parsed config file.
#[derive(Debug, Clone)]
pub(super) struct Document {
    pub root: Value,
    /// The file had `//`, `/* */` or `#` comments, which a rewrite drops.
    pub had_comments: bool,
}

/// Parses the file's bytes. Comments as v2ray/Xray accept them are blanked first, and a
/// UTF-8 byte-order mark is skipped.
pub(super) fn parse(path: &Path, bytes: &[u8]) -> Result<Document, CoreFileError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let stripped = strip_comments(bytes);
    let had_comments = stripped.is_some();
    let text = stripped.as_deref().unwrap_or(bytes);
    let root: Value = serde_json::from_slice(text).map_err(|e| CoreFileError::NotJson {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    if !root.is_object() {
        return Err(CoreFileError::BadStructure {
            path: path.to_owned(),
            reason: format!(
                "the top level must be a JSON object, found {}",
                json_type(&root)
            ),
        });
    }
    Ok(Document { root, had_comments })
}

/// Renders a document as the file is written: pretty, 2-space indent, trailing newline.
pub(super) fn render(root: &Value) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = serde_json::to_vec_pretty(root)?;
    out.push(b'\n');
    Ok(out)
}

/// Reads the managed inbound. Every client entry must be usable (an object with a
/// non-empty string `id`, string `email`/`flow`, integer `level`).
pub(super) fn managed_inbound(
    doc: &Document,
    path: &Path,
    tag: &str,
) -> Result<ManagedInbound, CoreFileError> {
    let inbound = find_inbound(&doc.root, path, tag)?;
    let protocol = inbound
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let bad = |reason: String| CoreFileError::BadInbound {
        path: path.to_owned(),
        tag: tag.to_owned(),
        reason,
    };
    let settings = match inbound.get("settings") {
        None | Some(Value::Null) => None,
        Some(Value::Object(s)) => Some(s),
        Some(other) => {
            return Err(bad(format!(
                "\"settings\" must be an object, found {}",
                json_type(other)
            )));
        }
    };
    let raw_clients: Vec<Value> = match settings.and_then(|s| s.get(clients_key(s))) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.clone(),
        Some(other) => {
            return Err(bad(format!(
                "\"settings.clients\" must be an array, found {}",
                json_type(other)
            )));
        }
    };
    let clients = raw_clients
        .iter()
        .enumerate()
        .map(|(index, raw)| {
            FileClient::from_json(raw).map_err(|reason| CoreFileError::BadClient {
                path: path.to_owned(),
                tag: tag.to_owned(),
                index,
                reason,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let settings_flow = match settings.and_then(|s| s.get("flow")) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(f)) if f == "none" => String::new(),
        Some(Value::String(f)) => f.clone(),
        Some(other) => {
            return Err(bad(format!(
                "\"settings.flow\" must be a string, found {}",
                json_type(other)
            )));
        }
    };
    let flow = if settings_flow.is_empty() {
        common_flow(&clients)
    } else {
        settings_flow
    };

    let stream_settings = inbound
        .get("streamSettings")
        .filter(|v| v.is_object())
        .cloned();
    let stream_str = |key: &str| {
        stream_settings
            .as_ref()
            .and_then(|s| s.get(key))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    let network = stream_str("network").map(|n| if n == "raw" { "tcp".to_owned() } else { n });
    let security = stream_str("security");

    Ok(ManagedInbound {
        tag: tag.to_owned(),
        protocol,
        port: inbound.get("port").and_then(single_port),
        listen: inbound
            .get("listen")
            .and_then(Value::as_str)
            .map(str::to_owned),
        flow,
        clients,
        raw_clients,
        network,
        security,
        stream_settings,
    })
}

/// Replaces the managed inbound's client list (creating `settings` if absent). Xray's
/// `users` alias is written to when the file uses it instead of `clients`.
pub(super) fn set_clients(
    doc: &mut Document,
    path: &Path,
    tag: &str,
    clients: Vec<Value>,
) -> Result<(), CoreFileError> {
    find_inbound(&doc.root, path, tag)?;
    let bad = |reason: String| CoreFileError::BadInbound {
        path: path.to_owned(),
        tag: tag.to_owned(),
        reason,
    };
    let inbound = find_inbound_mut(&mut doc.root, tag)
        .ok_or_else(|| bad("inbound vanished while editing".to_owned()))?;
    let settings = inbound
        .entry("settings")
        .or_insert_with(|| Value::Object(Map::new()));
    if settings.is_null() {
        *settings = Value::Object(Map::new());
    }
    let Value::Object(settings) = settings else {
        return Err(bad(format!(
            "\"settings\" must be an object, found {}",
            json_type(settings)
        )));
    };
    let key = clients_key(settings);
    match settings.get_mut(key) {
        Some(slot) if slot.is_array() || slot.is_null() => *slot = Value::Array(clients),
        Some(other) => {
            return Err(bad(format!(
                "\"settings.{key}\" must be an array, found {}",
                json_type(other)
            )));
        }
        None => {
            settings.insert(key.to_owned(), Value::Array(clients));
        }
    }
    Ok(())
}

/// The key holding the client list: `clients` (which Xray prefers when both are set) unless
/// only the alias `users` is present.
fn clients_key(settings: &Map<String, Value>) -> &'static str {
    let present = |k: &str| settings.get(k).is_some_and(|v| !v.is_null());
    if !present("clients") && present("users") {
        "users"
    } else {
        "clients"
    }
}

fn inbounds<'a>(root: &'a Value, path: &Path) -> Result<&'a Vec<Value>, CoreFileError> {
    match root.get("inbounds") {
        Some(Value::Array(list)) => Ok(list),
        Some(other) => Err(CoreFileError::BadStructure {
            path: path.to_owned(),
            reason: format!("\"inbounds\" must be an array, found {}", json_type(other)),
        }),
        None => Err(CoreFileError::BadStructure {
            path: path.to_owned(),
            reason: "there is no \"inbounds\" array".to_owned(),
        }),
    }
}

fn tag_of(inbound: &Value) -> Option<&str> {
    inbound.get("tag").and_then(Value::as_str)
}

/// Finds the one inbound tagged `tag` and checks that it is VLESS.
fn find_inbound<'a>(
    root: &'a Value,
    path: &Path,
    tag: &str,
) -> Result<&'a Map<String, Value>, CoreFileError> {
    let list = inbounds(root, path)?;
    let matches: Vec<&Value> = list.iter().filter(|i| tag_of(i) == Some(tag)).collect();
    let inbound = match matches.as_slice() {
        [] => {
            return Err(CoreFileError::InboundNotFound {
                path: path.to_owned(),
                tag: tag.to_owned(),
                available: list.iter().filter_map(tag_of).map(str::to_owned).collect(),
            });
        }
        [one] => *one,
        many => {
            return Err(CoreFileError::DuplicateTag {
                path: path.to_owned(),
                tag: tag.to_owned(),
                count: many.len(),
            });
        }
    };
    let Value::Object(inbound) = inbound else {
        // A value with a "tag" member is an object; this cannot happen.
        return Err(CoreFileError::BadInbound {
            path: path.to_owned(),
            tag: tag.to_owned(),
            reason: "is not an object".to_owned(),
        });
    };
    let protocol = inbound.get("protocol").and_then(Value::as_str);
    if !protocol.is_some_and(|p| p.eq_ignore_ascii_case("vless")) {
        return Err(CoreFileError::NotVless {
            path: path.to_owned(),
            tag: tag.to_owned(),
            protocol: protocol.unwrap_or("(none)").to_owned(),
        });
    }
    Ok(inbound)
}

fn find_inbound_mut<'a>(root: &'a mut Value, tag: &str) -> Option<&'a mut Map<String, Value>> {
    root.get_mut("inbounds")?
        .as_array_mut()?
        .iter_mut()
        .find(|i| tag_of(i) == Some(tag))?
        .as_object_mut()
}

/// The flow most clients use; ties go to the flow seen first; no clients gives `""`.
fn common_flow(clients: &[FileClient]) -> String {
    let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
    for (i, c) in clients.iter().enumerate() {
        counts.entry(c.flow.as_str()).or_insert((0, i)).0 += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)))
        .map(|(flow, _)| flow.to_owned())
        .unwrap_or_default()
}

/// A port given as a number or a numeric string; ranges and env references give `None`.
fn single_port(v: &Value) -> Option<u16> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Blanks the comments v2ray and Xray accept in JSON configs (`// …`, `/* … */`, `# …`
/// outside strings), keeping line breaks so error positions stay right. `None` when
/// there were no comments.
pub(super) fn strip_comments(input: &[u8]) -> Option<Vec<u8>> {
    #[derive(Clone, Copy, PartialEq)]
    enum St {
        Normal,
        Str,
        StrEscape,
        Slash,
        Line,
        Block,
        BlockStar,
    }
    let mut out = Vec::with_capacity(input.len());
    let mut st = St::Normal;
    let mut found = false;
    for &b in input {
        st = match (st, b) {
            (St::Slash, b'/') => {
                found = true;
                out.extend_from_slice(b"  ");
                St::Line
            }
            (St::Slash, b'*') => {
                found = true;
                out.extend_from_slice(b"  ");
                St::Block
            }
            (St::Slash | St::Normal, _) => {
                if st == St::Slash {
                    out.push(b'/');
                }
                match b {
                    b'"' => {
                        out.push(b);
                        St::Str
                    }
                    b'/' => St::Slash,
                    b'#' => {
                        found = true;
                        out.push(b' ');
                        St::Line
                    }
                    _ => {
                        out.push(b);
                        St::Normal
                    }
                }
            }
            (St::Str, b'\\') => {
                out.push(b);
                St::StrEscape
            }
            (St::Str, b'"') => {
                out.push(b);
                St::Normal
            }
            (St::Str, _) => {
                out.push(b);
                St::Str
            }
            (St::StrEscape, _) => {
                out.push(b);
                St::Str
            }
            (St::Line, b'\n') => {
                out.push(b);
                St::Normal
            }
            (St::Line, _) => {
                out.push(b' ');
                St::Line
            }
            (St::Block | St::BlockStar, b'\n') => {
                out.push(b);
                St::Block
            }
            (St::Block | St::BlockStar, b'*') => {
                out.push(b' ');
                St::BlockStar
            }
            (St::BlockStar, b'/') => {
                out.push(b' ');
                St::Normal
            }
            (St::Block | St::BlockStar, _) => {
                out.push(b' ');
                St::Block
            }
        };
    }
    if st == St::Slash {
        out.push(b'/');
    }
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

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
    fn reads_the_inbound() {
        let m = load(vless(json!({"clients": [
            {"id": "u1", "email": "a@x", "flow": "xtls-rprx-vision", "level": 1, "extra": true},
            {"id": "u2", "email": "b@x"}
        ], "decryption": "none"})))
        .unwrap();
        assert_eq!(m.tag, "vless-in");
        assert_eq!(m.protocol, "vless");
        assert_eq!(m.port, Some(443));
        assert_eq!(m.listen.as_deref(), Some("0.0.0.0"));
        assert_eq!(m.network.as_deref(), Some("tcp"));
        assert_eq!(m.security.as_deref(), Some("reality"));
        assert_eq!(
            m.stream_settings.as_ref().unwrap()["realitySettings"]["serverNames"][0],
            "a.example"
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
        assert_eq!(
            (m.network, m.security, m.stream_settings),
            (None, None, None)
        );
        v["inbounds"][1]["port"] = json!("1000-2000");
        assert_eq!(load(v.clone()).unwrap().port, None);
        v["inbounds"][1]["port"] = json!(70000);
        assert_eq!(load(v.clone()).unwrap().port, None);
        v["inbounds"][1].as_object_mut().unwrap().remove("settings");
        assert!(load(v).unwrap().clients.is_empty());
    }

    #[test]
    fn flow_detection() {
        let c = |flow: &str| json!({"id": "u", "email": format!("{flow}{}", rand_suffix()), "flow": flow});
        // Settings-level flow wins.
        let m = load(vless(
            json!({"flow": "xtls-rprx-vision", "clients": [c("")]}),
        ))
        .unwrap();
        assert_eq!(m.flow, "xtls-rprx-vision");
        // "none" at settings level means no flow; then the clients decide.
        let m = load(vless(
            json!({"flow": "none", "clients": [c("xtls-rprx-vision")]}),
        ))
        .unwrap();
        assert_eq!(m.flow, "xtls-rprx-vision");
        // The majority of clients.
        let m = load(vless(
            json!({"clients": [c(""), c("xtls-rprx-vision"), c("xtls-rprx-vision")]}),
        ))
        .unwrap();
        assert_eq!(m.flow, "xtls-rprx-vision");
        let m = load(vless(
            json!({"clients": [c(""), c(""), c("xtls-rprx-vision")]}),
        ))
        .unwrap();
        assert_eq!(m.flow, "");
        // A tie goes to the first seen.
        let m = load(vless(json!({"clients": [c("xtls-rprx-vision"), c("")]}))).unwrap();
        assert_eq!(m.flow, "xtls-rprx-vision");
        let m = load(vless(json!({"clients": [c(""), c("xtls-rprx-vision")]}))).unwrap();
        assert_eq!(m.flow, "");
        // Nothing at all.
        assert_eq!(load(vless(json!({"clients": []}))).unwrap().flow, "");
    }

    fn rand_suffix() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::Relaxed)
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
    fn protocol_is_case_insensitive() {
        let mut v = vless(json!({"clients": []}));
        v["inbounds"][1]["protocol"] = json!("VLESS");
        assert_eq!(load(v).unwrap().protocol, "VLESS");
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
            pos("\"decryption\"") < pos("\"clients\"")
                && pos("\"clients\"") < pos("\"zzz-unknown\"")
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
    fn comments_are_accepted() {
        let text = "\u{feff}// top\n{ # hash\n  \"a\": \"x // not a comment # nor this /* */\", /* block\n * more */ \"b\": \"q\\\"//\",\n  \"c\": 1 / 1 }";
        // `1 / 1` is not JSON, but the slash must survive stripping for the error to be right.
        let stripped = strip_comments(text.as_bytes()).unwrap();
        let s = String::from_utf8(stripped).unwrap();
        assert!(s.contains("\"x // not a comment # nor this /* */\""), "{s}");
        assert!(s.contains("\"q\\\"//\""), "{s}");
        assert!(s.contains("1 / 1"), "{s}");
        assert_eq!(s.lines().count(), text.lines().count());
        let ok = "/* c */ {\"inbounds\": [] // trailing\n}";
        let d = parse(Path::new(P), ok.as_bytes()).unwrap();
        assert!(d.had_comments);
        assert_eq!(d.root, json!({"inbounds": []}));
        assert!(strip_comments(b"{\"a\": \"//\"}").is_none());
        assert!(!parse(Path::new(P), b"{}").unwrap().had_comments);
    }
}
