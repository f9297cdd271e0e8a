//! `[http]` in `veild.toml`: the optional HTTP API. Off unless `listen` is set.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[http]`: every value but `listen` has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `IP:PORT` to listen on, e.g. `127.0.0.1:8080` behind nginx, or `0.0.0.0:8443` with
    /// `tls_cert` and `tls_key`; absent: no listener.
    #[serde(default)]
    pub listen: Option<String>,
    /// The TLS certificate chain (PEM, the server's certificate first). With `tls_key`,
    /// veild serves the API over TLS (rustls); both or neither. A file that cannot be read,
    /// holds no certificate or does not match the key stops veild at start. Both files are
    /// read again on SIGHUP and when either changes; a bad pair then leaves the old one in
    /// service (and is logged). Without them, terminating TLS in a proxy (nginx) in front of
    /// a loopback `listen` works as well.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert` (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC).
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// Allows a non-loopback `listen` without TLS (tokens then travel in clear).
    #[serde(default)]
    pub allow_plaintext: bool,
    /// Peers whose `X-Forwarded-For` names the client (e.g. `127.0.0.1` for nginx on the
    /// same host). From anyone else the header is ignored.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Browser origins allowed by CORS, e.g. `https://admin.example.com`; empty: none.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Requests per minute from one client address (every route, `/health` included).
    #[serde(default = "defaults::rate_per_minute")]
    pub rate_per_minute: u32,
    /// Key creations and deletions per minute from one client address.
    #[serde(default = "defaults::create_delete_per_minute")]
    pub create_delete_per_minute: u32,
    /// Requests per minute with one API token.
    #[serde(default = "defaults::token_rate_per_minute")]
    pub token_rate_per_minute: u32,
    /// Failed authentications per minute from one client address before it gets 429.
    #[serde(default = "defaults::auth_failures_per_minute")]
    pub auth_failures_per_minute: u32,
    /// The largest request body; larger ones get 413.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: u64,
    /// A request that takes longer is answered with 503 `timeout`.
    #[serde(default = "defaults::request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Connections served at once (more wait in the kernel's backlog).
    #[serde(default = "defaults::max_connections")]
    pub max_connections: u64,
    /// Subscription fetches (`GET /sub/{token}`) one client address earns back per minute,
    /// after a burst of half as many (at least 1).
    #[serde(default = "defaults::sub_rate_per_minute")]
    pub sub_rate_per_minute: u32,
}

mod defaults {
    pub fn rate_per_minute() -> u32 {
        100
    }
    pub fn create_delete_per_minute() -> u32 {
        10
    }
    pub fn token_rate_per_minute() -> u32 {
        600
    }
    pub fn auth_failures_per_minute() -> u32 {
        10
    }
    pub fn max_body_bytes() -> u64 {
        1024 * 1024
    }
    pub fn request_timeout_ms() -> u64 {
        30_000
    }
    pub fn max_connections() -> u64 {
        256
    }
    pub fn sub_rate_per_minute() -> u32 {
        60
    }
}

/// What is wrong with one setting: its key, its value as written, the problem.
pub type Problem = (&'static str, String, String);

impl HttpConfig {
    /// The address to listen on, when the listener is on.
    pub fn listen_addr(&self) -> Result<Option<SocketAddr>, String> {
        let Some(listen) = &self.listen else {
            return Ok(None);
        };
        let addr: SocketAddr = listen.trim().parse().map_err(|_| {
            "must be IP:PORT, e.g. 127.0.0.1:8080 (an address, not a host name)".to_owned()
        })?;
        if addr.port() == 0 {
            return Err("the port must be from 1 to 65535".to_owned());
        }
        Ok(Some(addr))
    }

    /// The trusted proxies as addresses (checked by [`HttpConfig::check`]).
    pub fn proxies(&self) -> Vec<IpAddr> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| p.trim().parse().ok())
            .collect()
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Every setting sound, or the first that is not.
    pub fn check(&self) -> Result<(), Problem> {
        let addr = self.listen_addr().map_err(|p| {
            (
                "http.listen",
                format!("{:?}", self.listen.as_deref().unwrap_or_default()),
                p,
            )
        })?;
        self.check_tls_pair()?;
        if let Some(addr) = addr
            && !addr.ip().is_loopback()
            && !self.tls()
            && !self.allow_plaintext
        {
            return Err((
                "http.listen",
                format!("{:?}", self.listen.as_deref().unwrap_or_default()),
                "a listener beyond loopback needs TLS: set tls_cert and tls_key, or listen \
                 on 127.0.0.1 behind a TLS proxy (nginx), or set allow_plaintext = true to \
                 send API tokens in clear"
                    .to_owned(),
            ));
        }
        for proxy in &self.trusted_proxies {
            if proxy.trim().parse::<IpAddr>().is_err() {
                return Err((
                    "http.trusted_proxies",
                    format!("{proxy:?}"),
                    "must be an IP address, e.g. \"127.0.0.1\"".to_owned(),
                ));
            }
        }
        for origin in &self.cors_origins {
            check_origin(origin)
                .map_err(|p| ("http.cors_origins", format!("{origin:?}"), p.to_owned()))?;
        }
        self.check_ranges()
    }

    /// Whether the listener serves TLS (both files set).
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }

    /// `tls_cert` and `tls_key` go together.
    fn check_tls_pair(&self) -> Result<(), Problem> {
        let pair = [
            ("http.tls_cert", &self.tls_cert, "http.tls_key"),
            ("http.tls_key", &self.tls_key, "http.tls_cert"),
        ];
        for (key, value, other) in pair {
            if let Some(value) = value
                && !self.tls()
            {
                return Err((
                    key,
                    format!("\"{}\"", value.display()),
                    format!("needs {other} as well: set both PEM files, or neither"),
                ));
            }
        }
        Ok(())
    }

    fn check_ranges(&self) -> Result<(), Problem> {
        let ranges: [(&'static str, u64, u64, u64); 8] = [
            (
                "http.rate_per_minute",
                self.rate_per_minute.into(),
                1,
                1_000_000,
            ),
            (
                "http.create_delete_per_minute",
                self.create_delete_per_minute.into(),
                1,
                1_000_000,
            ),
            (
                "http.token_rate_per_minute",
                self.token_rate_per_minute.into(),
                1,
                1_000_000,
            ),
            (
                "http.auth_failures_per_minute",
                self.auth_failures_per_minute.into(),
                1,
                1_000_000,
            ),
            ("http.max_body_bytes", self.max_body_bytes, 1024, 64 << 20),
            (
                "http.request_timeout_ms",
                self.request_timeout_ms,
                100,
                600_000,
            ),
            ("http.max_connections", self.max_connections, 1, 100_000),
            (
                "http.sub_rate_per_minute",
                self.sub_rate_per_minute.into(),
                1,
                1_000_000,
            ),
        ];
        for (key, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err((
                    key,
                    value.to_string(),
                    format!("must be from {min} to {max}"),
                ));
            }
        }
        Ok(())
    }
}

/// `scheme://host[:port]`, as browsers send it in `Origin` (no path, no wildcard).
fn check_origin(origin: &str) -> Result<(), &'static str> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or("must start with https:// or http://")?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if rest.is_empty() || !rest.chars().all(plain) {
        return Err("must be scheme://host[:port], without a path or wildcard");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn parse(text: &str) -> HttpConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn off_without_listen_and_defaults_filled() {
        let c = parse("");
        assert_eq!(c.listen_addr().unwrap(), None);
        assert!(c.check().is_ok());
        assert_eq!((c.rate_per_minute, c.create_delete_per_minute), (100, 10));
        assert_eq!(c.max_body_bytes, 1 << 20);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("listen = \"0.0.0.0:8080\"", "http.listen"),
            ("listen = \"localhost:8080\"", "http.listen"),
            ("listen = \"127.0.0.1:0\"", "http.listen"),
            (
                "listen = \"127.0.0.1:1\"\ntls_cert = \"/c.pem\"",
                "http.tls_cert",
            ),
            ("trusted_proxies = [\"nginx\"]", "http.trusted_proxies"),
            ("cors_origins = [\"*\"]", "http.cors_origins"),
            (
                "cors_origins = [\"https://a.example/x\"]",
                "http.cors_origins",
            ),
            ("tls_key = \"/k.pem\"", "http.tls_key"),
            ("rate_per_minute = 0", "http.rate_per_minute"),
            ("sub_rate_per_minute = 0", "http.sub_rate_per_minute"),
            ("max_body_bytes = 10", "http.max_body_bytes"),
        ] {
            let (got, _, _) = parse(text).check().unwrap_err();
            assert_eq!(got, key, "{text}");
        }
        let open = parse("listen = \"0.0.0.0:8080\"\nallow_plaintext = true");
        assert!(open.check().is_ok());
        let tls = parse("listen = \"0.0.0.0:8443\"\ntls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"");
        assert!(tls.check().is_ok() && tls.tls());
        assert_eq!(parse("").sub_rate_per_minute, 60);
        let cors = parse("cors_origins = [\"https://admin.example.com:8443\"]");
        assert!(cors.check().is_ok());
    }
}
