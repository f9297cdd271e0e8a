//! API tokens of veild's HTTP API on the wire: `token.add`, `token.list`, `token.revoke`,
//! and the HTTP listener's part of `health`. A token's secret travels once, in the answer
//! to `token.add`; veild keeps only its digest.

use serde::{Deserialize, Serialize};

/// The longest token name.
pub const NAME_MAX: usize = 64;

/// A token name: 1 to [`NAME_MAX`] ASCII letters, digits, `.`, `_` or `-`, starting with a
/// letter or digit. Names end up in logs, the audit trail and HTTP headers, so they are
/// kept plain.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > NAME_MAX {
        return Err(format!(
            "a token name must be 1 to {NAME_MAX} characters long"
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) || !name.chars().all(ok_char) {
        return Err(
            "a token name may hold only ASCII letters, digits, '.', '_' and '-', and must \
             start with a letter or digit"
                .to_owned(),
        );
    }
    Ok(())
}

/// `token.add`: makes a token for the HTTP API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenAdd {
    pub name: String,
    /// A read-only token may only read (GET); every change is refused with 403.
    #[serde(default)]
    pub read_only: bool,
    /// Unix seconds after which the token is refused; absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// A token as veild reports it: never its secret or digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub name: String,
    pub read_only: bool,
    /// Unix seconds.
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    /// When it last authenticated a request (updated at most once a minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
}

/// The answer to `token.add`: the token, and its secret, shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenAdded {
    pub token: TokenInfo,
    /// What a client sends as `Authorization: Bearer …` or `X-API-Key: …`.
    pub secret: String,
}

/// `token.list`: every token, revoked and expired ones included, by name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenList {}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPage {
    pub tokens: Vec<TokenInfo>,
}

/// `token.revoke`: the token stops working at once; its row stays for the audit trail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRevoke {
    pub name: String,
}

/// The HTTP listener's part of `health` (absent when `[http]` is off).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpHealth {
    /// The address it listens on.
    pub listen: String,
    /// Requests answered in the last 60 seconds.
    pub requests_last_minute: u64,
    /// The latest refused authentications, newest first (never the presented token).
    #[serde(default)]
    pub auth_failures: Vec<AuthFailure>,
    /// Whether it serves TLS (`tls_cert`, `tls_key`); absent (false) when it does not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
    /// The served certificate's expiry (Unix seconds), when it serves TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_not_after: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthFailure {
    /// Unix seconds.
    pub at: i64,
    /// The client's address.
    pub remote: String,
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_are_plain() {
        for good in ["billing", "bot-1", "a.b_c", "X"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(65);
        for bad in ["", "-x", ".x", "a b", "имя", "a/b", "a\nb", long.as_str()] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
