//! The applier's task: a start-up resync, then one pass per burst of requests, retries on a
//! timer for what passes by itself, the config file's background writes, and at shutdown
//! the file written if it is behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::file::FileWriter;
use super::lag::FileLag;
use super::pass::PassOutcome;
use super::{Applier, Command, ResyncReason};

impl Applier {
    pub(super) async fn run(
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
        let mut lag = FileLag::at_start(self.behind_at_start().await);
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
        outcome: &PassOutcome,
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

    fn file_writer(&self) -> Arc<FileWriter> {
        Arc::new(FileWriter {
            store: self.store.clone(),
            file: Arc::clone(&self.file),
            flow: self.flow.clone(),
            status: Arc::clone(&self.status),
            metrics: Arc::clone(&self.metrics),
            lock: tokio::sync::Mutex::new(()),
        })
    }

    /// At shutdown: a write under way is finished; what is still behind is written.
    async fn flush_file(&self, lag: &mut FileLag, writer: &FileWriter) {
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
