//! Naming helpers for adoption: a key name from a client email found in the file. (The
//! client entry itself is `veil_shared::coreconfig::InboundClient`, re-exported by the
//! parent as `FileClient`.)

use veil_shared::validate;

/// The longest candidate [`name_from_email`] returns, leaving room for a `-N` suffix the
/// caller may add to make it unique.
const CANDIDATE_MAX_CHARS: usize = validate::PREFIX_MAX_CHARS;

/// Turns a client email found in the file (`alice@example.com`, `user_1`) into a key-name
/// candidate: the part before the first `@`, without refused characters, trimmed, at most
/// 48 characters. Names that would read as an id or a UUID get a `client-` prefix
/// (`12345@x` → `client-12345`); an empty result becomes `client`.
///
/// The caller still makes the name unique and validates it with
/// [`veil_shared::validate::name`]; every non-empty result passes that check.
pub fn name_from_email(email: &str) -> String {
    let local = email.split_once('@').map_or(email, |(l, _)| l);
    let cleaned: String = local
        .chars()
        .filter(|&c| !validate::refused_char(c))
        .collect();
    let candidate: String = cleaned.trim().chars().take(CANDIDATE_MAX_CHARS).collect();
    let candidate = candidate.trim();
    if candidate.is_empty() {
        return "client".to_owned();
    }
    match validate::name(candidate) {
        Ok(name) => name,
        Err(_) => format!("client-{candidate}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn names_from_emails() {
        assert_eq!(name_from_email("alice@example.com"), "alice");
        assert_eq!(name_from_email("user_1"), "user_1");
        assert_eq!(name_from_email("  bob  @x"), "bob");
        assert_eq!(name_from_email("12345@x"), "client-12345");
        assert_eq!(name_from_email("-7"), "client--7");
        assert_eq!(
            name_from_email("6a2f1e1c-1111-4222-8333-444455556666@x"),
            "client-6a2f1e1c-1111-4222-8333-444455556666"
        );
        assert_eq!(name_from_email("@example.com"), "client");
        assert_eq!(name_from_email(""), "client");
        assert_eq!(name_from_email("a\u{202E}b\n@x"), "ab");
        assert_eq!(name_from_email("Ёжик 🦔@x"), "Ёжик 🦔");
        let long = "x".repeat(100);
        assert_eq!(name_from_email(&long).chars().count(), 48);
        for email in ["12345@x", "alice@example.com", "@", &long, "0", "+1@a"] {
            let name = name_from_email(email);
            assert!(validate::name(&name).is_ok(), "{email} -> {name}");
        }
    }
}
