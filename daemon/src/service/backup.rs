//! Database backups: on demand (`backup`, audited) and on a schedule (`[backup]`), into the
//! backup directory with the oldest rotated out, or to a file the caller names.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use veil_shared::api::{Actor, BackupParams, BackupResult, DaemonTask};

use super::{Service, ServiceError, ServiceResult};
use crate::store::{backup, now};

impl Service {
    /// The directory scheduled backups go to.
    fn backup_dir(&self) -> PathBuf {
        self.config.backup.directory.clone().unwrap_or_else(|| {
            self.store
                .path()
                .parent()
                .unwrap_or(std::path::Path::new("/"))
                .join("backups")
        })
    }

    /// A verified copy of the database; audited with `actor` whatever the outcome.
    pub async fn backup(&self, actor: &Actor, p: BackupParams) -> ServiceResult<BackupResult> {
        let (dest, rotate_in) = match p.to {
            Some(to) => {
                let path = PathBuf::from(&to);
                if !path.is_absolute() {
                    return Err(ServiceError::invalid(format!(
                        "to = {to:?}: give an absolute path on veild's machine"
                    )));
                }
                (path, None)
            }
            None => {
                let dir = self.backup_dir();
                (dir.join(backup::name_at(now())), Some(dir))
            }
        };
        let db = self.store.path().to_owned();
        let keep = self.config.backup.keep;
        let made = tokio::task::spawn_blocking(move || {
            if let Some(dir) = &rotate_in {
                create_private_dir(dir)?;
            }
            let copied = backup::copy(&db, &dest)?;
            let rotated = match &rotate_in {
                Some(dir) => backup::rotate(dir, keep)?,
                None => Vec::new(),
            };
            Ok::<_, crate::store::StoreError>((copied, rotated))
        })
        .await
        .map_err(|e| ServiceError::internal(format!("the backup task failed: {e}")))?;
        let outcome = made.map_err(ServiceError::from);
        self.audit_backup(actor, &outcome).await;
        let (copied, rotated) = outcome?;
        tracing::info!(
            path = %copied.path.display(), bytes = copied.bytes, keys = copied.keys,
            took_ms = copied.took_ms, rotated = rotated.len(), actor = %actor.describe(),
            "database backed up"
        );
        Ok(BackupResult {
            path: copied.path.display().to_string(),
            bytes: copied.bytes,
            keys: copied.keys,
            audit_rows: copied.audit_rows,
            schema: copied.schema,
            took_ms: copied.took_ms,
            rotated: rotated.iter().map(|p| p.display().to_string()).collect(),
        })
    }

    async fn audit_backup(
        &self,
        actor: &Actor,
        outcome: &Result<(backup::Copied, Vec<PathBuf>), ServiceError>,
    ) {
        let (result, detail) = match outcome {
            Ok((c, _)) => (
                "ok".to_owned(),
                format!("{} ({} bytes, {} keys)", c.path.display(), c.bytes, c.keys),
            ),
            Err(e) => (e.kind.to_string(), e.message.clone()),
        };
        self.audit_other(actor, "backup", result, detail).await;
    }
}

fn create_private_dir(dir: &std::path::Path) -> Result<(), crate::store::StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| crate::store::StoreError::Sqlite(format!("creating {}: {e}", dir.display())))
}

/// Scheduled backups until `shutdown`: the first one an interval after start.
pub async fn scheduled(service: Arc<Service>, shutdown: CancellationToken) {
    let hours = service.config.backup.interval_hours;
    if hours == 0 {
        return;
    }
    let every = Duration::from_secs(hours * 3_600);
    let actor = Actor::Daemon {
        task: DaemonTask::Backup,
    };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(e) = service.backup(&actor, BackupParams::default()).await {
            tracing::error!(error = %e, "scheduled backup failed");
        }
    }
}
