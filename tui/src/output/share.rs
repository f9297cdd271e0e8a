//! `veil key link|config|qr|sub` for people.

use serde_json::Value;
use veil::text::one_line;
use veil_shared::api::KeySubResult;
use veil_shared::model::Key;
use veil_shared::qr::{Qr, TERMINAL_COLUMNS};

/// The share link on its own line, so `veil key link alice | xclip` works.
pub fn link(link: &str) -> String {
    format!("{link}\n")
}

/// The client config itself (so `veil key config alice > config.json` works).
pub fn config(config: &Value) -> Result<String, serde_json::Error> {
    let mut out = serde_json::to_string_pretty(config)?;
    out.push('\n');
    Ok(out)
}

/// The QR code, a note when it is wider than a usual terminal, then the key and its link.
pub fn qr(code: &Qr, key: &Key, link: &str) -> String {
    let mut out = format!("{}\n\n", code.text);
    if !code.fits() {
        out.push_str(&format!(
            "(this code is {} columns wide, more than {TERMINAL_COLUMNS}: widen the terminal, or \
             shorten the key's name)\n",
            code.columns
        ));
    }
    out.push_str(&format!(
        "key {} '{}'\n{link}\n",
        key.id,
        one_line(&key.name)
    ));
    out
}

/// The subscription URL (its QR code first, when drawn), or that it was revoked.
pub fn sub(result: &KeySubResult, key: &Key, code: Option<&Qr>, rotated: bool) -> String {
    let name = one_line(&key.name);
    let Some(url) = result.url.as_deref() else {
        return format!(
            "key {} '{name}': subscription URL revoked; fetching it answers 404\n",
            key.id
        );
    };
    let mut out = String::new();
    if let Some(code) = code {
        out.push_str(&format!("{}\n\n", code.text));
    }
    if rotated {
        out.push_str(&format!(
            "key {} '{name}': new subscription URL (the old one stopped working):\n",
            key.id
        ));
    } else {
        out.push_str(&format!("key {} '{name}': subscription URL:\n", key.id));
    }
    out.push_str(url);
    out.push('\n');
    if url.starts_with('/') {
        out.push_str(
            "(set [public] subscription_base in veild.toml, e.g. \"https://vpn.example.com/sub/\", \
             to get whole URLs)\n",
        );
    }
    out
}
