//! `veild.toml`, the daemon's one config file: typed, strict (unknown keys are errors),
//! defaults in one place, and checked at start with messages that name the key and the
//! bad value.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use veil_shared::coreconfig::Flavor;

pub mod fleet;
pub mod http;
pub mod webhook;

pub const DEFAULT_PATH: &str = "/etc/veil/veild.toml";

/// The socket's mode: owner and `socket_group` read and write, nobody else.
pub const SOCKET_MODE: u32 = 0o660;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "defaults::socket")]
    pub socket: PathBuf,
    #[serde(default = "defaults::database")]
    pub database: PathBuf,
    /// Members of this group may use the socket; root always may.
    #[serde(default = "defaults::socket_group")]
    pub socket_group: String,
    pub core: CoreConfig,
    pub public: PublicConfig,
    /// The traffic poller and history retention; every value has a default.
    #[serde(default)]
    pub traffic: crate::traffic::TrafficConfig,
    /// Caps and the idle timeout of socket connections; every value has a default.
    #[serde(default)]
    pub connections: ConnectionsConfig,
    /// Scheduled database backups; every value has a default.
    #[serde(default)]
    pub backup: crate::store::backup::BackupConfig,
    /// Log level and an optional rotating log file; every value has a default.
    #[serde(default)]
    pub log: crate::logging::LogConfig,
    /// An optional Prometheus endpoint; absent: no listener.
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
    /// The optional HTTP API; absent (or without `listen`): no listener.
    #[serde(default)]
    pub http: Option<http::HttpConfig>,
    /// `[[webhook]]` entries: receivers of signed event POSTs; none by default.
    #[serde(default, rename = "webhook")]
    pub webhook_entries: Vec<webhook::WebhookConfig>,
    /// `[fleet]`: this veild is a node of a fleet on a PostgreSQL registry; absent: a
    /// single server.
    #[serde(default)]
    pub fleet: Option<fleet::FleetConfig>,
    /// The entries checked, secrets read (filled in by [`Config::parse_offline`]).
    #[serde(skip)]
    pub webhooks: Vec<webhook::Webhook>,
}

/// `[metrics]` in `veild.toml`: when present, veild serves Prometheus text on
/// `GET http://LISTEN/metrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `IP:PORT` to listen on, e.g. `127.0.0.1:8390`. The endpoint has no authentication:
    /// keep it on loopback.
    pub listen: String,
}

impl MetricsConfig {
    /// The address to listen on, or what is wrong with `listen`.
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        let addr: SocketAddr = self.listen.trim().parse().map_err(|_| {
            "must be IP:PORT, e.g. 127.0.0.1:8390 (an address, not a host name)".to_owned()
        })?;
        if addr.port() == 0 {
            return Err("the port must be from 1 to 65535".to_owned());
        }
        Ok(addr)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoreConfig {
    #[serde(default = "defaults::flavor")]
    pub flavor: Flavor,
    /// The core's gRPC API, `HOST:PORT`; it has no authentication, so keep it on loopback.
    #[serde(default = "defaults::api")]
    pub api: String,
    /// The tag of the VLESS inbound whose clients Veil manages.
    #[serde(default = "defaults::inbound_tag")]
    pub inbound_tag: String,
    /// The core's config file, which Veil keeps in step with the database.
    #[serde(default = "defaults::core_config")]
    pub config: PathBuf,
    /// Checks a candidate config file; `{config}` is replaced by its path. Default per flavor.
    #[serde(default)]
    pub test_command: Option<Vec<String>>,
    /// The core's systemd unit: the doctor reads its `User=`, `Group=` and
    /// `SupplementaryGroups=` to check that the core can read its config. Default per
    /// flavor (`xray.service`, `v2ray.service`).
    #[serde(default)]
    pub unit: Option<String>,
    /// How often the health watcher polls the core (GetSysStats).
    #[serde(default = "defaults::health_interval_ms")]
    pub health_interval_ms: u64,
    /// How often the drift audit compares the core's users with the database (xray only).
    #[serde(default = "defaults::drift_interval_ms")]
    pub drift_interval_ms: u64,
    /// Timeout of one gRPC call to the core.
    #[serde(default = "defaults::call_timeout_ms")]
    pub call_timeout_ms: u64,
    /// Backups of the core config file kept beside it.
    #[serde(default = "defaults::backups")]
    pub backups: usize,
    /// Tries of a change against an unreachable core before it waits for the core (only
    /// transient errors are retried, with backoff).
    #[serde(default = "defaults::retry_tries")]
    pub retry_tries: u32,
    /// Delay after the first failed try; doubles each try up to `retry_max_delay_ms`.
    #[serde(default = "defaults::retry_first_delay_ms")]
    pub retry_first_delay_ms: u64,
    #[serde(default = "defaults::retry_max_delay_ms")]
    pub retry_max_delay_ms: u64,
    /// `on` (default): a key that leaves the core (disabled, deleted, rotated) also loses
    /// its open connections to the inbound, where veild has `CAP_NET_ADMIN`, the kernel
    /// can destroy sockets and the core reports users' addresses (Xray); `off`: removal
    /// only stops new connections.
    #[serde(default)]
    pub disconnect: crate::disconnect::Mode,
    /// How long the config file may lag behind keys that are already live in the core:
    /// a change that only adds users is answered once the core serves it, and the file
    /// write that follows covers every change of that window (0: the file is written
    /// before every reply). Removals and rotations always write the file first.
    #[serde(default = "defaults::file_delay_ms")]
    pub file_delay_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicConfig {
    /// The host clients dial: a DNS name or an IP address, without scheme or port.
    pub host: String,
    /// Where subscription URLs start (`https://vpn.example.com/sub/`): a key's URL is this
    /// plus its token. Absent: `veil key sub` prints the path `/sub/TOKEN` alone.
    #[serde(default)]
    pub subscription_base: Option<String>,
    /// `profile-update-interval` of subscriptions, in hours.
    #[serde(default = "public_defaults::update_hours")]
    pub subscription_update_hours: u32,
    /// `support-url` of subscriptions.
    #[serde(default)]
    pub support_url: Option<String>,
    /// `profile-web-page-url` of subscriptions.
    #[serde(default)]
    pub web_page_url: Option<String>,
}

mod public_defaults {
    pub fn update_hours() -> u32 {
        12
    }
}

impl PublicConfig {
    /// Checks the subscription settings: each URL an `http(s)://` URL a header can carry,
    /// the interval from 1 hour to a year. On error: the key, its value and the problem.
    pub fn check_subscription(&self) -> Result<(), (&'static str, String, &'static str)> {
        use veil_shared::subscription::headers::header_url_ok;
        let urls = [
            ("public.subscription_base", &self.subscription_base),
            ("public.support_url", &self.support_url),
            ("public.web_page_url", &self.web_page_url),
        ];
        for (key, url) in urls {
            if let Some(url) = url.as_deref().filter(|u| !header_url_ok(u)) {
                return Err((
                    key,
                    format!("{url:?}"),
                    "must be an http:// or https:// URL without spaces, quotes or control characters",
                ));
            }
        }
        if !(1..=8784).contains(&self.subscription_update_hours) {
            return Err((
                "public.subscription_update_hours",
                self.subscription_update_hours.to_string(),
                "must be from 1 to 8784 (hours)",
            ));
        }
        Ok(())
    }
}

/// `[connections]` in `veild.toml`; every value has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsConfig {
    /// Open connections at once (lowered at start to fit the descriptor limit).
    #[serde(default = "connections_defaults::max")]
    pub max: u64,
    /// Open connections of one uid at once.
    #[serde(default = "connections_defaults::per_uid")]
    pub per_uid: u64,
    /// Slots only root and veild's own user may take.
    #[serde(default = "connections_defaults::root_reserve")]
    pub root_reserve: u64,
    /// A connection that sends nothing this long (and watches nothing) is closed.
    #[serde(default = "connections_defaults::idle_timeout_ms")]
    pub idle_timeout_ms: u64,
}

mod connections_defaults {
    pub fn max() -> u64 {
        1024
    }
    pub fn per_uid() -> u64 {
        64
    }
    pub fn root_reserve() -> u64 {
        16
    }
    pub fn idle_timeout_ms() -> u64 {
        300_000
    }
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        Self {
            max: connections_defaults::max(),
            per_uid: connections_defaults::per_uid(),
            root_reserve: connections_defaults::root_reserve(),
            idle_timeout_ms: connections_defaults::idle_timeout_ms(),
        }
    }
}

impl ConnectionsConfig {
    /// Every value in range, or the first one that is not: (key, value, problem).
    pub fn check(&self) -> Result<(), (&'static str, u64, String)> {
        let ranges: [(&'static str, u64, u64, u64); 4] = [
            ("connections.max", self.max, 4, 1_000_000),
            ("connections.per_uid", self.per_uid, 1, 1_000_000),
            ("connections.root_reserve", self.root_reserve, 1, 1_000),
            (
                "connections.idle_timeout_ms",
                self.idle_timeout_ms,
                100,
                86_400_000,
            ),
        ];
        for (key, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err((key, value, format!("must be from {min} to {max}")));
            }
        }
        if self.root_reserve >= self.max {
            return Err((
                "connections.root_reserve",
                self.root_reserve,
                format!("must be below connections.max ({})", self.max),
            ));
        }
        Ok(())
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
}

/// Every default, once.
mod defaults {
    use std::path::PathBuf;

    use veil_shared::coreconfig::Flavor;

    pub fn socket() -> PathBuf {
        veil_shared::DEFAULT_SOCKET.into()
    }
    pub fn database() -> PathBuf {
        "/var/lib/veil/veil.db".into()
    }
    pub fn socket_group() -> String {
        "veil".into()
    }
    pub fn flavor() -> Flavor {
        Flavor::Xray
    }
    pub fn api() -> String {
        "127.0.0.1:10085".into()
    }
    pub fn inbound_tag() -> String {
        "vless-in".into()
    }
    pub fn core_config() -> PathBuf {
        "/usr/local/etc/xray/config.json".into()
    }
    pub fn health_interval_ms() -> u64 {
        2_000
    }
    pub fn drift_interval_ms() -> u64 {
        60_000
    }
    pub fn file_delay_ms() -> u64 {
        500
    }
    pub fn call_timeout_ms() -> u64 {
        5_000
    }
    pub fn backups() -> usize {
        10
    }
    pub fn retry_tries() -> u32 {
        3
    }
    pub fn retry_first_delay_ms() -> u64 {
        2_000
    }
    pub fn retry_max_delay_ms() -> u64 {
        10_000
    }
    pub fn test_command(flavor: Flavor) -> Vec<String> {
        let words: &[&str] = match flavor {
            Flavor::Xray => &["xray", "run", "-test", "-config", "{config}"],
            Flavor::V2fly => &["v2ray", "-test", "-config", "{config}"],
        };
        words.iter().map(|w| (*w).to_owned()).collect()
    }
}

impl CoreConfig {
    /// The numeric settings within their bounds: `(key, value, problem)` of the first that
    /// is not.
    fn check_ranges(&self) -> Result<(), (&'static str, u64, String)> {
        let c = self;
        let ranges: [(&'static str, u64, u64, u64); 7] = [
            (
                "core.health_interval_ms",
                c.health_interval_ms,
                50,
                3_600_000,
            ),
            (
                "core.drift_interval_ms",
                c.drift_interval_ms,
                50,
                86_400_000,
            ),
            ("core.call_timeout_ms", c.call_timeout_ms, 50, 600_000),
            ("core.retry_tries", u64::from(c.retry_tries), 1, 100),
            (
                "core.retry_first_delay_ms",
                c.retry_first_delay_ms,
                1,
                600_000,
            ),
            (
                "core.retry_max_delay_ms",
                c.retry_max_delay_ms,
                1,
                3_600_000,
            ),
            ("core.file_delay_ms", c.file_delay_ms, 0, 60_000),
        ];
        for (key, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err((key, value, format!("must be from {min} to {max}")));
            }
        }
        if c.backups > 1000 {
            return Err((
                "core.backups",
                c.backups as u64,
                "must be from 0 to 1000".to_owned(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config file {path}: {key} = {value}: {problem}")]
    Invalid {
        path: PathBuf,
        key: &'static str,
        value: String,
        problem: String,
    },
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Reads and checks `veild.toml`'s text, resolving a host name in `core.api` (so a
    /// typo fails at start, not at the first key change).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config = Self::parse_offline(text, path)?;
        check_api_resolves(&config.core.api).map_err(|problem| ConfigError::Invalid {
            path: path.to_owned(),
            key: "core.api",
            value: format!("{:?}", config.core.api),
            problem,
        })?;
        Ok(config)
    }

    /// Every check of [`Config::parse`] that needs nothing outside the text: no name is
    /// resolved (for the fuzzer, and anything else that must not touch the network).
    pub fn parse_offline(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.webhooks =
            webhook::check_all(&config.webhook_entries).map_err(|(key, value, problem)| {
                ConfigError::Invalid {
                    path: path.to_owned(),
                    key,
                    value,
                    problem,
                }
            })?;
        config.validate(path)?;
        config.validate_metrics(path)?;
        if let Some(Err((key, value, problem))) = config.http.as_ref().map(http::HttpConfig::check)
        {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                key,
                value,
                problem,
            });
        }
        if let Some(Err((key, value, problem))) =
            config.fleet.as_ref().map(fleet::FleetConfig::check)
        {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                key,
                value,
                problem,
            });
        }
        Ok(config)
    }

    pub fn retry_policy(&self) -> crate::corelink::RetryPolicy {
        crate::corelink::RetryPolicy {
            tries: self.core.retry_tries,
            first_delay: std::time::Duration::from_millis(self.core.retry_first_delay_ms),
            max_delay: std::time::Duration::from_millis(self.core.retry_max_delay_ms),
        }
    }

    /// The core's systemd unit ([`CoreConfig::unit`] or the flavor's).
    pub fn core_unit(&self) -> &str {
        self.core
            .unit
            .as_deref()
            .unwrap_or_else(|| self.core.flavor.unit())
    }

    /// The test command with the default filled in.
    pub fn test_command(&self) -> Vec<String> {
        self.core
            .test_command
            .clone()
            .unwrap_or_else(|| defaults::test_command(self.core.flavor))
    }

    /// `[metrics] listen` is an address with a port (host names are not resolved).
    fn validate_metrics(&self, path: &Path) -> Result<(), ConfigError> {
        let Some(metrics) = &self.metrics else {
            return Ok(());
        };
        metrics
            .listen_addr()
            .map(|_| ())
            .map_err(|problem| ConfigError::Invalid {
                path: path.to_owned(),
                key: "metrics.listen",
                value: format!("{:?}", metrics.listen),
                problem,
            })
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let bad =
            |key: &'static str, value: &dyn std::fmt::Debug, problem: &str| ConfigError::Invalid {
                path: path.to_owned(),
                key,
                value: format!("{value:?}"),
                problem: problem.to_owned(),
            };
        absolute_file(&self.socket).map_err(|p| bad("socket", &self.socket, p))?;
        absolute_file(&self.database).map_err(|p| bad("database", &self.database, p))?;
        if self.socket_group.trim().is_empty() || self.socket_group.contains(char::is_whitespace) {
            return Err(bad(
                "socket_group",
                &self.socket_group,
                "must be a group name",
            ));
        }
        check_api(&self.core.api).map_err(|p| bad("core.api", &self.core.api, &p))?;
        if self.core.inbound_tag.trim().is_empty() {
            return Err(bad(
                "core.inbound_tag",
                &self.core.inbound_tag,
                "must not be empty",
            ));
        }
        absolute_file(&self.core.config).map_err(|p| bad("core.config", &self.core.config, p))?;
        if let Some(cmd) = &self.core.test_command {
            check_test_command(cmd).map_err(|p| bad("core.test_command", cmd, p))?;
        }
        if let Some(unit) = &self.core.unit {
            check_unit(unit).map_err(|p| bad("core.unit", unit, p))?;
        }
        check_host(&self.public.host).map_err(|p| bad("public.host", &self.public.host, p))?;
        if let Err((key, value, problem)) = self.public.check_subscription() {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                key,
                value,
                problem: problem.to_owned(),
            });
        }
        if let Err((key, value, problem)) = self.core.check_ranges() {
            return Err(bad(key, &value, &problem));
        }
        if let Err((key, value, problem)) = self.traffic.check() {
            return Err(bad(key, &value, &problem));
        }
        if let Err((key, value, problem)) = self.connections.check() {
            return Err(bad(key, &value, &problem));
        }
        if let Err((key, value, problem)) = self.backup.check() {
            return Err(bad(key, &value, &problem));
        }
        if let Err((key, value, problem)) = self.log.check() {
            return Err(bad(key, &value, &problem));
        }
        Ok(())
    }
}

fn absolute_file(path: &Path) -> Result<(), &'static str> {
    if !path.is_absolute() {
        return Err("must be an absolute path");
    }
    if path.file_name().is_none() {
        return Err("must name a file, not a directory");
    }
    Ok(())
}

/// `HOST:PORT` with a resolvable host and a non-zero port.
fn check_api(api: &str) -> Result<(), String> {
    let Some((host, port)) = api.rsplit_once(':') else {
        return Err("must be HOST:PORT, e.g. 127.0.0.1:10085".into());
    };
    match port.parse::<u16>() {
        Ok(0) | Err(_) => return Err(format!("port '{port}' must be a number from 1 to 65535")),
        Ok(_) => {}
    }
    if api.parse::<SocketAddr>().is_ok() {
        return Ok(());
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err("the host is missing".into());
    }
    Ok(())
}

/// A host name in `HOST:PORT` resolves (an address needs no lookup).
fn check_api_resolves(api: &str) -> Result<(), String> {
    if api.parse::<SocketAddr>().is_ok() {
        return Ok(());
    }
    api.to_socket_addrs().map(|_| ()).map_err(|e| {
        format!(
            "host '{}' does not resolve: {e}",
            api.rsplit_once(':').map_or(api, |(h, _)| h)
        )
    })
}

/// A systemd unit name: what `systemctl show` takes, nothing a shell or a path reads.
fn check_unit(unit: &str) -> Result<(), &'static str> {
    let valid = !unit.is_empty()
        && unit.len() <= 256
        && unit
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":_.@-".contains(c));
    if valid {
        Ok(())
    } else {
        Err("must be a systemd unit name, e.g. \"xray.service\"")
    }
}

fn check_test_command(cmd: &[String]) -> Result<(), &'static str> {
    match cmd.first() {
        None => Err(
            "must name a program, e.g. [\"xray\", \"run\", \"-test\", \"-config\", \"{config}\"]",
        ),
        Some(program) if program.trim().is_empty() => Err("the program (first word) is empty"),
        Some(_) if !cmd.iter().any(|w| w.contains("{config}")) => {
            Err("must contain {config}, where the candidate file's path goes")
        }
        Some(_) => Ok(()),
    }
}

/// A DNS name (letters, digits, hyphens, dots; IDN in punycode) or an IP address.
fn check_host(host: &str) -> Result<(), &'static str> {
    // The same rule `veil init` applies: the host goes into every share link.
    veil_shared::link::check_host(host)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const FULL: &str = r#"
socket   = "/run/veil/veil.sock"
database = "/var/lib/veil/veil.db"
socket_group = "veil"
[core]
flavor = "xray"
api = "127.0.0.1:10085"
inbound_tag = "vless-in"
config = "/usr/local/etc/xray/config.json"
test_command = ["xray", "run", "-test", "-config", "{config}"]
[public]
host = "vpn.example.com"
"#;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/etc/veil/veild.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn the_documented_example_parses() {
        let c = parse(FULL).unwrap();
        assert_eq!(c.core.flavor, Flavor::Xray);
        assert_eq!(c.test_command()[0], "xray");
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let c = parse("[core]\nflavor = \"v2fly\"\n[public]\nhost = \"1.2.3.4\"\n").unwrap();
        assert_eq!(c.socket, PathBuf::from("/run/veil/veil.sock"));
        assert_eq!(c.core.api, "127.0.0.1:10085");
        assert_eq!(c.test_command(), ["v2ray", "-test", "-config", "{config}"]);
    }

    #[test]
    fn errors_name_the_key_and_the_value() {
        let cases = [
            (
                FULL.replace("socket   = \"/run", "sockett = \"/run"),
                "sockett",
            ),
            (FULL.replace("\"xray\"\napi", "\"xary\"\napi"), "xary"),
            (
                FULL.replace("127.0.0.1:10085", "127.0.0.1"),
                "core.api = \"127.0.0.1\"",
            ),
            (FULL.replace("127.0.0.1:10085", "127.0.0.1:0"), "core.api"),
            (
                FULL.replace("\"/var/lib/veil/veil.db\"", "\"veil.db\""),
                "database = \"veil.db\"",
            ),
            (
                FULL.replace("inbound_tag = \"vless-in\"", "inbound_tag = \"\""),
                "core.inbound_tag",
            ),
            (FULL.replace(", \"{config}\"]", "]"), "core.test_command"),
            (
                FULL.replace("vpn.example.com", "https://vpn.example.com"),
                "public.host",
            ),
            (
                FULL.replace("socket_group = \"veil\"", "socket_group = \"\""),
                "socket_group",
            ),
            (
                FULL.replace("[public]\nhost = \"vpn.example.com\"\n", ""),
                "public",
            ),
        ];
        for (text, needle) in cases {
            let err = parse(&text).unwrap_err();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
    }
}

#[cfg(test)]
mod table_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::Path;

    use super::Config;

    const BASE: &str = "[core]\nflavor = \"v2fly\"\n[public]\nhost = \"1.2.3.4\"\n";

    fn parse(extra: &str) -> Result<Config, String> {
        Config::parse(&format!("{BASE}{extra}"), Path::new("/etc/veil/veild.toml"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_traffic_table_has_defaults_and_checked_ranges() {
        let c = parse("").unwrap();
        assert_eq!(c.traffic.interval_ms, 10_000);
        assert_eq!(c.traffic.retention().minutes, 48 * 60);
        let c = parse("[traffic]\ninterval_ms = 250\nday_retention_days = 30\n").unwrap();
        assert_eq!(
            (c.traffic.interval_ms, c.traffic.day_retention_days),
            (250, 30)
        );
        for (text, needle) in [
            ("[traffic]\ninterval_ms = 10\n", "traffic.interval_ms = 10"),
            (
                "[traffic]\nminute_retention_hours = 1\n",
                "traffic.minute_retention_hours = 1",
            ),
            ("[traffic]\nintervall_ms = 100\n", "intervall_ms"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
    }

    #[test]
    fn no_metrics_table_means_no_listener() {
        assert!(parse("").unwrap().metrics.is_none());
    }

    #[test]
    fn the_listen_address_parses() {
        let c = parse("[metrics]\nlisten = \"127.0.0.1:8390\"\n").unwrap();
        let addr = c.metrics.unwrap().listen_addr().unwrap();
        assert_eq!(addr, "127.0.0.1:8390".parse().unwrap());
        let c = parse("[metrics]\nlisten = \"[::1]:8390\"\n").unwrap();
        assert!(c.metrics.unwrap().listen_addr().unwrap().ip().is_loopback());
    }

    #[test]
    fn a_bad_listen_address_is_refused_with_the_key_named() {
        for (text, needle) in [
            (
                "[metrics]\nlisten = \"localhost:8390\"\n",
                "metrics.listen = \"localhost:8390\"",
            ),
            (
                "[metrics]\nlisten = \"127.0.0.1\"\n",
                "metrics.listen = \"127.0.0.1\"",
            ),
            (
                "[metrics]\nlisten = \"127.0.0.1:0\"\n",
                "port must be from 1",
            ),
            (
                "[metrics]\nlisten = \"127.0.0.1:70000\"\n",
                "must be IP:PORT",
            ),
            ("[metrics]\nlisten = \"\"\n", "metrics.listen"),
            ("[metrics]\n", "listen"),
            ("[metrics]\nlisten = \"127.0.0.1:8390\"\nport = 1\n", "port"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
    }
}
