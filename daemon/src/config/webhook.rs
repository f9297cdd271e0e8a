//! `[[webhook]]` in `veild.toml`: receivers of signed event POSTs (the `webhook` module
//! delivers them). Each entry names a URL, a signing secret (inline or in a file) and the
//! event kinds it wants; retries, timeouts and the usage/expiry thresholds have defaults.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Every event kind a webhook may ask for (`*` asks for all).
pub const KINDS: &[&str] = &[
    "key.created",
    "key.updated",
    "key.disabled",
    "key.enabled",
    "key.deleted",
    "key.rotated",
    "key.usage",
    "key.expiring",
    "core.down",
    "core.up",
];

/// The longest webhook name.
const NAME_MAX: usize = 64;

/// A signing secret: never printed (its `Debug` is a placeholder), never logged.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: String) -> Self {
        Secret(text)
    }

    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// One `[[webhook]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Shown in `health`, `veil webhook list` and logs; default: the URL's host.
    #[serde(default)]
    pub name: Option<String>,
    /// `http://` or `https://` URL the events are POSTed to.
    pub url: String,
    /// The HMAC-SHA256 signing secret (or `secret_file`, one of the two).
    #[serde(default)]
    pub secret: Option<Secret>,
    /// A file holding the secret (surrounding whitespace ignored).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Event kinds wanted ([`KINDS`]); `["*"]` (the default) wants every kind.
    #[serde(default = "defaults::events")]
    pub events: Vec<String>,
    /// Shares of a key's data limit (0 < share ≤ 1) whose crossing sends `key.usage`.
    #[serde(default)]
    pub usage_shares: Vec<f64>,
    /// How long before a key's expiry `key.expiring` is sent (e.g. `3d`); absent: never.
    #[serde(default)]
    pub expiry_warning: Option<String>,
    /// The first retry's delay; each next one doubles, up to `retry_max` (with jitter).
    #[serde(default = "defaults::retry_initial")]
    pub retry_initial: String,
    #[serde(default = "defaults::retry_max")]
    pub retry_max: String,
    /// A delivery still failing this long after its event is marked failed.
    #[serde(default = "defaults::give_up_after")]
    pub give_up_after: String,
    /// … or after this many attempts, whichever comes first.
    #[serde(default = "defaults::max_attempts")]
    pub max_attempts: u32,
    /// One request's timeout.
    #[serde(default = "defaults::timeout")]
    pub timeout: String,
}

mod defaults {
    pub fn events() -> Vec<String> {
        vec!["*".to_owned()]
    }
    pub fn retry_initial() -> String {
        "5s".to_owned()
    }
    pub fn retry_max() -> String {
        "1h".to_owned()
    }
    pub fn give_up_after() -> String {
        "24h".to_owned()
    }
    pub fn max_attempts() -> u32 {
        100
    }
    pub fn timeout() -> String {
        "10s".to_owned()
    }
}

/// A checked webhook: what the delivery task and the outbox need.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub name: String,
    pub url: reqwest::Url,
    /// The URL without user info, query or fragment: safe for logs and `health`.
    pub shown_url: String,
    pub secret: Secret,
    pub events: Vec<String>,
    pub usage_shares: Vec<f64>,
    pub expiry_warning: Option<Duration>,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub give_up_after: Duration,
    pub max_attempts: u32,
    pub timeout: Duration,
}

/// What is wrong with one entry: its key (`webhook.url`), its value, the problem.
pub type Problem = (&'static str, String, String);

/// Checks every entry (names unique), reading secret files. On error: which key of which
/// entry, its value (never a secret) and the problem.
pub fn check_all(entries: &[WebhookConfig]) -> Result<Vec<Webhook>, Problem> {
    let mut out: Vec<Webhook> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let hook = entry.check().map_err(|(key, value, problem)| {
            (key, value, format!("[[webhook]] #{}: {problem}", index + 1))
        })?;
        if out.iter().any(|other| other.name == hook.name) {
            return Err((
                "webhook.name",
                format!("{:?}", hook.name),
                format!(
                    "[[webhook]] #{}: another webhook has this name; give each a distinct `name`",
                    index + 1
                ),
            ));
        }
        out.push(hook);
    }
    Ok(out)
}

impl WebhookConfig {
    fn check(&self) -> Result<Webhook, Problem> {
        let url = check_url(&self.url).map_err(|p| {
            // What can be parsed is shown without user info or query (secrets hide there).
            let shown = reqwest::Url::parse(self.url.trim())
                .map_or_else(|_| self.url.clone(), |u| scrub_url(&u));
            ("webhook.url", format!("{shown:?}"), p)
        })?;
        let name = match &self.name {
            Some(name) => name.clone(),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        check_name(&name).map_err(|p| ("webhook.name", format!("{name:?}"), p))?;
        let secret = self.secret()?;
        for kind in &self.events {
            if kind != "*" && !KINDS.contains(&kind.as_str()) {
                return Err((
                    "webhook.events",
                    format!("{kind:?}"),
                    format!("unknown event kind; known: *, {}", KINDS.join(", ")),
                ));
            }
        }
        if self.events.is_empty() {
            return Err((
                "webhook.events",
                "[]".to_owned(),
                "must name at least one kind (or \"*\")".to_owned(),
            ));
        }
        for share in &self.usage_shares {
            if !(share.is_finite() && *share > 0.0 && *share <= 1.0) {
                return Err((
                    "webhook.usage_shares",
                    share.to_string(),
                    "each share must be above 0 and at most 1 (0.8 = 80 % of the limit)".to_owned(),
                ));
            }
        }
        let span = |key: &'static str, text: &str, min: Duration, max: Duration| {
            parse_span(text, min, max).map_err(|p| (key, format!("{text:?}"), p))
        };
        let ms = Duration::from_millis;
        let day = Duration::from_secs(86_400);
        let expiry_warning = match &self.expiry_warning {
            Some(text) => Some(span(
                "webhook.expiry_warning",
                text,
                Duration::from_secs(60),
                day * 366,
            )?),
            None => None,
        };
        let retry_initial = span("webhook.retry_initial", &self.retry_initial, ms(10), day)?;
        let retry_max = span("webhook.retry_max", &self.retry_max, retry_initial, day * 7)?;
        let give_up_after = span(
            "webhook.give_up_after",
            &self.give_up_after,
            ms(10),
            day * 30,
        )?;
        let timeout = span("webhook.timeout", &self.timeout, ms(100), ms(300_000))?;
        if !(1..=100_000).contains(&self.max_attempts) {
            return Err((
                "webhook.max_attempts",
                self.max_attempts.to_string(),
                "must be from 1 to 100000".to_owned(),
            ));
        }
        Ok(Webhook {
            shown_url: scrub_url(&url),
            name,
            url,
            secret,
            events: self.events.clone(),
            usage_shares: self.usage_shares.clone(),
            expiry_warning,
            retry_initial,
            retry_max,
            give_up_after,
            max_attempts: self.max_attempts,
            timeout,
        })
    }

    /// The secret, inline or read from `secret_file` (exactly one of them).
    fn secret(&self) -> Result<Secret, Problem> {
        let text = match (&self.secret, &self.secret_file) {
            (Some(secret), None) => secret.0.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| {
                    (
                        "webhook.secret_file",
                        format!("{:?}", path.display().to_string()),
                        format!("cannot read it: {e}"),
                    )
                })?
                .trim()
                .to_owned(),
            (Some(_), Some(_)) => {
                return Err((
                    "webhook.secret",
                    "(hidden)".to_owned(),
                    "set `secret` or `secret_file`, not both".to_owned(),
                ));
            }
            (None, None) => {
                return Err((
                    "webhook.secret",
                    "(missing)".to_owned(),
                    "a signing secret is required: `secret = \"…\"` or `secret_file = \"/etc/veil/hook.secret\"`"
                        .to_owned(),
                ));
            }
        };
        if text.len() < 16 {
            return Err((
                "webhook.secret",
                "(hidden)".to_owned(),
                "must be at least 16 characters long (e.g. `openssl rand -hex 32`)".to_owned(),
            ));
        }
        Ok(Secret(text))
    }
}

fn check_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text.trim())
        .map_err(|e| format!("not a URL ({e}); e.g. https://admin.example.com/veil/events"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the host is missing".to_owned());
    }
    Ok(url)
}

/// 1 to 64 ASCII letters, digits, `.`, `_` or `-`, starting with a letter or digit.
fn check_name(name: &str) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty()
        || name.len() > NAME_MAX
        || !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.chars().all(ok)
    {
        return Err(format!(
            "a webhook name must be 1 to {NAME_MAX} ASCII letters, digits, '.', '_' or '-', \
             starting with a letter or digit (set `name` when the URL's host is not one)"
        ));
    }
    Ok(())
}

/// A span like `200ms`, `5s`, `1h`, `3d`, within `min..=max`.
fn parse_span(text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let span = humantime::parse_duration(text.trim())
        .map_err(|e| format!("not a duration ({e}); e.g. 500ms, 5s, 10m, 1h, 3d"))?;
    if span < min || span > max {
        return Err(format!(
            "must be from {} to {}",
            humantime::format_duration(min),
            humantime::format_duration(max)
        ));
    }
    Ok(span)
}

/// A URL as logs and `health` show it: scheme, host, port and path; never user info, query
/// or fragment (where secrets hide).
pub fn scrub_url(url: &reqwest::Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    shown
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn entry(toml_text: &str) -> Result<Vec<Webhook>, Problem> {
        #[derive(Deserialize)]
        struct File {
            webhook: Vec<WebhookConfig>,
        }
        let file: File = toml::from_str(toml_text).unwrap();
        check_all(&file.webhook)
    }

    #[test]
    fn defaults_name_from_the_host_and_scrub_secrets_from_the_url() {
        let hooks = entry(
            "[[webhook]]\nurl = \"https://user:pw@admin.example.com:8443/hook?token=abc#x\"\n\
             secret = \"0123456789abcdef\"\n",
        )
        .unwrap();
        assert_eq!(hooks[0].name, "admin.example.com");
        assert_eq!(hooks[0].shown_url, "https://admin.example.com:8443/hook");
        assert_eq!(hooks[0].events, vec!["*"]);
        assert_eq!(hooks[0].retry_initial, Duration::from_secs(5));
        assert_eq!(hooks[0].retry_max, Duration::from_secs(3600));
        assert!(!format!("{:?}", hooks[0]).contains("0123456789abcdef"));
    }

    #[test]
    fn bad_entries_name_the_key() {
        let base = "[[webhook]]\nurl = \"https://a.example/h\"\n";
        let cases = [
            (
                "[[webhook]]\nurl = \"ftp://a/b\"\nsecret = \"0123456789abcdef\"\n",
                "webhook.url",
            ),
            (base, "webhook.secret"),
            (&format!("{base}secret = \"short\"\n"), "webhook.secret"),
            (
                &format!("{base}secret = \"0123456789abcdef\"\nevents = [\"key.made\"]\n"),
                "webhook.events",
            ),
            (
                &format!("{base}secret = \"0123456789abcdef\"\nusage_shares = [1.5]\n"),
                "webhook.usage_shares",
            ),
            (
                &format!("{base}secret = \"0123456789abcdef\"\nexpiry_warning = \"soon\"\n"),
                "webhook.expiry_warning",
            ),
            (
                &format!(
                    "{base}secret = \"0123456789abcdef\"\n{base}secret = \"0123456789abcdef\"\n"
                ),
                "webhook.name",
            ),
        ];
        for (text, key) in cases {
            let (got, _, problem) = entry(text).unwrap_err();
            assert_eq!(got, key, "{text}: {problem}");
            assert!(!problem.contains("0123456789abcdef"));
        }
    }
}
