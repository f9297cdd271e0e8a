//! One applier pass: pending rows → core calls (many in flight) → one config write → one
//! transaction marking what is now applied → `Applied` events.

use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;
use veil_shared::api::{CoreStatus, Event, KeyAction, KeyEvent};
use veil_shared::model::KeyState;

use super::{Applier, IN_FLIGHT, email_for, id_from_email};
use crate::corefile::FileClient;
use crate::corelink::{CoreError, CoreLink, CoreUser};
use crate::store::keys::{self, CoreRow};

/// How a pass ended.
#[derive(Debug, PartialEq, Eq)]
pub enum PassOutcome {
    /// Nothing was pending, or everything pending is now applied.
    Settled,
    /// Some rows are still pending because of something that passes by itself (the core
    /// unreachable, a filesystem hiccup): worth trying again on a timer.
    Unreachable,
    /// Some rows are still pending because the core (or its `-test`) refused the change:
    /// trying again unchanged would fail again. Reported, and tried with the next change.
    Refused,
}

impl PassOutcome {
    pub fn needs_retry(&self) -> bool {
        *self == PassOutcome::Unreachable
    }

    pub fn refused(&self) -> bool {
        *self == PassOutcome::Refused
    }
}

/// What a pass records of the config file with the rows it marks applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileMark {
    /// The file was written with these rows and nothing was recorded as behind.
    InStep,
    /// The file was written: what was recorded as behind is cleared.
    CaughtUp,
    /// This many keys are live but not in the file yet, the oldest since this time.
    Behind(u64, i64),
}

/// The config file's standing against the keys live in the core, kept by the applier.
#[derive(Debug)]
pub struct FileLag {
    /// The file is not known to match the database (at start, after a failed write): it is
    /// written before the next reply.
    pub dirty: bool,
    /// When the write that catches up is due (keys live in the core that the file lacks).
    pub due: Option<Instant>,
    /// Keys answered live since the last write, and since when (Unix seconds).
    pub behind: u64,
    pub since: Option<i64>,
    /// The database records a lag (cleared with the write that catches up).
    pub persisted: bool,
}

impl FileLag {
    /// At start: the file is written once before anything else is answered.
    pub fn at_start(persisted: bool) -> Self {
        FileLag {
            dirty: true,
            due: None,
            behind: 0,
            since: None,
            persisted,
        }
    }

    fn caught_up(&mut self) {
        self.due = None;
        self.behind = 0;
        self.since = None;
    }
}

/// Whether applying `row` takes a user (or a UUID) away from the core: then the file must
/// not list it any more before the reply, or a core restarted from the file would serve it.
fn removes(row: &CoreRow) -> bool {
    row.state != KeyState::Active
        || (row.applied == Some(KeyState::Active)
            && row
                .applied_uuid
                .as_deref()
                .is_some_and(|u| u != row.uuid.to_string()))
}

fn outcome_of(first_error: Option<CoreError>) -> PassOutcome {
    match first_error {
        None => PassOutcome::Settled,
        Some(e) if e.is_transient() => PassOutcome::Unreachable,
        Some(_) => PassOutcome::Refused,
    }
}

fn user(row: &CoreRow, flow: &str) -> CoreUser {
    CoreUser {
        email: email_for(row.id),
        uuid: row.uuid.to_string(),
        level: 0,
        flow: flow.to_owned(),
    }
}

/// Applies one row to the core. Idempotent: "already exists" on add and "not found" on
/// remove mean done, so a retried or resumed pass is harmless.
async fn apply_row(link: &CoreLink, tag: &str, flow: &str, row: &CoreRow) -> Result<(), CoreError> {
    let email = email_for(row.id);
    match row.state {
        KeyState::Active => {
            let rotated = row.applied == Some(KeyState::Active)
                && row
                    .applied_uuid
                    .as_deref()
                    .is_some_and(|u| u != row.uuid.to_string());
            if rotated {
                // The core keys users by email: the old UUID must go before the new one comes.
                link.remove_user(tag, &email).await?;
            }
            link.add_user(tag, &user(row, flow)).await?;
        }
        KeyState::Disabled | KeyState::Deleted => {
            link.remove_user(tag, &email).await?;
        }
    }
    Ok(())
}

impl Applier {
    /// Applies `rows` concurrently, at most [`IN_FLIGHT`] calls at once on the one channel
    /// (a task is started only when a slot is free); results in the same order.
    async fn apply_rows(&self, rows: &[CoreRow], add_only: bool) -> Vec<Result<(), CoreError>> {
        let tag: Arc<str> = Arc::from(self.inbound_tag.as_str());
        let flow: Arc<str> = Arc::from(self.flow.as_str());
        let mut results: Vec<Result<(), CoreError>> = (0..rows.len())
            .map(|_| Err(CoreError::Transport("not attempted".into())))
            .collect();
        let mut tasks = JoinSet::new();
        let mut record =
            |joined: Result<(usize, Result<(), CoreError>), tokio::task::JoinError>| match joined {
                Ok((i, result)) => results[i] = result,
                Err(e) => tracing::error!(error = %e, "a core call task failed"),
            };
        for (i, row) in rows.iter().cloned().enumerate() {
            while tasks.len() >= IN_FLIGHT {
                if let Some(joined) = tasks.join_next().await {
                    record(joined);
                }
            }
            let link = self.link.clone();
            let (tag, flow) = (Arc::clone(&tag), Arc::clone(&flow));
            tasks.spawn(async move {
                let result = if add_only {
                    link.add_user(&tag, &user(&row, &flow)).await.map(|_| ())
                } else {
                    apply_row(&link, &tag, &flow, &row).await
                };
                (i, result)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            record(joined);
        }
        results
    }

    /// Adds every row (resync).
    pub(super) async fn add_all(&self, rows: &[CoreRow]) -> Vec<Result<(), CoreError>> {
        self.apply_rows(rows, true).await
    }

    pub(super) async fn pass(&mut self, lag: &mut FileLag) -> PassOutcome {
        let rows = match self.store.read(keys::pending).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "applier: reading pending keys failed");
                return PassOutcome::Unreachable;
            }
        };
        let due = lag.due.is_some_and(|d| d <= Instant::now());
        if rows.is_empty() && !lag.dirty && !due {
            return PassOutcome::Settled;
        }
        let _timer = self.metrics.applier_pass_timer();
        let started = Instant::now();
        // Adds only, with a file known good: answered once the core serves them; the file
        // follows within `file_delay`. Anything that takes a user away from the core (or a
        // file that failed, or a write that is due) writes the file first, as the reply waits.
        let write_now = lag.dirty || due || self.file_delay.is_zero() || rows.iter().any(removes);
        if !write_now {
            let results = self.apply_rows(&rows, false).await;
            let (applied, first_error) = self.sort_results(&rows, results).await;
            let applied_n = applied.len() as u64;
            lag.due
                .get_or_insert_with(|| Instant::now() + self.file_delay);
            if applied_n > 0 {
                let since = *lag.since.get_or_insert_with(crate::store::now);
                if self.mark(applied, FileMark::Behind(applied_n, since)).await {
                    lag.behind += applied_n;
                    lag.persisted = true;
                }
                self.show_lag(lag);
            }
            tracing::debug!(rows = rows.len(), applied = applied_n, total = ?started.elapsed(), "applier pass (file follows)");
            return outcome_of(first_error);
        }
        // The file follows the desired state whether or not the core can be reached, so a
        // core restarted from it comes back with the right users; it is written while
        // the core calls are in flight.
        let (results, file_ok) = tokio::join!(self.apply_rows(&rows, false), self.write_file());
        lag.dirty = file_ok.is_some();
        let (applied, first_error) = self.sort_results(&rows, results).await;
        if let Some(transient) = file_ok {
            lag.due = None;
            return if transient || first_error.as_ref().is_some_and(CoreError::is_transient) {
                PassOutcome::Unreachable
            } else {
                PassOutcome::Refused
            };
        }
        let applied_n = applied.len();
        let core_and_file = started.elapsed();
        let mark = if lag.persisted {
            FileMark::CaughtUp
        } else {
            FileMark::InStep
        };
        if self.mark(applied, mark).await {
            lag.persisted = false;
        }
        lag.caught_up();
        self.show_lag(lag);
        tracing::debug!(rows = rows.len(), applied = applied_n, ?core_and_file, total = ?started.elapsed(), "applier pass");
        outcome_of(first_error)
    }

    /// Splits a pass's results: the rows now applied, and the first error (refusals are
    /// recorded on their rows; `health` hears of the core's state).
    async fn sort_results(
        &self,
        rows: &[CoreRow],
        results: Vec<Result<(), CoreError>>,
    ) -> (Vec<CoreRow>, Option<CoreError>) {
        let mut first_error = None;
        let mut applied = Vec::with_capacity(rows.len());
        let mut refused = Vec::new();
        for (row, result) in rows.iter().zip(results) {
            match result {
                Ok(()) => applied.push(row.clone()),
                Err(e) => {
                    if !e.is_transient() {
                        tracing::warn!(key_id = row.id, error = %e, "the core refused a change; the key stays pending with the reason");
                        refused.push((row.clone(), Some(e.to_string())));
                    }
                    if first_error.is_none() {
                        if e.is_transient() {
                            tracing::warn!(key_id = row.id, error = %e, "core change failed; the key stays pending");
                        }
                        first_error = Some(e);
                    }
                }
            }
        }
        self.record_refusals(refused).await;
        match &first_error {
            Some(e) if e.is_transient() => self.status.update(|s| {
                s.core = CoreStatus::Down;
                s.last_error = Some(e.to_string());
            }),
            Some(e) => self.status.update(|s| s.last_error = Some(e.to_string())),
            None if !rows.is_empty() => self.status.update(|s| {
                s.core = CoreStatus::Up;
            }),
            None => {}
        }
        (applied, first_error)
    }

    /// What `health` shows of the file's lag.
    fn show_lag(&self, lag: &FileLag) {
        self.status.update(|s| {
            s.config.behind = lag.behind;
            s.config.behind_since = lag.since;
        });
    }

    /// Keeps, on each refused row, why the core refused it (shown by `key.get`).
    async fn record_refusals(&self, refused: Vec<(CoreRow, Option<String>)>) {
        if refused.is_empty() {
            return;
        }
        let written = self
            .store
            .write(move |sp| keys::set_apply_errors(sp, &refused))
            .await;
        if let Err(e) = written {
            tracing::error!(error = %e, "recording why the core refused keys failed");
        }
    }

    /// Marks rows applied in one transaction, records the file's standing with them, and
    /// tells watchers. Returns whether the transaction committed.
    async fn mark(&self, rows: Vec<CoreRow>, file: FileMark) -> bool {
        if rows.is_empty() && file == FileMark::InStep {
            return true;
        }
        let marked = self
            .store
            .write(move |sp| {
                let keys = keys::mark_applied_all(sp, &rows)?;
                match file {
                    FileMark::InStep => {}
                    FileMark::CaughtUp => keys::file_caught_up(sp)?,
                    FileMark::Behind(n, since) => keys::file_behind(sp, n, since)?,
                }
                Ok(keys)
            })
            .await;
        match marked {
            Ok(keys) => {
                for key in keys {
                    let _ = self.events.send(Event::Key(KeyEvent {
                        action: KeyAction::Applied,
                        key,
                        actor: None,
                    }));
                }
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "marking keys applied failed; they stay pending");
                false
            }
        }
    }

    /// Writes the managed inbound's clients: every active key, then every client no key
    /// owns, untouched. Returns `None` when the file now matches the database, else
    /// whether the failure may pass by itself.
    async fn write_file(&self) -> Option<bool> {
        let db = self
            .store
            .read(|c| Ok((keys::active(c)?, keys::owned(c)?)))
            .await;
        let (active, owned) = match db {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "reading keys for the config file failed");
                return Some(true);
            }
        };
        let managed: Vec<FileClient> = active
            .iter()
            .map(|row| FileClient {
                id: row.uuid.to_string(),
                email: email_for(row.id),
                level: 0,
                flow: self.flow.clone(),
            })
            .collect();
        let is_owned = |c: &FileClient| {
            id_from_email(&c.email).is_some_and(|id| owned.ids.contains(&id))
                || uuid::Uuid::try_parse(&c.id).is_ok_and(|u| owned.uuids.contains(&u.to_string()))
        };
        let result = self
            .file
            .write_clients_keeping_unmanaged(&managed, is_owned)
            .await
            .map(|(outcome, keep)| {
                let emails: Vec<String> = keep
                    .iter()
                    .map(|v| {
                        v.get("email")
                            .and_then(|e| e.as_str())
                            .unwrap_or("(no email)")
                            .to_owned()
                    })
                    .collect();
                (outcome, emails)
            });
        match result {
            Ok((outcome, unmanaged)) => {
                let writes = self.file.writes();
                let written = matches!(outcome, crate::corefile::WriteOutcome::Written);
                if written {
                    self.metrics.config_written();
                    tracing::info!(path = %self.file.path().display(), clients = managed.len(), writes, "core config written");
                }
                self.status.update(|s| {
                    s.config.writes = writes;
                    if written {
                        s.config.last_write_at = Some(crate::store::now());
                    }
                    s.config.last_error = None;
                    s.config.unmanaged_clients = unmanaged;
                });
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "core config not written; the previous file stays");
                self.metrics.config_write_failed();
                self.status
                    .update(|s| s.config.last_error = Some(e.to_string()));
                Some(e.is_transient())
            }
        }
    }
}
