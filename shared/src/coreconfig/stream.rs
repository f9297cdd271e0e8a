//! The managed inbound's `streamSettings`: transport, security, and REALITY's settings.

use serde_json::Value;

use super::json::strings;
use crate::realitykey::{self as reality, KeyError};

/// `streamSettings` as read; absent or malformed members read as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamSettings {
    /// `network`, lower-cased, with Xray's `raw` reported as `tcp`; `None` when absent,
    /// which the cores read as `tcp`.
    pub network: Option<String>,
    /// `security`, lower-cased (`reality`, `tls`, `none`); `None` when absent.
    pub security: Option<String>,
    /// `realitySettings`, when it is an object (whatever `security` says).
    pub reality: Option<RealitySettings>,
}

impl StreamSettings {
    /// Reads the inbound's `streamSettings` member (anything but an object reads as empty).
    pub fn read(stream_settings: Option<&Value>) -> StreamSettings {
        let Some(s) = stream_settings.filter(|s| s.is_object()) else {
            return StreamSettings::default();
        };
        let text = |key: &str| {
            s.get(key)
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
        };
        StreamSettings {
            network: text("network").map(|n| if n == "raw" { "tcp".to_owned() } else { n }),
            security: text("security"),
            reality: s.get("realitySettings").and_then(RealitySettings::read),
        }
    }

    /// Raw TCP (`raw`, `tcp`, or nothing said), the one transport Veil builds links for.
    pub fn is_raw_tcp(&self) -> bool {
        matches!(self.network.as_deref(), None | Some("" | "tcp"))
    }

    /// The `security` value; `""` when absent.
    pub fn security_name(&self) -> &str {
        self.security.as_deref().unwrap_or_default()
    }

    /// Whether `security` asks for REALITY.
    pub fn is_reality(&self) -> bool {
        self.security_name() == "reality"
    }
}

/// The server side of REALITY (`streamSettings.realitySettings`), as found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RealitySettings {
    /// `target` (or its older name `dest`): the real TLS site, `HOST:PORT`.
    pub target: Option<String>,
    /// `serverNames`: the names clients may send as SNI, as written (blank ones included).
    pub server_names: Vec<String>,
    /// `privateKey` as written; `""` when absent. A secret: never logged.
    pub private_key: String,
    /// `shortIds`: `None` when absent or not a list; each entry a string, or (as `Err`)
    /// the entry that is not one.
    pub short_ids: Option<Vec<Result<String, Value>>>,
    /// `minClientVer`; `""` when absent.
    pub min_client_ver: String,
}

impl RealitySettings {
    /// Reads a `realitySettings` object (`None` for anything else).
    pub fn read(settings: &Value) -> Option<RealitySettings> {
        settings.as_object()?;
        let text = |key: &str| settings.get(key).and_then(Value::as_str);
        Some(RealitySettings {
            target: text("target").or_else(|| text("dest")).map(str::to_owned),
            server_names: strings(settings.get("serverNames"))
                .into_iter()
                .map(str::to_owned)
                .collect(),
            private_key: text("privateKey").unwrap_or_default().to_owned(),
            short_ids: settings
                .get("shortIds")
                .and_then(Value::as_array)
                .map(|ids| {
                    ids.iter()
                        .map(|id| id.as_str().map(str::to_owned).ok_or_else(|| id.clone()))
                        .collect()
                }),
            min_client_ver: text("minClientVer").unwrap_or_default().to_owned(),
        })
    }

    /// The name links carry as `sni`: the first non-blank of `serverNames`, trimmed.
    pub fn server_name(&self) -> Option<&str> {
        self.server_names
            .iter()
            .map(|n| n.trim())
            .find(|n| !n.is_empty())
    }

    /// The shortId every key shares: the first non-empty one, else `""` (which the server
    /// accepts only when `shortIds` lists it).
    pub fn short_id(&self) -> &str {
        self.short_ids
            .iter()
            .flatten()
            .filter_map(|id| id.as_deref().ok())
            .find(|id| !id.is_empty())
            .unwrap_or_default()
    }

    /// The public key clients need, derived from `privateKey`.
    pub fn public_key(&self) -> Result<String, KeyError> {
        reality::public_key_of(&self.private_key)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_stream_settings() {
        let s = StreamSettings::read(Some(&json!({"network": "RAW", "security": "REALITY",
            "realitySettings": {"dest": "a.example:443", "serverNames": [" ", " b.example "],
                                "shortIds": ["", 5, "AB"], "privateKey": 7}})));
        assert_eq!(s.network.as_deref(), Some("tcp"));
        assert!(s.is_raw_tcp() && s.is_reality());
        let r = s.reality.unwrap();
        assert_eq!(r.target.as_deref(), Some("a.example:443"));
        assert_eq!(r.server_name(), Some("b.example"));
        assert_eq!(r.short_id(), "AB");
        assert_eq!(r.short_ids.as_ref().unwrap()[1], Err(json!(5)));
        assert_eq!(
            (r.private_key.as_str(), r.min_client_ver.as_str()),
            ("", "")
        );
        assert!(r.public_key().is_err());

        let none = StreamSettings::read(None);
        assert_eq!(none, StreamSettings::default());
        assert!(none.is_raw_tcp() && !none.is_reality());
        assert_eq!(none.security_name(), "");
        let ws = StreamSettings::read(Some(&json!({"network": "ws", "realitySettings": []})));
        assert!(!ws.is_raw_tcp() && ws.reality.is_none());
        let r = RealitySettings::read(&json!({"target": "t:1", "dest": "d:1"})).unwrap();
        assert_eq!((r.target.as_deref(), r.short_id()), (Some("t:1"), ""));
        assert_eq!(r.short_ids, None);
    }
}
