//! Traffic accounting (per-key counts synced in the background and on demand, and the
//! connection signals the core exposes): exact per-key totals, live rates, history, data limits,
//! expiry and resets.
//!
//! - [`poller`]: the cycle. One `QueryStats` call for every user (read, never reset),
//!   bracketed by two `GetSysStats` calls that pin down the core's epoch; deltas against
//!   the last raw values; one database transaction; then events.
//! - [`delta`]: counter names to key ids, raw counters to deltas, rates.
//! - [`db`]: the cycle's transaction and the reads behind `traffic.get|list`.
//! - [`history`]: per-minute buckets rolled up into hours and days, and their retention.
//! - [`limits`]: data limits, expiry and periodic resets, enforced set-wise.
//! - [`settings`]: a key's limit, expiry and reset schedule, set at create/update.
//! - [`online`]: who is connected on a key (Xray only).
//! - [`query`]: the reads behind the service's `traffic_*` calls.
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
mod config;
pub mod db;
pub mod delta;
pub mod history;
pub mod limits;
pub mod online;
pub mod poller;
pub mod query;
pub mod settings;
mod shared;

pub use config::TrafficConfig;
use shared::SyncReply;
pub use shared::{Live, Shared};

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A cheap handle on the traffic side: `traffic.*` methods and on-demand cycles.
#[derive(Clone)]
pub struct Traffic {
    shared: Arc<Shared>,
    sync: mpsc::Sender<SyncReply>,
}

impl Traffic {
    /// Starts the poller: a cycle now, then every `interval_ms` and on each `traffic.sync`,
    /// until `shutdown` (a cycle under way is finished first).
    pub fn start(
        shared: Shared,
        shutdown: CancellationToken,
    ) -> (Traffic, tokio::task::JoinHandle<()>) {
        let shared = Arc::new(shared);
        let (tx, rx) = mpsc::channel(64);
        let poller = poller::Poller::new(Arc::clone(&shared));
        let task = tokio::spawn(poller.run(rx, shutdown));
        (Traffic { shared, sync: tx }, task)
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }
}
