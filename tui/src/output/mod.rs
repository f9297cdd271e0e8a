//! What `veil` prints for people: one function per result, each returning the full text
//! (ending in a newline) so tests can pin it. Nothing here does IO or talks to veild.
//!
//! - [`table`]: aligned tables and `label: value` blocks (the others build on it).
//! - [`key`], [`health`], [`audit`], [`traffic`], [`share`], [`token`]: one file per command
//!   group.
//! - [`watch`]: event lines (uses [`key`] and [`traffic`]).
//! - [`webhook`]: `veil webhook list` and the webhooks' lines of `veil health`.
//!
//! Sizes, times and states come from [`veil::format`]; every daemon string is made safe
//! with [`veil::text`] before it is printed.

use serde_json::Value;

pub mod audit;
pub mod health;
pub mod key;
pub mod node;
pub mod share;
pub mod table;
pub mod token;
pub mod traffic;
pub mod watch;
pub mod webhook;

#[cfg(test)]
pub(crate) mod fixtures;

/// `veil backup`: where the copy went and what it holds.
pub fn backup(b: &veil_shared::api::BackupResult) -> String {
    let mut out = format!(
        "Backed up {} ({}, {} keys, {} audit entries, schema {}) in {} ms.\n",
        veil::text::one_line(&b.path),
        veil::format::bytes_long(b.bytes),
        b.keys,
        b.audit_rows,
        b.schema,
        b.took_ms
    );
    for old in &b.rotated {
        out.push_str(&format!(
            "Removed the old backup {}.\n",
            veil::text::one_line(old)
        ));
    }
    out
}

/// `--json`: the result object exactly as the daemon sent it.
pub fn json(value: &Value) -> String {
    let mut out = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn json_is_the_value_itself() {
        let v = serde_json::json!({"keys": [], "total": 0});
        let out = json(&v);
        assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), v);
        assert!(out.ends_with("}\n"));
    }
}
