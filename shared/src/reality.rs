//! REALITY keys as Xray writes them, and what a client needs to reach the managed inbound.
//!
//! - Keys: X25519, 32 bytes, written as base64 "RawURL" (URL alphabet `-` `_`, no padding,
//!   43 characters), the form `xray x25519` prints and `realitySettings.privateKey` takes.
//! - [`Endpoint`]: port, transport, flow and security (with the REALITY client parameters),
//!   built from the managed inbound as [`crate::coreconfig`] reads it. Share links and
//!   client configs are built from it.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use x25519_dalek::{PublicKey, StaticSecret};

use crate::coreconfig::{Flavor, ManagedInbound, RealitySettings, StreamSettings};

/// Bytes in an X25519 key.
pub const KEY_BYTES: usize = 32;
/// Characters in a key written as base64 RawURL.
pub const KEY_CHARS: usize = 43;
/// The longest shortId, in hex characters (8 bytes).
pub const SHORT_ID_MAX_CHARS: usize = 16;
/// The TLS fingerprint clients imitate; Xray and Hiddify default to it too.
pub const FINGERPRINT: &str = "chrome";
/// The path the client's spider starts from.
pub const SPIDER_X: &str = "/";
/// The flow of VLESS+REALITY over raw TCP.
pub const VISION: &str = "xtls-rprx-vision";

/// Go's `base64.RawURLEncoding`, which Xray decodes keys with: URL alphabet, no padding
/// (padding is refused), and like Go it does not insist that the unused low bits of the
/// last character are zero.
const RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KeyError {
    #[error("is empty")]
    Empty,
    #[error("is not base64url without padding (the form `xray x25519` prints): {0}")]
    NotBase64(String),
    #[error("decodes to {0} bytes; an X25519 key has 32")]
    WrongLength(usize),
}

/// Reads a key written as base64 RawURL.
pub fn decode_key(text: &str) -> Result<[u8; KEY_BYTES], KeyError> {
    if text.is_empty() {
        return Err(KeyError::Empty);
    }
    let bytes = RAW_URL
        .decode(text)
        .map_err(|e| KeyError::NotBase64(e.to_string()))?;
    <[u8; KEY_BYTES]>::try_from(bytes.as_slice()).map_err(|_| KeyError::WrongLength(bytes.len()))
}

/// Writes a key as base64 RawURL (43 characters).
pub fn encode_key(bytes: &[u8; KEY_BYTES]) -> String {
    RAW_URL.encode(bytes)
}

/// X25519 scalar clamping (RFC 7748 §5): what `xray x25519` applies to fresh random bytes
/// before printing them. The X25519 function clamps anyway, so a clamped and an unclamped
/// private key give the same public key; clamping at generation only makes the printed key
/// the same shape Xray's own are.
pub fn clamp(mut bytes: [u8; KEY_BYTES]) -> [u8; KEY_BYTES] {
    bytes[0] &= 248;
    bytes[31] &= 127;
    bytes[31] |= 64;
    bytes
}

/// The public key of a private key: X25519(k, 9).
pub fn public_from_private(private: &[u8; KEY_BYTES]) -> [u8; KEY_BYTES] {
    PublicKey::from(&StaticSecret::from(*private)).to_bytes()
}

/// The public key (base64 RawURL) of a `privateKey` as written in the config.
pub fn public_key_of(private_key: &str) -> Result<String, KeyError> {
    Ok(encode_key(&public_from_private(&decode_key(private_key)?)))
}

/// A fresh REALITY keypair, both halves as base64 RawURL.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// For the server's `realitySettings.privateKey`; a secret.
    pub private_key: String,
    /// For clients (`pbk` in links, `publicKey` in client configs).
    pub public_key: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("private_key", &"<secret>")
            .field("public_key", &self.public_key)
            .finish()
    }
}

/// Generates a keypair from the operating system's random source, clamped as Xray does.
pub fn generate_keypair() -> KeyPair {
    let private = clamp(StaticSecret::random().to_bytes());
    KeyPair {
        private_key: encode_key(&private),
        public_key: encode_key(&public_from_private(&private)),
    }
}

#[derive(Debug, Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(String);

/// A random shortId of `hex_chars` lower-case hex characters (even, at most 16).
pub fn random_short_id(hex_chars: usize) -> Result<String, RandomError> {
    let bytes = hex_chars.min(SHORT_ID_MAX_CHARS) / 2;
    let mut buf = [0u8; SHORT_ID_MAX_CHARS / 2];
    getrandom::fill(&mut buf[..bytes]).map_err(|e| RandomError(e.to_string()))?;
    Ok(buf[..bytes].iter().map(|b| format!("{b:02x}")).collect())
}

/// Why a shortId is refused: Xray's own rules (hex, even length, at most 16 characters).
pub fn short_id_problem(id: &str) -> Option<String> {
    if id.len() > SHORT_ID_MAX_CHARS {
        return Some(format!(
            "\"{id}\" has {} characters; at most {SHORT_ID_MAX_CHARS} are allowed",
            id.len()
        ));
    }
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(format!("\"{id}\" is not hexadecimal (0-9, a-f)"));
    }
    if !id.len().is_multiple_of(2) {
        return Some(format!(
            "\"{id}\" has an odd number of characters; it must be whole bytes"
        ));
    }
    None
}

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
