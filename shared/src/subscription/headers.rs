//! The response headers subscription clients read. Every value is built from integers,
//! base64, percent-encoding or checked ASCII, so none can carry CR, LF or another control
//! character whatever a key is named.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{Format, SubKey};

/// What goes in the headers besides the key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderSettings {
    /// `profile-update-interval`, in hours (at least 1).
    pub update_hours: u32,
    /// `support-url`, when set (checked: no whitespace or control characters).
    pub support_url: Option<String>,
    /// `profile-web-page-url`, when set.
    pub web_page_url: Option<String>,
}

/// `subscription-userinfo`: `upload=U; download=D; total=T; expire=E` (integers; total is
/// the data limit or 0 for none, expire Unix seconds or 0 for never).
pub fn userinfo(key: &SubKey) -> String {
    format!(
        "upload={}; download={}; total={}; expire={}",
        key.upload,
        key.download,
        key.data_limit.unwrap_or(0),
        key.expires_at.unwrap_or(0).max(0)
    )
}

fn plain_ascii(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// `profile-title`: the title as it is when it is printable ASCII, else `base64:` and the
/// standard base64 of its UTF-8.
pub fn profile_title(title: &str) -> String {
    if plain_ascii(title) && !title.is_empty() {
        title.to_owned()
    } else {
        format!("base64:{}", STANDARD.encode(title))
    }
}

/// What RFC 8187 leaves unescaped in `filename*` (attr-char).
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The name as a safe ASCII file name: letters, digits, `-`, `_`, `.` and spaces kept,
/// anything else `_` (a run of them with spaces is one `_`), at most 64 characters; `veil` when nothing is
/// left.
pub fn ascii_file_stem(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let keep = c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ');
        let c = if keep { c } else { '_' };
        match c {
            // A run of replaced characters and spaces becomes one `_`.
            '_' => {
                while out.ends_with([' ', '_']) {
                    out.pop();
                }
                out.push('_');
            }
            ' ' if out.ends_with('_') => {}
            c => out.push(c),
        }
    }
    let trimmed: String = out
        .trim_matches(|c: char| c == '_' || c == '.' || c == ' ')
        .chars()
        .take(64)
        .collect();
    if trimmed.chars().any(|c| c.is_ascii_alphanumeric()) {
        trimmed
    } else {
        "veil".to_owned()
    }
}

/// `content-disposition`: `attachment; filename="STEM.EXT"`, and for a name that is not
/// plain ASCII also `filename*=UTF-8''…` with the whole name percent-encoded.
pub fn content_disposition(name: &str, extension: &str) -> String {
    let stem = ascii_file_stem(name);
    let mut value = format!("attachment; filename=\"{stem}.{extension}\"");
    if stem != name {
        let full = format!("{name}.{extension}");
        value.push_str("; filename*=UTF-8''");
        value.push_str(&utf8_percent_encode(&full, ATTR_CHAR).to_string());
    }
    value
}

/// Whether `url` may go in a header: an `http(s)://` URL of printable ASCII without
/// spaces or quotes.
pub fn header_url_ok(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2048
        && url
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

/// Every header of a subscription answer for `key` in `format`, names in lower case.
pub fn headers(
    key: &SubKey,
    format: Format,
    settings: &HeaderSettings,
) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("subscription-userinfo", userinfo(key)),
        ("profile-title", profile_title(&key.name)),
        (
            "profile-update-interval",
            settings.update_hours.max(1).to_string(),
        ),
        (
            "content-disposition",
            content_disposition(&key.name, format.extension()),
        ),
    ];
    if let Some(url) = settings.support_url.as_deref().filter(|u| header_url_ok(u)) {
        out.push(("support-url", url.to_owned()));
    }
    if let Some(url) = settings
        .web_page_url
        .as_deref()
        .filter(|u| header_url_ok(u))
    {
        out.push(("profile-web-page-url", url.to_owned()));
    }
    out
}
