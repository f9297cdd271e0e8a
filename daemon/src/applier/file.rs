//! The config file's writes, one at a time: a write reads the database and replaces the
//! file under one lock, so a later write always carries a later snapshot (a removal's write
//! is never overtaken by an older one).

use std::sync::Arc;

use tokio::sync::Mutex;

use super::status::Status;
use super::{email_for, id_from_email};
use crate::corefile::{CoreFile, FileClient};
use crate::metrics::Metrics;
use crate::store::{Store, keys};

pub struct FileWriter {
    pub store: Store,
    pub file: Arc<CoreFile>,
    pub flow: String,
    pub status: Arc<Status>,
    pub metrics: Arc<Metrics>,
    pub lock: Mutex<()>,
}

impl FileWriter {
    /// Writes the managed inbound's clients: every active key, then every client no key
    /// owns, untouched. Returns `None` when the file now matches the database, else
    /// whether the failure may pass by itself.
    pub async fn write(&self) -> Option<bool> {
        let _one_at_a_time = self.lock.lock().await;
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
