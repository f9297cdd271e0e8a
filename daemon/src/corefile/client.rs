//! One VLESS client as the config file holds it, and naming helpers for adoption.

use serde_json::{Map, Value};
use veil_shared::validate;

/// A VLESS client entry of the managed inbound: `{"id", "email", "level", "flow"?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileClient {
    /// The client's UUID (the core also accepts other short strings; Veil writes UUIDs).
    pub id: String,
    /// The core's user identity (stat names, API removal); may be empty in a hand-written file.
    pub email: String,
    /// The policy level; `0` when the file omits it.
    pub level: u32,
    /// `""` (no flow; the key is then omitted) or e.g. `"xtls-rprx-vision"`.
    pub flow: String,
}

impl FileClient {
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
    /// wrap with the path, tag and index.
    pub(super) fn from_json(value: &Value) -> Result<FileClient, String> {
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
        Ok(FileClient {
            id,
            email,
            level,
            flow,
        })
    }
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

/// A short JSON type name for error messages.
pub(super) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The longest candidate [`name_from_email`] returns, leaving room for a `-N` suffix the
/// caller may add to make it unique.
const CANDIDATE_MAX_CHARS: usize = validate::PREFIX_MAX_CHARS;

/// Turns a client email found in the file (`alice@example.com`, `user_1`) into a key-name
/// candidate: the part before the first `@`, without refused characters, trimmed, at most
/// 48 characters. Names that would read as an id or a UUID get a `client-` prefix
/// (`12345@x` → `client-12345`); an empty result becomes `client`.
///
/// The caller still makes the name unique and validates it with
/// [`veil_shared::validate::name`]; every non-empty result passes that check.
pub fn name_from_email(email: &str) -> String {
    let local = email.split_once('@').map_or(email, |(l, _)| l);
    let cleaned: String = local
        .chars()
        .filter(|&c| !validate::refused_char(c))
        .collect();
    let candidate: String = cleaned.trim().chars().take(CANDIDATE_MAX_CHARS).collect();
    let candidate = candidate.trim();
    if candidate.is_empty() {
        return "client".to_owned();
    }
    match validate::name(candidate) {
        Ok(name) => name,
        Err(_) => format!("client-{candidate}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_flow_only_when_set() {
        let mut c = FileClient {
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
        let c = FileClient::from_json(&json!({"email": "e", "id": "u", "extra": 1})).unwrap();
        assert_eq!(
            c,
            FileClient {
                id: "u".into(),
                email: "e".into(),
                level: 0,
                flow: String::new()
            }
        );
        let c = FileClient::from_json(&json!({"id": "u", "level": 3, "flow": "xtls-rprx-vision"}))
            .unwrap();
        assert_eq!(
            (c.email.as_str(), c.level, c.flow.as_str()),
            ("", 3, "xtls-rprx-vision")
        );

        for (bad, needle) in [
            (json!({"email": "e"}), "has no \"id\""),
            (json!({"id": ""}), "\"id\" is empty"),
            (json!({"id": 5}), "\"id\" must be a string"),
            (json!({"id": "u", "level": -1}), "\"level\""),
            (json!({"id": "u", "level": 1.5}), "\"level\""),
            (json!({"id": "u", "email": 7}), "\"email\" must be a string"),
            (json!("u"), "expected an object"),
        ] {
            let err = FileClient::from_json(&bad).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn names_from_emails() {
        assert_eq!(name_from_email("alice@example.com"), "alice");
        assert_eq!(name_from_email("user_1"), "user_1");
        assert_eq!(name_from_email("  bob  @x"), "bob");
        assert_eq!(name_from_email("12345@x"), "client-12345");
        assert_eq!(name_from_email("-7"), "client--7");
        assert_eq!(
            name_from_email("6a2f1e1c-1111-4222-8333-444455556666@x"),
            "client-6a2f1e1c-1111-4222-8333-444455556666"
        );
        assert_eq!(name_from_email("@example.com"), "client");
        assert_eq!(name_from_email(""), "client");
        assert_eq!(name_from_email("a\u{202E}b\n@x"), "ab");
        assert_eq!(name_from_email("Ёжик 🦔@x"), "Ёжик 🦔");
        let long = "x".repeat(100);
        assert_eq!(name_from_email(&long).chars().count(), 48);
        for email in ["12345@x", "alice@example.com", "@", &long, "0", "+1@a"] {
            let name = name_from_email(email);
            assert!(validate::name(&name).is_ok(), "{email} -> {name}");
        }
    }
}
