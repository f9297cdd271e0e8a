//! Reads about the setup rather than one key's state: health, the doctor, the audit trail,
//! and a key's share link and client config.

use veil_shared::api::{
    Actor, AuditList, AuditPage, CoreHealth, DatabaseHealth, DoctorReport, Health, KeyConfig,
    KeyConfigResult, KeyLink, KeyLinkResult,
};

use super::{Service, ServiceResult};
use crate::store::{audit, keys};

/// Audit entries returned when the caller does not say.
const AUDIT_DEFAULT_LIMIT: u32 = 100;
const AUDIT_MAX_LIMIT: u32 = 10_000;

impl Service {
    /// The key's `vless://` share link.
    pub async fn link(&self, p: KeyLink) -> ServiceResult<KeyLinkResult> {
        crate::share::key_link(&self.store, &self.config, p).await
    }

    /// A complete client config for Xray-based clients.
    pub async fn config(&self, p: KeyConfig) -> ServiceResult<KeyConfigResult> {
        crate::share::key_config(&self.store, &self.config, p).await
    }

    /// Inspects the setup (core config, database, socket) as the daemon's user.
    pub async fn doctor(&self) -> DoctorReport {
        crate::doctor::run(&self.config, crate::doctor::Db::Live(&self.store)).await
    }

    /// Newest first; with a key, only its entries.
    pub async fn audit(&self, p: AuditList) -> ServiceResult<AuditPage> {
        let limit = p
            .limit
            .unwrap_or(AUDIT_DEFAULT_LIMIT)
            .clamp(1, AUDIT_MAX_LIMIT);
        let page = self
            .store
            .read(move |c| {
                let key_id = match &p.key {
                    Some(key) => Some(keys::get(c, key)?.id),
                    None => None,
                };
                Ok(AuditPage {
                    entries: audit::list(c, key_id, limit)?,
                })
            })
            .await?;
        Ok(page)
    }

    /// Records, in the audit trail, a caller a front end turned away (`method` names what
    /// was refused, e.g. `connect`).
    pub async fn record_refusal(&self, actor: &Actor, method: &'static str, detail: String) {
        self.audit_other(actor, method, "forbidden".into(), detail)
            .await;
    }

    /// One audit row for an operation that is not a key change (refusals, backups); a
    /// failure to write it is logged, never passed to the caller.
    pub(super) async fn audit_other(
        &self,
        actor: &Actor,
        method: &'static str,
        outcome: String,
        detail: String,
    ) {
        let actor = actor.clone();
        let result = self
            .store
            .write(move |sp| {
                audit::insert(
                    sp,
                    &audit::Record {
                        actor: &actor,
                        method,
                        key_id: None,
                        key_ref: None,
                        outcome: &outcome,
                        detail: Some(&detail),
                    },
                )
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, method, "could not write an audit row");
        }
    }

    /// Proof that the parts that do the work still turn: a round trip through the store's
    /// writer thread and through the applier's loop, each within `within`. On success, the
    /// one-line state systemd shows (`STATUS=`).
    pub async fn heartbeat(&self, within: std::time::Duration) -> Result<String, String> {
        let writer = tokio::time::timeout(within, self.store.write(|_| Ok(()))).await;
        match writer {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("the database writer failed: {e}")),
            Err(_) => return Err(format!("the database writer did not answer in {within:?}")),
        }
        match tokio::time::timeout(within, self.applier.ping()).await {
            Ok(true) => {}
            Ok(false) => return Err("the applier has stopped".into()),
            Err(_) => return Err(format!("the applier did not answer in {within:?}")),
        }
        let h = self.health().await;
        Ok(format!(
            "{} keys active, {} pending{}, core {}",
            h.database.keys.active,
            h.pending,
            if h.refused > 0 {
                format!(" ({} refused)", h.refused)
            } else {
                String::new()
            },
            match h.core.status {
                veil_shared::api::CoreStatus::Up => "up",
                veil_shared::api::CoreStatus::Down => "down",
                veil_shared::api::CoreStatus::Unknown => "not checked yet",
            }
        ))
    }

    /// Core and database status, pending work and the config file's state.
    pub async fn health(&self) -> Health {
        let db = self
            .store
            .read(|c| {
                Ok((
                    keys::counts(c)?,
                    keys::pending_count(c)?,
                    keys::refused_count(c)?,
                ))
            })
            .await;
        let path = self.store.path().display().to_string();
        let (database, (pending, refused)) = match db {
            Ok((counts, pending, refused)) => (
                DatabaseHealth {
                    ok: true,
                    path,
                    keys: counts,
                    error: None,
                },
                (pending, refused),
            ),
            Err(e) => (
                DatabaseHealth {
                    ok: false,
                    path,
                    keys: Default::default(),
                    error: Some(e.to_string()),
                },
                (0, 0),
            ),
        };
        let status = self.status.snapshot();
        Health {
            version: veil_shared::VERSION.into(),
            protocol: veil_shared::PROTOCOL_VERSION,
            pid: std::process::id(),
            uptime_secs: self.started.elapsed().as_secs(),
            database,
            core: CoreHealth {
                status: status.core,
                flavor: self.config.core.flavor.as_str().into(),
                api: self.config.core.api.clone(),
                uptime_secs: status.uptime_secs,
                memory_bytes: status.memory_bytes,
                last_error: status.last_error,
                last_resync: status.last_resync,
                drift: status.drift,
            },
            pending,
            refused,
            config: Some(status.config),
            disconnect: status.disconnect,
            fleet: self.fleet.as_ref().map(|registry| registry.report()),
            http: self.http_report.get().map(|report| Box::new(report.http())),
            webhooks: match self.webhook_list().await {
                Ok(page) => page.webhooks,
                Err(e) => {
                    tracing::warn!(error = %e, "health: reading the webhooks' queue failed");
                    Vec::new()
                }
            },
        }
    }
}
