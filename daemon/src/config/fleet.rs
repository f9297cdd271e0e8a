//! `[fleet]` in `veild.toml`: when present, this veild is one node of a fleet whose keys
//! live in a PostgreSQL registry (the `fleet` module); absent, it is a single server on its
//! own SQLite database, as always.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// The registry's connection string. It carries the node role's password, so its `Debug`
/// never prints it.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(text: String) -> Self {
        DatabaseUrl(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(…)")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    /// `postgres://ROLE:PASSWORD@HOST:PORT/DB?sslmode=…` (or the key=value form): the
    /// node's own role, made by `veild fleet add-node`.
    pub database: DatabaseUrl,
    /// This node's name in the registry (as `veild fleet add-node` registered it).
    pub node: String,
    /// PEM file of the CA that signed the server's certificate, for `sslmode=require`;
    /// without it, the system's bundle.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Besides notifications, the node re-reads the whole registry this often (and after
    /// every reconnect), so a lost notification never leaves drift.
    #[serde(default = "defaults::resync_secs")]
    pub resync_secs: u64,
    /// How often the node writes its own traffic to the registry and reads the others'.
    #[serde(default = "defaults::traffic_secs")]
    pub traffic_secs: u64,
    /// The longest wait for the registry (connecting, or one statement).
    #[serde(default = "defaults::timeout_ms")]
    pub timeout_ms: u64,
}

mod defaults {
    pub fn resync_secs() -> u64 {
        60
    }
    pub fn traffic_secs() -> u64 {
        5
    }
    pub fn timeout_ms() -> u64 {
        5_000
    }
}

/// A node name: what the registry's `fleet_nodes.name` accepts.
pub fn valid_node_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 32
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

impl FleetConfig {
    /// Every value in range, or the first one that is not: (key, value, problem).
    pub fn check(&self) -> Result<(), (&'static str, String, String)> {
        if !valid_node_name(&self.node) {
            return Err((
                "fleet.node",
                format!("{:?}", self.node),
                "must be 1 to 32 of a-z, 0-9 and '-', starting with a letter or digit".into(),
            ));
        }
        if let Err(e) = self.database.expose().parse::<tokio_postgres::Config>() {
            // The parser's message never quotes the string, so the password stays out.
            return Err((
                "fleet.database",
                "(hidden)".into(),
                format!("is no PostgreSQL connection string: {e}"),
            ));
        }
        let ranges = [
            ("fleet.resync_secs", self.resync_secs, 5, 86_400),
            ("fleet.traffic_secs", self.traffic_secs, 1, 3_600),
            ("fleet.timeout_ms", self.timeout_ms, 100, 600_000),
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

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_are_short_lowercase_words() {
        for good in ["a", "de-1", "0x", "fra-02"] {
            assert!(valid_node_name(good), "{good}");
        }
        for bad in ["", "-a", "A", "a b", "ä", "a_b", &"a".repeat(33)] {
            assert!(!valid_node_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_bad_connection_string_is_refused_without_echoing_it() {
        let config = FleetConfig {
            database: DatabaseUrl::new("postgres://u:s3cret@h:notaport/db".into()),
            node: "a".into(),
            ca_file: None,
            resync_secs: 60,
            traffic_secs: 5,
            timeout_ms: 5000,
        };
        let (key, value, problem) = config.check().unwrap_err();
        assert_eq!(key, "fleet.database");
        assert!(
            !value.contains("s3cret") && !problem.contains("s3cret"),
            "{problem}"
        );
        assert!(!format!("{config:?}").contains("s3cret"));
    }
}
