//! REALITY keys as Xray writes them: X25519, 32 bytes, written as base64 "RawURL" (URL
//! alphabet `-` `_`, no padding, 43 characters), the form `xray x25519` prints and
//! `realitySettings.privateKey` takes; and the shared shortId.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use thiserror::Error;
use x25519_dalek::{PublicKey, StaticSecret};

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
