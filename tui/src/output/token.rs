//! `veil token …` for people.

use veil::format::utc_minute;
use veil::text::one_line;
use veil_shared::api::{TokenAdded, TokenInfo, TokenPage};

use super::table::{Align, Table};

/// `veil token add`: the secret on a line of its own, and the warning that it is shown once.
pub fn added(added: &TokenAdded) -> String {
    let t = &added.token;
    format!(
        "Token '{}' added ({}{}).\n\
         {}\n\
         Save it now: it is not shown again (veild keeps only a hash). Send it as\n\
         `Authorization: Bearer TOKEN` or `X-API-Key: TOKEN`.\n",
        one_line(&t.name),
        if t.read_only {
            "read-only"
        } else {
            "read-write"
        },
        t.expires_at
            .map(|at| format!(", expires {} UTC", utc_minute(at)))
            .unwrap_or_default(),
        one_line(&added.secret),
    )
}

/// `veil token list`: one row per token.
pub fn list(page: &TokenPage) -> String {
    if page.tokens.is_empty() {
        return "no API tokens (make one with `veil token add NAME`)\n".to_owned();
    }
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("ACCESS", Align::Left),
        ("CREATED (UTC)", Align::Left),
        ("EXPIRES (UTC)", Align::Left),
        ("LAST USED (UTC)", Align::Left),
        ("STATE", Align::Left),
    ]);
    for t in &page.tokens {
        table.push(vec![
            one_line(&t.name).into_owned(),
            if t.read_only {
                "read-only"
            } else {
                "read-write"
            }
            .to_owned(),
            utc_minute(t.created_at),
            t.expires_at.map_or_else(|| "never".to_owned(), utc_minute),
            t.last_used_at.map_or_else(|| "-".to_owned(), utc_minute),
            state(t),
        ]);
    }
    table.render()
}

/// `veil token revoke`.
pub fn revoked(t: &TokenInfo) -> String {
    format!(
        "Token '{}' revoked: requests with it are refused from now on.\n",
        one_line(&t.name)
    )
}

fn state(t: &TokenInfo) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    match (t.revoked_at, t.expires_at) {
        (Some(at), _) => format!("revoked {}", utc_minute(at)),
        (None, Some(at)) if at <= now => "expired".to_owned(),
        _ => "active".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(name: &str) -> TokenInfo {
        TokenInfo {
            name: name.into(),
            read_only: false,
            created_at: 1_795_708_980,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        }
    }

    #[test]
    fn the_secret_is_shown_with_its_warning() {
        let out = added(&TokenAdded {
            token: TokenInfo {
                read_only: true,
                ..token("billing")
            },
            secret: "veil_abc".into(),
        });
        assert!(
            out.contains("Token 'billing' added (read-only).\nveil_abc\n"),
            "{out}"
        );
        assert!(out.contains("not shown again"), "{out}");
    }

    #[test]
    fn list_shows_states() {
        let page = TokenPage {
            tokens: vec![
                token("a"),
                TokenInfo {
                    revoked_at: Some(1_795_709_000),
                    ..token("b")
                },
                TokenInfo {
                    expires_at: Some(1),
                    ..token("c")
                },
            ],
        };
        let out = list(&page);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("NAME"), "{out}");
        assert!(lines[1].ends_with("active"), "{out}");
        assert!(lines[2].contains("revoked"), "{out}");
        assert!(lines[3].ends_with("expired"), "{out}");
        assert!(list(&TokenPage { tokens: vec![] }).starts_with("no API tokens"));
    }
}
