//! One model of the core's config: the typed reader of the managed inbound, shared by the
//! daemon's config writer, share links and client configs, `veil init` and the doctor.
//!
//! - [`parse`]: the file's bytes to a JSON value, with the comments the cores accept.
//! - [`find_inbound`] and [`ManagedInbound::read`]: the one inbound Veil manages (by tag):
//!   port, listen, the flow every key gets, its clients, and its stream settings
//!   ([`StreamSettings`], with [`RealitySettings`] when it speaks REALITY).
//! - [`Flavor`]: which core reads the config (Xray or Debian's v2ray 4.x).
//! - What Veil writes and recommends: [`MIN_CLIENT_VERSION`], [`PHONE_POLICY_VALUES`].
//!
//! Everything here is pure: values in, values out, no I/O. The reader is strict where the
//! daemon must refuse a file (a client without an id, a client list that is not an array)
//! and lenient where the doctor explains the problem instead (REALITY's own settings are
//! read as found; [`crate::reality::Endpoint`] and the doctor judge them).

mod client;
mod flavor;
mod inbound;
mod stream;
mod text;

pub use self::client::InboundClient;
pub use self::flavor::Flavor;
pub use self::inbound::{InboundError, ManagedInbound, clients_key, find_inbound};
pub use self::stream::{RealitySettings, StreamSettings};
pub use self::text::{ParseError, ParsedConfig, parse, strip_comments};

use serde_json::Value;

/// The phone-friendly policy of level 0 that Veil writes and the doctor recommends
/// (phones switching networks reconnect faster), as `(key, value)`.
pub const PHONE_POLICY_VALUES: &[(&str, u64)] = &[
    ("handshake", 4),
    ("connIdle", 300),
    ("uplinkOnly", 2),
    ("downlinkOnly", 5),
];

/// The `minClientVer` Veil writes: old enough for sing-box based clients (1.8.1).
pub const MIN_CLIENT_VERSION: &str = "1.8.0";

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
