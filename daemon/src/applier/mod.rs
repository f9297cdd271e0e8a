//! The applier (one ordered queue for every change; pending until applied): one task that alone talks to the core about users and alone
//! writes the core's config file.
//!
//! Every mutation first commits its desired state (the key is *pending*), then asks the
//! applier to settle. A pass reads every pending row, applies them to the core with many
//! calls in flight, writes the config file once for the whole burst, and marks the rows
//! applied in one transaction. Rows that fail stay pending; the applier retries with
//! backoff and converges by itself when the core returns. A crash anywhere leaves pending
//! rows that the next start finishes.

mod cut;
mod file;
mod lag;
mod pass;
mod run;
pub mod status;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;
use veil_shared::api::{Event, ResyncInfo};

use crate::corefile::CoreFile;
use crate::corelink::{CoreLink, RetryPolicy};
pub use crate::coreuser::{email_for, id_from_email};
use crate::metrics::Metrics;
use crate::store::Store;
pub use status::Status;

/// Why a full resync runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResyncReason {
    Start,
    CoreRestart,
    LinkRestored,
}

impl ResyncReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ResyncReason::Start => "start",
            ResyncReason::CoreRestart => "core_restart",
            ResyncReason::LinkRestored => "link_restored",
        }
    }
}

enum Command {
    /// A pass, asked for by a request (its id) or by veild itself.
    Pass(Option<u64>),
    Resync(ResyncReason),
    /// Answered by the loop itself: proof that it still turns (the watchdog asks).
    Ping(tokio::sync::oneshot::Sender<()>),
}

/// A cheap handle for the service layer and the watcher.
#[derive(Clone)]
pub struct ApplierHandle {
    tx: mpsc::UnboundedSender<Command>,
    requested: Arc<AtomicU64>,
    done: watch::Receiver<u64>,
    settle_timeout: Duration,
    metrics: Arc<Metrics>,
}

impl ApplierHandle {
    /// Asks for a pass and waits until one that started after this call has finished (or
    /// the timeout passes). The caller then re-reads its keys: applied, or still pending.
    pub async fn settle(&self) {
        let target = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.send(Command::Pass(crate::logging::request::current())) {
            return; // stopping
        }
        let mut done = self.done.clone();
        let _ = tokio::time::timeout(self.settle_timeout, done.wait_for(|d| *d >= target)).await;
    }

    /// Asks for a pass without waiting.
    pub fn nudge(&self) {
        self.send(Command::Pass(None));
    }

    pub fn resync(&self, reason: ResyncReason) {
        self.send(Command::Resync(reason));
    }

    /// Whether the applier's loop answers (between passes): false when it has stopped.
    pub async fn ping(&self) -> bool {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.send(Command::Ping(answer)) && answered.await.is_ok()
    }

    /// Queues `command`, counted in the queue depth; false when the applier has stopped.
    fn send(&self, command: Command) -> bool {
        self.metrics.applier_queued();
        let sent = self.tx.send(command).is_ok();
        if !sent {
            self.metrics.applier_dequeued(1);
        }
        sent
    }
}

pub struct Applier {
    pub store: Store,
    pub link: CoreLink,
    pub file: Arc<CoreFile>,
    pub inbound_tag: String,
    /// The flow every user gets (from the managed inbound; empty on v2fly).
    pub flow: String,
    pub status: Arc<Status>,
    pub events: broadcast::Sender<Event>,
    pub retry: RetryPolicy,
    pub metrics: Arc<Metrics>,
    /// Cuts the connections of keys the pass removed from the core.
    pub disconnect: Arc<crate::disconnect::Disconnector>,
    /// How long the config file may lag keys already live in the core (zero: written
    /// before every reply).
    pub file_delay: Duration,
}

/// Calls to the core in flight at once during a pass or a resync.
const IN_FLIGHT: usize = 128;

impl Applier {
    /// Starts the applier task. It runs a start-up resync first, then serves requests until
    /// `shutdown`; a pass under way when `shutdown` fires is finished first.
    pub fn spawn(
        self,
        settle_timeout: Duration,
        shutdown: CancellationToken,
    ) -> (ApplierHandle, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let requested = Arc::new(AtomicU64::new(0));
        let (done_tx, done) = watch::channel(0);
        let handle = ApplierHandle {
            tx,
            requested: Arc::clone(&requested),
            done,
            settle_timeout,
            metrics: Arc::clone(&self.metrics),
        };
        let task = tokio::spawn(self.run(rx, requested, done_tx, shutdown));
        (handle, task)
    }

    /// What the database records of a config file left behind (a crash between a reply and
    /// the file's write): logged and shown until the start's write catches up.
    async fn behind_at_start(&self) -> bool {
        match self
            .store
            .read(crate::store::filelag::file_behind_get)
            .await
        {
            Ok(Some((since, keys))) => {
                tracing::warn!(
                    since,
                    keys,
                    "the core config file was behind the database at the last stop; it is \
                     written again now"
                );
                self.status.update(|s| {
                    s.config.behind = keys;
                    s.config.behind_since = Some(since);
                });
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::error!(error = %e, "reading the config file's recorded lag failed");
                true
            }
        }
    }

    /// Re-adds every active key (the start-up sync): the core keeps API-added users in memory only.
    /// Returns false when the core could not be reached, so the caller tries again.
    async fn resync(&mut self, reason: ResyncReason) -> bool {
        let started = Instant::now();
        let rows = match self.store.read(crate::store::keys::active).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "resync: reading active keys failed");
                return false;
            }
        };
        let results = self.add_all(&rows).await;
        let failed = results.iter().filter(|r| r.is_err()).count();
        if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
            tracing::warn!(reason = reason.as_str(), failed, error = %e, "resync incomplete");
            self.status.update(|s| s.last_error = Some(e.to_string()));
            return false;
        }
        let duration = started.elapsed();
        tracing::info!(
            reason = reason.as_str(),
            keys = rows.len(),
            ?duration,
            "resync done"
        );
        let info = ResyncInfo {
            at: crate::store::now(),
            duration_ms: duration.as_millis() as u64,
            keys: rows.len() as u64,
            reason: reason.as_str().into(),
        };
        self.status.update(|s| s.last_resync = Some(info));
        self.metrics.resynced(reason.as_str());
        true
    }
}
