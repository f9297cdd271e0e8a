//! How far the core's config file is behind the keys already live in the core, and the
//! write that catches up: started in the background when due, so passes (and replies) go on
//! while it runs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;

use super::Applier;
use super::file::FileWriter;

/// The config file's standing against the keys live in the core, kept by the applier.
#[derive(Debug)]
pub struct FileLag {
    /// The file is not known to match the database (at start, after a failed write): it is
    /// written before the next reply.
    pub dirty: bool,
    /// When the write that catches up is due.
    pub due: Option<Instant>,
    /// Keys answered live with the file behind, counted since veild started.
    marked: u64,
    /// How many of those the last good write covered.
    written: u64,
    /// `(marked after it, Unix seconds)` of each such answer not covered yet, oldest first.
    marks: VecDeque<(u64, i64)>,
    /// The database records a lag (cleared with the write that catches up).
    pub persisted: bool,
    /// The write under way in the background, with the count it covers.
    writes: JoinSet<Option<bool>>,
    writing: u64,
}

impl FileLag {
    /// At start: the file is written once before anything else is answered.
    pub fn at_start(persisted: bool) -> Self {
        FileLag {
            dirty: true,
            due: None,
            marked: 0,
            written: 0,
            marks: VecDeque::new(),
            persisted,
            writes: JoinSet::new(),
            writing: 0,
        }
    }

    /// Keys live in the core that the file may not list yet.
    pub fn behind(&self) -> u64 {
        self.marked - self.written
    }

    /// Since when (Unix seconds) the file has been behind.
    pub fn since(&self) -> Option<i64> {
        self.marks.front().map(|m| m.1)
    }

    /// The count a write that starts now covers.
    pub fn generation(&self) -> u64 {
        self.marked
    }

    /// `n` more keys were answered live at `at` with the file behind.
    pub fn marked(&mut self, n: u64, at: i64, delay: std::time::Duration) {
        self.marked += n;
        self.marks.push_back((self.marked, at));
        self.due.get_or_insert_with(|| Instant::now() + delay);
    }

    /// A good write covered everything marked up to `generation`.
    pub fn covered(&mut self, generation: u64) {
        self.written = self.written.max(generation);
        while self.marks.front().is_some_and(|m| m.0 <= self.written) {
            self.marks.pop_front();
        }
        if self.behind() == 0 {
            self.due = None;
        }
    }

    /// What the database should record: `(since, keys)` while behind.
    pub fn record(&self) -> Option<(i64, u64)> {
        self.since().map(|since| (since, self.behind()))
    }

    /// Whether a background write is under way.
    pub fn writing(&self) -> bool {
        !self.writes.is_empty()
    }

    /// The due write, when nothing else stands in its way.
    pub fn start_if_due(&mut self, writer: &Arc<FileWriter>) {
        if self.dirty || self.writing() || self.due.is_none_or(|d| d > Instant::now()) {
            return;
        }
        self.due = None;
        self.writing = self.marked;
        let writer = Arc::clone(writer);
        self.writes.spawn(async move { writer.write().await });
    }

    /// The background write's end (pending forever while none runs).
    pub async fn write_ended(&mut self) -> Option<bool> {
        match self.writes.join_next().await {
            Some(Ok(result)) => result,
            Some(Err(e)) => {
                tracing::error!(error = %e, "the config file write task failed");
                Some(true)
            }
            None => std::future::pending().await,
        }
    }

    /// Waits for a background write under way (at shutdown).
    pub async fn finish(&mut self) -> Option<Option<bool>> {
        if self.writing() {
            Some(self.write_ended().await)
        } else {
            None
        }
    }
}

impl Applier {
    /// Books a finished background write: what it covered, what the database records, and
    /// what `health` shows. A failed write makes the file dirty: the next pass writes it
    /// before its reply (and keeps its keys pending while it fails).
    pub(super) async fn file_written(&self, lag: &mut FileLag, failed: Option<bool>) {
        if let Some(transient) = failed {
            // A refusal waits for the next change, like a refused change; a hiccup is
            // tried again on a timer.
            lag.dirty = true;
            lag.due = transient.then(|| Instant::now() + self.retry.delay_after(1));
            return;
        }
        lag.covered(lag.writing);
        if lag.behind() > 0 {
            lag.due
                .get_or_insert_with(|| Instant::now() + self.file_delay);
        }
        self.record_lag(lag).await;
    }

    /// Records the file's lag as it now is in the database and in `health`.
    pub(super) async fn record_lag(&self, lag: &mut FileLag) {
        if lag.persisted {
            let record = lag.record();
            let saved = self
                .store
                .write(move |sp| crate::store::filelag::file_behind_set(sp, record))
                .await;
            match saved {
                Ok(()) => lag.persisted = record.is_some(),
                Err(e) => tracing::error!(error = %e, "recording the config file's lag failed"),
            }
        }
        self.show_lag(lag);
    }

    /// What `health` shows of the file's lag.
    pub(super) fn show_lag(&self, lag: &FileLag) {
        self.status.update(|s| {
            s.config.behind = lag.behind();
            s.config.behind_since = lag.since();
        });
    }
}
