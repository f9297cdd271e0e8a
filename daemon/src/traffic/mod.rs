//! Traffic accounting (S11, S29): exact per-key totals, live rates, history, data limits,
//! expiry and resets.
//!
//! - [`poller`]: the cycle. One `QueryStats` call for every user (read, never reset),
//!   bracketed by two `GetSysStats` calls that pin down the core's epoch; deltas against
//!   the last raw values; one database transaction; then events.
//! - [`db`]: the cycle's transaction and the reads behind `traffic.get|list`.
//! - [`history`]: per-minute buckets rolled up into hours and days, and their retention.
//! - [`limits`]: data limits, expiry and periodic resets, enforced set-wise.
//! - [`settings`]: a key's limit, expiry and reset schedule, set at create/update.
//! - [`online`]: who is connected on a key (Xray only).
//! - [`service`]: the `traffic.*` socket methods.
//!
//! # Why nothing is lost or counted twice
//!
//! The core's counters are only read, never reset, so reading them changes nothing. For
//! every key the database keeps, next to its totals, the raw counter values those totals
//! already include (its *baseline*) and the core epoch they belong to. A cycle adds
//! `raw - baseline` to the totals and stores `raw` as the new baseline **in the same
//! transaction**. If veild dies before the commit, neither moved: the next cycle computes
//! the same delta again from the same baseline (plus whatever came since). If it dies
//! after, both moved: the next cycle starts from the new baseline. Either way each byte the
//! core counted is added exactly once.
//!
//! The core loses its counters when it restarts, and they start again from zero. A new
//! epoch is recognised by the core's start time on the host's monotonic clock (`now -
//! uptime`, which `GetSysStats` gives): when it moves, baselines of the old epoch count as
//! zero. The epoch is stored in the same transaction as the baselines. A cycle whose two
//! `GetSysStats` calls disagree (the core restarted while its counters were being read) is
//! not accounted: its counters cannot be placed in either epoch. A counter lower than its
//! baseline within one epoch (someone reset it) also counts from zero.

pub mod clock;
pub mod db;
pub mod history;
pub mod limits;
pub mod online;
pub mod poller;
pub mod service;
pub mod settings;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use veil_shared::api::{Actor, Event};
use veil_shared::rpc::RpcError;
use veil_shared::traffic::CycleReport;

use crate::applier::ApplierHandle;
use crate::corelink::CoreLink;
use crate::store::Store;

/// `[traffic]` in `veild.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficConfig {
    /// How often the poller reads the core's counters.
    #[serde(default = "defaults::interval_ms")]
    pub interval_ms: u64,
    /// How long per-minute history is kept.
    #[serde(default = "defaults::minute_retention_hours")]
    pub minute_retention_hours: u64,
    /// How long per-hour history is kept.
    #[serde(default = "defaults::hour_retention_days")]
    pub hour_retention_days: u64,
    /// How long per-day history is kept.
    #[serde(default = "defaults::day_retention_days")]
    pub day_retention_days: u64,
}

mod defaults {
    pub fn interval_ms() -> u64 {
        10_000
    }
    pub fn minute_retention_hours() -> u64 {
        48
    }
    pub fn hour_retention_days() -> u64 {
        62
    }
    pub fn day_retention_days() -> u64 {
        1_830
    }
}

impl Default for TrafficConfig {
    fn default() -> Self {
        Self {
            interval_ms: defaults::interval_ms(),
            minute_retention_hours: defaults::minute_retention_hours(),
            hour_retention_days: defaults::hour_retention_days(),
            day_retention_days: defaults::day_retention_days(),
        }
    }
}

impl TrafficConfig {
    /// Every value in range, or the first one that is not: (key, value, problem).
    pub fn check(&self) -> Result<(), (&'static str, u64, String)> {
        let ranges: [(&'static str, u64, u64, u64); 4] = [
            ("traffic.interval_ms", self.interval_ms, 50, 3_600_000),
            (
                "traffic.minute_retention_hours",
                self.minute_retention_hours,
                2,
                24 * 92,
            ),
            (
                "traffic.hour_retention_days",
                self.hour_retention_days,
                2,
                3_660,
            ),
            (
                "traffic.day_retention_days",
                self.day_retention_days,
                2,
                36_600,
            ),
        ];
        for (key, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err((key, value, format!("must be from {min} to {max}")));
            }
        }
        Ok(())
    }

    pub fn retention(&self) -> history::Retention {
        history::Retention {
            minutes: (self.minute_retention_hours * 60) as i64,
            hours: (self.hour_retention_days * 24) as i64,
            days: self.day_retention_days as i64,
        }
    }
}

/// What the service layer and the poller share: rates of the last cycle and its report.
#[derive(Default)]
pub struct Live {
    /// (uplink, downlink) bytes/s over the last cycle, for keys that moved in it.
    pub rates: HashMap<i64, (u64, u64)>,
    pub last_cycle: Option<CycleReport>,
}

type SyncReply = oneshot::Sender<Result<CycleReport, RpcError>>;

/// Everything the poller and the `traffic.*` methods need.
pub struct Shared {
    pub store: Store,
    pub link: CoreLink,
    pub events: broadcast::Sender<Event>,
    pub applier: ApplierHandle,
    pub config: TrafficConfig,
    /// The core's config file, read for its online-statistics policy.
    pub core_config: PathBuf,
    pub live: Mutex<Live>,
    /// Who the audit trail names for the daemon's own changes (its uid and pid).
    pub actor: Actor,
}

impl Shared {
    fn with_live<T>(&self, f: impl FnOnce(&mut Live) -> T) -> T {
        match self.live.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

/// A cheap handle on the traffic side: `traffic.*` methods and on-demand cycles.
#[derive(Clone)]
pub struct Traffic {
    shared: Arc<Shared>,
    sync: mpsc::Sender<SyncReply>,
}

/// What [`Traffic::start`] needs.
pub struct TrafficParts {
    pub store: Store,
    pub link: CoreLink,
    pub events: broadcast::Sender<Event>,
    pub applier: ApplierHandle,
    pub config: TrafficConfig,
    pub core_config: PathBuf,
}

impl Traffic {
    /// Starts the poller: a cycle now, then every `interval_ms` and on each `traffic.sync`,
    /// until `shutdown` (a cycle under way is finished first).
    pub fn start(
        parts: TrafficParts,
        shutdown: CancellationToken,
    ) -> (Traffic, tokio::task::JoinHandle<()>) {
        let shared = Arc::new(Shared {
            store: parts.store,
            link: parts.link,
            events: parts.events,
            applier: parts.applier,
            config: parts.config,
            core_config: parts.core_config,
            live: Mutex::new(Live::default()),
            actor: Actor {
                uid: nix::unistd::geteuid().as_raw(),
                gid: nix::unistd::getegid().as_raw(),
                pid: i32::try_from(std::process::id()).ok(),
            },
        });
        let (tx, rx) = mpsc::channel(64);
        let poller = poller::Poller::new(Arc::clone(&shared));
        let task = tokio::spawn(poller.run(rx, shutdown));
        (Traffic { shared, sync: tx }, task)
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::Path;

    use crate::config::Config;

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
}
