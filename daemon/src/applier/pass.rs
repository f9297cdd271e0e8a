//! One applier pass: pending rows → core calls (many in flight) → one config write → one
//! transaction marking what is now applied → `Applied` events.

use std::sync::Arc;

use tokio::sync::Semaphore;
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
    /// Applies `rows` concurrently; results in the same order.
    async fn apply_rows(&self, rows: &[CoreRow], add_only: bool) -> Vec<Result<(), CoreError>> {
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut tasks = JoinSet::new();
        for (i, row) in rows.iter().cloned().enumerate() {
            let link = self.link.clone();
            let tag = self.inbound_tag.clone();
            let flow = self.flow.clone();
            let slots = Arc::clone(&slots);
            tasks.spawn(async move {
                let _slot = slots.acquire_owned().await;
                let result = if add_only {
                    link.add_user(&tag, &user(&row, &flow)).await.map(|_| ())
                } else {
                    apply_row(&link, &tag, &flow, &row).await
                };
                (i, result)
            });
        }
        let mut results: Vec<Result<(), CoreError>> = (0..rows.len())
            .map(|_| Err(CoreError::Transport("not attempted".into())))
            .collect();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((i, result)) => results[i] = result,
                Err(e) => tracing::error!(error = %e, "a core call task failed"),
            }
        }
        results
    }

    /// Adds every row (resync).
    pub(super) async fn add_all(&self, rows: &[CoreRow]) -> Vec<Result<(), CoreError>> {
        self.apply_rows(rows, true).await
    }

    pub(super) async fn pass(&mut self, file_dirty: &mut bool) -> PassOutcome {
        let rows = match self.store.read(keys::pending).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "applier: reading pending keys failed");
                return PassOutcome::Unreachable;
            }
        };
        if rows.is_empty() && !*file_dirty {
            return PassOutcome::Settled;
        }
        let _timer = self.metrics.applier_pass_timer();
        // The file follows the desired state whether or not the core can be reached, so a
        // core restarted from it comes back with the right users; it is written while
        // the core calls are in flight.
        let started = std::time::Instant::now();
        let write_file = !rows.is_empty() || *file_dirty;
        let (results, file_ok) = tokio::join!(self.apply_rows(&rows, false), async {
            if write_file {
                self.write_file().await
            } else {
                None
            }
        });
        *file_dirty = file_ok.is_some();
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

        if let Some(transient) = file_ok {
            return if transient || first_error.as_ref().is_some_and(CoreError::is_transient) {
                PassOutcome::Unreachable
            } else {
                PassOutcome::Refused
            };
        }
        let applied_n = applied.len();
        let core_and_file = started.elapsed();
        self.mark(applied).await;
        tracing::debug!(rows = rows.len(), applied = applied_n, ?core_and_file, total = ?started.elapsed(), "applier pass");
        match first_error {
            None => PassOutcome::Settled,
            Some(e) if e.is_transient() => PassOutcome::Unreachable,
            Some(_) => PassOutcome::Refused,
        }
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

    /// Marks rows applied in one transaction and tells watchers.
    async fn mark(&self, rows: Vec<CoreRow>) {
        if rows.is_empty() {
            return;
        }
        let marked = self
            .store
            .write(move |sp| {
                let mut ids = Vec::with_capacity(rows.len());
                for row in &rows {
                    if keys::mark_applied(sp, row)? {
                        ids.push(row.id);
                    }
                }
                keys::by_ids(sp, &ids)
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
            }
            Err(e) => tracing::error!(error = %e, "marking keys applied failed; they stay pending"),
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
