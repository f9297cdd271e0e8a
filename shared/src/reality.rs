//! REALITY keys as Xray writes them, and what a client needs to reach the managed inbound.
//!
//! - Keys: X25519, 32 bytes, written as base64 "RawURL" (URL alphabet `-` `_`, no padding,
//!   43 characters), the form `xray x25519` prints and `realitySettings.privateKey` takes.
//! - [`Endpoint`]: port, transport, flow and security (with the REALITY client parameters),
//!   built from the managed inbound as [`crate::coreconfig`] reads it. Share links and
//!   client configs are built from it.

pub use crate::realitykey::*;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::coreconfig::{Flavor, ManagedInbound, RealitySettings, StreamSettings};

/// What a client needs to reach the managed inbound, beyond the host and its own UUID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub port: u16,
    /// The transport as links name it; always `tcp` (Xray's `raw`) for now.
    pub network: String,
    /// The flow every key has (`""` or `xtls-rprx-vision`); a link must carry the user's.
    pub flow: String,
    pub security: Security,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Security {
    /// Plain VLESS (v2fly trials).
    None,
    Reality(RealityClient),
}

/// A REALITY client's settings, as links and client configs carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealityClient {
    /// The first of the server's `serverNames`.
    pub server_name: String,
    /// Derived from the server's `privateKey`.
    pub public_key: String,
    /// The first non-empty of the server's `shortIds` (every key shares it: Veil gives all keys one shortId), else `""`.
    pub short_id: String,
    pub fingerprint: String,
    pub spider_x: String,
}

/// Why no endpoint can be read from the inbound. Each names the config key at fault.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EndpointError {
    #[error(
        "the inbound's \"port\" is not a single port number (a range or an environment reference cannot go in a link)"
    )]
    NoPort,
    #[error(
        "streamSettings.network is \"{0}\"; Veil builds links for raw TCP only (\"raw\" or \"tcp\")"
    )]
    Network(String),
    #[error(
        "streamSettings.security is \"{0}\"; Veil builds links for \"reality\" and \"none\" only"
    )]
    Security(String),
    #[error("streamSettings.realitySettings is missing")]
    NoRealitySettings,
    #[error("realitySettings.serverNames has no non-empty name")]
    NoServerName,
    #[error("realitySettings.privateKey {0}")]
    PrivateKey(KeyError),
    #[error("realitySettings.shortIds: {0}")]
    ShortId(String),
    #[error("the inbound asks for REALITY, which v2ray 4.x does not have (it serves plain VLESS)")]
    RealityOnV2fly,
}

impl Endpoint {
    /// The endpoint of the managed inbound as the core `flavor` serves it: its port, its
    /// stream settings, and the flow every key gets (the inbound's flow on Xray, `""` on
    /// v2fly). The one place links and client configs learn what to dial.
    pub fn of_inbound(inbound: &ManagedInbound, flavor: Flavor) -> Result<Endpoint, EndpointError> {
        let endpoint = Self::from_stream(inbound.port, &inbound.stream, inbound.key_flow(flavor))?;
        if !flavor.has_reality() && matches!(endpoint.security, Security::Reality(_)) {
            return Err(EndpointError::RealityOnV2fly);
        }
        Ok(endpoint)
    }

    /// Reads the endpoint from the managed inbound's parts: its `port` (already read as a
    /// single port, `None` if it is not one), its `streamSettings` object, and the flow every
    /// key gets.
    pub fn read(
        port: Option<u16>,
        stream_settings: Option<&Value>,
        flow: &str,
    ) -> Result<Endpoint, EndpointError> {
        Self::from_stream(port, &StreamSettings::read(stream_settings), flow)
    }

    /// Like [`Endpoint::read`], with the stream settings already read.
    pub fn from_stream(
        port: Option<u16>,
        stream: &StreamSettings,
        flow: &str,
    ) -> Result<Endpoint, EndpointError> {
        let port = port.filter(|p| *p != 0).ok_or(EndpointError::NoPort)?;
        if !stream.is_raw_tcp() {
            return Err(EndpointError::Network(
                stream.network.clone().unwrap_or_default(),
            ));
        }
        let security = match stream.security_name() {
            "" | "none" => Security::None,
            "reality" => Security::Reality(RealityClient::of_server(stream.reality.as_ref())?),
            other => return Err(EndpointError::Security(other.to_owned())),
        };
        Ok(Endpoint {
            port,
            network: "tcp".to_owned(),
            flow: flow.to_owned(),
            security,
        })
    }

    /// `reality`, or `none`: the `security` value of links and client configs.
    pub fn security_name(&self) -> &'static str {
        match self.security {
            Security::None => "none",
            Security::Reality(_) => "reality",
        }
    }
}

impl RealityClient {
    /// The client half of a server's `realitySettings` (`None`: the server has none).
    pub fn of_server(settings: Option<&RealitySettings>) -> Result<RealityClient, EndpointError> {
        let settings = settings.ok_or(EndpointError::NoRealitySettings)?;
        let server_name = settings
            .server_name()
            .ok_or(EndpointError::NoServerName)?
            .to_owned();
        let public_key = settings.public_key().map_err(EndpointError::PrivateKey)?;
        let short_id = settings.short_id();
        if let Some(problem) = short_id_problem(short_id) {
            return Err(EndpointError::ShortId(problem));
        }
        Ok(RealityClient {
            server_name,
            public_key,
            short_id: short_id.to_ascii_lowercase(),
            fingerprint: FINGERPRINT.to_owned(),
            spider_x: SPIDER_X.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_round_trip_and_refuse_bad_text() {
        let bytes = [7u8; 32];
        let text = encode_key(&bytes);
        assert_eq!(text.len(), KEY_CHARS);
        assert_eq!(decode_key(&text).unwrap(), bytes);
        assert_eq!(decode_key(""), Err(KeyError::Empty));
        assert!(matches!(
            decode_key(&format!("{text}=")),
            Err(KeyError::NotBase64(_))
        ));
        assert!(matches!(decode_key("a+b/"), Err(KeyError::NotBase64(_))));
        assert_eq!(decode_key("AAAA"), Err(KeyError::WrongLength(3)));
    }

    #[test]
    fn generated_keys_are_clamped_and_match() {
        let pair = generate_keypair();
        let private = decode_key(&pair.private_key).unwrap();
        assert_eq!(private, clamp(private));
        assert_eq!(public_key_of(&pair.private_key).unwrap(), pair.public_key);
        assert_ne!(generate_keypair().private_key, pair.private_key);
        assert!(!format!("{pair:?}").contains(&pair.private_key));
    }

    #[test]
    fn short_ids() {
        let id = random_short_id(16).unwrap();
        assert_eq!(id.len(), 16);
        assert_eq!(short_id_problem(&id), None);
        assert_eq!(random_short_id(8).unwrap().len(), 8);
        for ok in ["", "ab", "0123456789abcdef", "ABCD"] {
            assert_eq!(short_id_problem(ok), None, "{ok}");
        }
        for bad in ["abc", "xy", "0123456789abcdef00", "a b "] {
            assert!(short_id_problem(bad).is_some(), "{bad}");
        }
    }

    fn stream(reality: Value) -> Value {
        json!({"network": "raw", "security": "reality", "realitySettings": reality})
    }

    #[test]
    fn reads_a_reality_endpoint() {
        let pair = generate_keypair();
        let s = stream(json!({
            "target": "www.example.com:443", "serverNames": ["", "www.example.com", "b.example"],
            "privateKey": pair.private_key, "shortIds": ["", "ABCD", "12"]
        }));
        let e = Endpoint::read(Some(443), Some(&s), VISION).unwrap();
        assert_eq!(e.port, 443);
        assert_eq!(e.network, "tcp");
        assert_eq!(e.flow, VISION);
        assert_eq!(e.security_name(), "reality");
        let Security::Reality(r) = e.security else {
            panic!("not reality")
        };
        assert_eq!(r.server_name, "www.example.com");
        assert_eq!(r.public_key, pair.public_key);
        assert_eq!(r.short_id, "abcd");
        assert_eq!(
            (r.fingerprint.as_str(), r.spider_x.as_str()),
            ("chrome", "/")
        );
    }

    #[test]
    fn endpoint_of_the_managed_inbound_per_flavor() {
        let pair = generate_keypair();
        let root = json!({"inbounds": [{"tag": "in", "protocol": "vless", "port": "443",
            "settings": {"flow": VISION, "clients": []},
            "streamSettings": stream(json!({"serverNames": ["a"], "privateKey": pair.private_key,
                                            "shortIds": ["ab"]}))}]});
        let inbound = ManagedInbound::read(&root, "in").unwrap();
        let e = Endpoint::of_inbound(&inbound, Flavor::Xray).unwrap();
        assert_eq!((e.port, e.flow.as_str()), (443, VISION));
        assert_eq!(
            Endpoint::of_inbound(&inbound, Flavor::V2fly),
            Err(EndpointError::RealityOnV2fly)
        );
        let plain = json!({"inbounds": [{"tag": "in", "protocol": "vless", "port": 1,
            "settings": {"flow": VISION}}]});
        let inbound = ManagedInbound::read(&plain, "in").unwrap();
        let e = Endpoint::of_inbound(&inbound, Flavor::V2fly).unwrap();
        assert_eq!((e.flow.as_str(), e.security), ("", Security::None));
    }

    #[test]
    fn plain_and_refused_endpoints() {
        let e = Endpoint::read(Some(8443), None, "").unwrap();
        assert_eq!((e.security, e.network.as_str()), (Security::None, "tcp"));
        let none = json!({"network": "tcp", "security": "none"});
        assert!(Endpoint::read(Some(1), Some(&none), "").is_ok());

        let pair = generate_keypair();
        let good = json!({"serverNames": ["a"], "privateKey": pair.private_key, "shortIds": [""]});
        assert!(Endpoint::read(Some(1), Some(&stream(good.clone())), "").is_ok());
        type Case = (Option<u16>, Value, fn(&EndpointError) -> bool);
        let cases: Vec<Case> = vec![
            (None, none.clone(), |e| *e == EndpointError::NoPort),
            (Some(0), none.clone(), |e| *e == EndpointError::NoPort),
            (Some(1), json!({"network": "ws"}), |e| {
                matches!(e, EndpointError::Network(_))
            }),
            (Some(1), json!({"security": "tls"}), |e| {
                matches!(e, EndpointError::Security(_))
            }),
            (Some(1), json!({"security": "reality"}), |e| {
                *e == EndpointError::NoRealitySettings
            }),
            (
                Some(1),
                stream(json!({"serverNames": [""], "privateKey": pair.private_key})),
                |e| *e == EndpointError::NoServerName,
            ),
            (
                Some(1),
                stream(json!({"serverNames": ["a"], "privateKey": "short"})),
                |e| matches!(e, EndpointError::PrivateKey(_)),
            ),
            (
                Some(1),
                stream(
                    json!({"serverNames": ["a"], "privateKey": pair.private_key, "shortIds": ["abc"]}),
                ),
                |e| matches!(e, EndpointError::ShortId(_)),
            ),
        ];
        for (port, s, want) in cases {
            let err = Endpoint::read(port, Some(&s), "").unwrap_err();
            assert!(want(&err), "{s}: {err}");
        }
    }
}
