//! Small readers of the config's JSON that the parts of the model share.

use serde_json::Value;

/// A port given as a number or a numeric string; ranges and environment references give
/// `None`.
pub fn single_port(v: &Value) -> Option<u16> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A short JSON type name for error messages ("an object", "a string", …).
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Strings of a member that is a list of strings (other entries skipped) or one string.
pub fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ports_and_strings() {
        assert_eq!(single_port(&json!(443)), Some(443));
        assert_eq!(single_port(&json!(" 8443 ")), Some(8443));
        assert_eq!(single_port(&json!("1000-2000")), None);
        assert_eq!(single_port(&json!(70000)), None);
        assert_eq!(single_port(&json!(null)), None);
        assert_eq!(strings(Some(&json!(["a", 1, "b"]))), ["a", "b"]);
        assert_eq!(strings(Some(&json!("a"))), ["a"]);
        assert!(strings(None).is_empty());
        assert_eq!(json_type(&json!({})), "an object");
    }
}
