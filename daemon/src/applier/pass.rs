//! One applier pass: pending rows → core calls (many in flight) → one config write → one
//! transaction marking what is now applied → `Applied` events.

use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;
use veil_shared::api::{CoreStatus, Event, KeyAction, KeyEvent};
use veil_shared::model::KeyState;

use super::file::FileWriter;
use super::lag::FileLag;
use super::{Applier, IN_FLIGHT, email_for};
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
    /// Nothing to record.
    InStep,
    /// The lag as it now is (`(since, keys)`, or nothing behind).
    Record(Option<(i64, u64)>),
    /// This many more keys are live but not in the file yet, the oldest since this time.
    Behind(u64, i64),
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
            if super::cut::rotated(row) {
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

    pub(super) async fn pass(&mut self, lag: &mut FileLag, writer: &FileWriter) -> PassOutcome {
        let rows = match self.store.read(keys::pending).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "applier: reading pending keys failed");
                return PassOutcome::Unreachable;
            }
        };
        if rows.is_empty() && !lag.dirty {
            return PassOutcome::Settled;
        }
        let _timer = self.metrics.applier_pass_timer();
        let started = Instant::now();
        // Adds only, with a file known good: answered once the core serves them; the file
        // follows within `file_delay`, in the background. Anything that takes a user away
        // from the core (or a file that failed) writes the file first, as the reply waits.
        let write_now = lag.dirty || self.file_delay.is_zero() || rows.iter().any(removes);
        if !write_now {
            let results = self.apply_rows(&rows, false).await;
            let (applied, first_error) = self.sort_results(&rows, results).await;
            let applied_n = applied.len() as u64;
            let at = crate::store::now();
            if applied_n > 0 && self.mark(applied, FileMark::Behind(applied_n, at)).await {
                lag.persisted = true;
                lag.marked(applied_n, at, self.file_delay);
                self.show_lag(lag);
            } else {
                // The file follows the desired state even when the core is down.
                lag.due
                    .get_or_insert_with(|| Instant::now() + self.file_delay);
            }
            tracing::debug!(rows = rows.len(), applied = applied_n, total = ?started.elapsed(), "applier pass (the file follows)");
            return outcome_of(first_error);
        }
        // The file follows the desired state whether or not the core can be reached, so a
        // core restarted from it comes back with the right users; it is written while
        // the core calls are in flight.
        let generation = lag.generation();
        let (results, file_ok) = tokio::join!(self.apply_rows(&rows, false), writer.write());
        lag.dirty = file_ok.is_some();
        let (applied, first_error) = self.sort_results(&rows, results).await;
        if let Some(transient) = file_ok {
            // Tried again by the pass's own retry (or the next change), not by the file's timer.
            lag.due = None;
            return if transient || first_error.as_ref().is_some_and(CoreError::is_transient) {
                PassOutcome::Unreachable
            } else {
                PassOutcome::Refused
            };
        }
        lag.covered(generation);
        let applied_n = applied.len();
        let core_and_file = started.elapsed();
        let mark = if lag.persisted {
            FileMark::Record(lag.record())
        } else {
            FileMark::InStep
        };
        if self.mark(applied, mark).await {
            lag.persisted = lag.behind() > 0 && lag.persisted;
        }
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
        self.cut_removed(&applied).await;
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
                    FileMark::Record(record) => crate::store::filelag::file_behind_set(sp, record)?,
                    FileMark::Behind(n, since) => crate::store::filelag::file_behind(sp, n, since)?,
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
}
