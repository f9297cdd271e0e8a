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
pub mod status;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use veil_shared::api::{Event, ResyncInfo};

use crate::corefile::CoreFile;
use crate::corelink::{CoreLink, RetryPolicy};
use crate::metrics::Metrics;
use crate::store::Store;
pub use status::Status;

/// The email a key has in the core: derived from its immutable id, never from its name, so
/// renames never touch the core.
pub fn email_for(id: i64) -> String {
    format!("key-{id}@veil")
}

/// The key id of an email Veil gave, if it is one.
pub fn id_from_email(email: &str) -> Option<i64> {
    let id = email.strip_prefix("key-")?.strip_suffix("@veil")?;
    if id.starts_with('0') || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok().filter(|id| *id > 0)
}

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

    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Command>,
        requested: Arc<AtomicU64>,
        done: watch::Sender<u64>,
        shutdown: CancellationToken,
    ) {
        let mut resync: Option<ResyncReason> = Some(ResyncReason::Start);
        let mut failures: u32 = 0;
        // The file is written once at start, so it matches the database (and catches up
        // with what a crash left behind).
        let mut lag = lag::FileLag::at_start(self.behind_at_start().await);
        let writer = self.file_writer();
        let mut requests: Vec<u64> = Vec::new(); // the requests the next pass settles
        // A pass runs when asked for (a change, a resync) or when its retry is due, never
        // for the file's own timer or write: those must not retry a refused change.
        let mut run_pass = true;
        let mut retry_at: Option<Instant> = None;
        loop {
            if run_pass {
                // Everything requested before this point is covered by the pass below.
                let covered = requested.load(Ordering::SeqCst);
                if let Some(reason) = resync.take()
                    && !self.resync(reason).await
                {
                    resync = Some(reason);
                }
                let span = tracing::info_span!("applier_pass", requests = %ids(&requests));
                requests.clear();
                let outcome = self.pass(&mut lag, &writer).instrument(span).await;
                done.send_replace(covered);
                retry_at = self
                    .retry_after(&outcome, resync.is_some(), &mut failures)
                    .map(|d| Instant::now() + d);
            }
            // A write the file owes starts in the background at its time.
            lag.start_if_due(&writer);
            let wake_at = earliest(retry_at, lag.due.filter(|_| !lag.writing()));
            let command = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                cmd = rx.recv() => match cmd {
                    Some(cmd) => Some(cmd),
                    None => break,
                },
                failed = lag.write_ended() => {
                    self.file_written(&mut lag, failed).await;
                    None
                }
                () = sleep_until_or_forever(wake_at) => None,
            };
            let now = Instant::now();
            // A failed file write is tried again by a pass (which writes it first).
            run_pass = retry_at.is_some_and(|t| t <= now)
                || (lag.dirty && lag.due.is_some_and(|t| t <= now));
            // Drain whatever else queued up: one pass serves the whole burst.
            let mut commands: Vec<Command> = command.into_iter().collect();
            while let Ok(cmd) = rx.try_recv() {
                commands.push(cmd);
            }
            self.metrics.applier_dequeued(commands.len());
            for cmd in commands {
                match cmd {
                    Command::Resync(reason) => {
                        resync = Some(reason);
                        failures = 0;
                        run_pass = true;
                    }
                    Command::Ping(answer) => {
                        let _ = answer.send(());
                    }
                    Command::Pass(Some(id)) => {
                        requests.push(id);
                        run_pass = true;
                    }
                    Command::Pass(None) => run_pass = true,
                }
            }
        }
        self.flush_file(&mut lag, &writer).await;
        tracing::debug!("applier stopped");
    }

    /// Only what passes by itself is tried again on a timer: 2 s, 4 s, 8 s, then every
    /// 10 s (by default), each try numbered in the log. A refusal waits for the next change,
    /// a resync, or an operator.
    fn retry_after(
        &self,
        outcome: &pass::PassOutcome,
        resync_owed: bool,
        failures: &mut u32,
    ) -> Option<Duration> {
        if outcome.needs_retry() || resync_owed {
            *failures = failures.saturating_add(1);
            let delay = self.retry.delay_after(*failures);
            if *failures <= self.retry.tries {
                tracing::warn!(try_ = *failures, ?delay, "core not in step yet; retrying");
            } else {
                tracing::info!(try_ = *failures, ?delay, "core still not in step; retrying");
            }
            return Some(delay);
        }
        if outcome.refused() {
            tracing::warn!(
                "a change was refused; its keys stay pending with the reason, and are tried \
                 again with the next change"
            );
        }
        *failures = 0;
        None
    }

    fn file_writer(&self) -> Arc<file::FileWriter> {
        Arc::new(file::FileWriter {
            store: self.store.clone(),
            file: Arc::clone(&self.file),
            flow: self.flow.clone(),
            status: Arc::clone(&self.status),
            metrics: Arc::clone(&self.metrics),
            lock: tokio::sync::Mutex::new(()),
        })
    }

    /// At shutdown: a write under way is finished; what is still behind is written.
    async fn flush_file(&self, lag: &mut lag::FileLag, writer: &file::FileWriter) {
        if let Some(failed) = lag.finish().await {
            self.file_written(lag, failed).await;
        }
        if lag.behind() > 0 && !lag.dirty {
            let generation = lag.generation();
            if writer.write().await.is_none() {
                lag.covered(generation);
                self.record_lag(lag).await;
            }
        }
    }

    /// What the database records of a config file left behind (a crash between a reply and
    /// the file's write): logged and shown until the start's write catches up.
    async fn behind_at_start(&self) -> bool {
        match self.store.read(crate::store::keys::file_behind_get).await {
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

/// Request ids as a span field: `[3,4,9]`, or `[]` for veild's own passes.
fn ids(requests: &[u64]) -> String {
    let list: Vec<String> = requests.iter().map(u64::to_string).collect();
    format!("[{}]", list.join(","))
}

/// The earlier of two times.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

async fn sleep_until_or_forever(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
