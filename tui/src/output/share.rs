//! `veil key link|config|qr` for people.

use serde_json::Value;
use veil::text::one_line;
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
