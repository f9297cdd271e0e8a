//! One VLESS client as the managed inbound lists it.

use serde_json::{Map, Value};

use super::json::json_type;

/// A client entry of the managed inbound: `{"id", "email", "level", "flow"?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundClient {
    /// The client's UUID (the core also accepts other short strings; Veil writes UUIDs).
    pub id: String,
    /// The core's user identity (stat names, API removal); may be empty in a hand-written file.
    pub email: String,
    /// The policy level; `0` when the file omits it.
    pub level: u32,
    /// As written: `""` (no flow; the key is then omitted) or e.g. `"xtls-rprx-vision"`.
    pub flow: String,
}

impl InboundClient {
    /// The client as it is written: `id`, `email`, `level` always, `flow` only when set
    /// (v2fly has no flows, and an empty flow inherits a settings-level one in Xray).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".to_owned(), Value::String(self.id.clone()));
        m.insert("email".to_owned(), Value::String(self.email.clone()));
        m.insert("level".to_owned(), Value::from(self.level));
        if !self.flow.is_empty() {
            m.insert("flow".to_owned(), Value::String(self.flow.clone()));
        }
        Value::Object(m)
    }

    /// Reads one entry of `settings.clients`. The error is the reason, for the caller to
    /// name the file, the tag and the index.
    pub fn from_json(value: &Value) -> Result<InboundClient, String> {
        let Value::Object(m) = value else {
            return Err(format!("expected an object, found {}", json_type(value)));
        };
        let id = match m.get("id") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::String(_)) => return Err("\"id\" is empty".to_owned()),
            Some(other) => {
                return Err(format!(
                    "\"id\" must be a string, found {}",
                    json_type(other)
                ));
            }
            None => return Err("has no \"id\"; every client needs one".to_owned()),
        };
        let email = opt_string(m, "email")?;
        let flow = opt_string(m, "flow")?;
        let level = match m.get("level") {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| format!("\"level\" must be an integer 0–4294967295, found {n}"))?,
            Some(other) => {
                return Err(format!(
                    "\"level\" must be a number, found {}",
                    json_type(other)
                ));
            }
        };
        Ok(InboundClient {
            id,
            email,
            level,
            flow,
        })
    }

    /// The flow as the cores read it: `"none"` is no flow.
    pub fn own_flow(&self) -> &str {
        no_flow_as_empty(&self.flow)
    }

    /// Who the client is, for messages: its email, else its id.
    pub fn who(&self) -> &str {
        if self.email.is_empty() {
            &self.id
        } else {
            &self.email
        }
    }
}

/// `"none"` (which the cores read as no flow) as `""`; any other flow as it is.
pub(super) fn no_flow_as_empty(flow: &str) -> &str {
    if flow == "none" { "" } else { flow }
}

fn opt_string(m: &Map<String, Value>, key: &str) -> Result<String, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "\"{key}\" must be a string, found {}",
            json_type(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_flow_only_when_set() {
        let mut c = InboundClient {
            id: "6a2f1e1c-1111-4222-8333-444455556666".into(),
            email: "a@x".into(),
            level: 0,
            flow: String::new(),
        };
        assert_eq!(
            serde_json::to_string(&c.to_json()).unwrap(),
            r#"{"id":"6a2f1e1c-1111-4222-8333-444455556666","email":"a@x","level":0}"#
        );
        c.flow = "xtls-rprx-vision".into();
        c.level = 2;
        assert_eq!(
            serde_json::to_string(&c.to_json()).unwrap(),
            r#"{"id":"6a2f1e1c-1111-4222-8333-444455556666","email":"a@x","level":2,"flow":"xtls-rprx-vision"}"#
        );
    }

    #[test]
    fn parses_entries() {
        let c = InboundClient::from_json(&json!({"email": "e", "id": "u", "extra": 1})).unwrap();
        assert_eq!(
            c,
            InboundClient {
                id: "u".into(),
                email: "e".into(),
                level: 0,
                flow: String::new()
            }
        );
        assert_eq!(c.who(), "e");
        let c =
            InboundClient::from_json(&json!({"id": "u", "level": 3, "flow": "xtls-rprx-vision"}))
                .unwrap();
        assert_eq!(
            (c.email.as_str(), c.level, c.flow.as_str(), c.who()),
            ("", 3, "xtls-rprx-vision", "u")
        );
        let none = InboundClient::from_json(&json!({"id": "u", "flow": "none"})).unwrap();
        assert_eq!((none.flow.as_str(), none.own_flow()), ("none", ""));

        for (bad, needle) in [
            (json!({"email": "e"}), "has no \"id\""),
            (json!({"id": ""}), "\"id\" is empty"),
            (json!({"id": 5}), "\"id\" must be a string"),
            (json!({"id": "u", "level": -1}), "\"level\""),
            (json!({"id": "u", "level": 1.5}), "\"level\""),
            (json!({"id": "u", "email": 7}), "\"email\" must be a string"),
            (json!("u"), "expected an object"),
        ] {
            let err = InboundClient::from_json(&bad).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}
