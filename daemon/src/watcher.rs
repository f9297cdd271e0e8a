//! The health watcher (a cached health state; every active key back in a restarted core): polls the core's GetSysStats, caches its state for
//! `health`, and asks the applier for a full resync when the core restarted (its uptime
//! went back) or the link came back after an outage. With the xray flavor it also runs the
//! drift audit: the core's user list (GetInboundUsers) against the database, repairing
//! what differs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use veil_shared::api::CoreStatus;

use crate::applier::{ApplierHandle, ResyncReason, Status, email_for, id_from_email};
use crate::corelink::{CoreLink, FlavorApi as _};
use crate::metrics::Metrics;
use crate::store::{Store, keys};

/// How far the core's computed start time may wander (whole-second uptimes, our own
/// clock's rounding) before it counts as a restart.
const RESTART_SLACK_SECS: i64 = 2;

pub struct Watcher {
    pub link: CoreLink,
    pub status: Arc<Status>,
    pub applier: ApplierHandle,
    pub store: Store,
    pub inbound_tag: String,
    pub interval: Duration,
    pub drift_interval: Duration,
    pub metrics: Arc<Metrics>,
    /// Told when a core transition was queued for the webhooks.
    pub webhooks: crate::webhook::Wake,
}

impl Watcher {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut last_uptime: Option<u32> = None;
        // When the core started, by our clock (now − its uptime). It stays put while the
        // core runs; a jump forward is a restart even when whole-second uptimes hide it.
        let mut last_start: Option<i64> = None;
        let mut was_down = false;
        let mut next_drift = Instant::now() + self.drift_interval;
        loop {
            match self.link.sys_stats().await {
                Ok(stats) => {
                    tracing::trace!(uptime = stats.uptime_secs, "core poll");
                    let started_at = crate::store::now() - i64::from(stats.uptime_secs);
                    let restarted = last_uptime.is_some_and(|prev| stats.uptime_secs < prev)
                        || last_start.is_some_and(|prev| started_at > prev + RESTART_SLACK_SECS);
                    last_start = Some(started_at);
                    if was_down || last_uptime.is_none() {
                        self.core_changed(true, None).await;
                    }
                    if restarted {
                        tracing::warn!(
                            uptime = stats.uptime_secs,
                            "the core restarted; re-adding every active key"
                        );
                        self.applier.resync(ResyncReason::CoreRestart);
                    } else if was_down {
                        tracing::info!("the core is reachable again; re-adding every active key");
                        self.applier.resync(ResyncReason::LinkRestored);
                    }
                    was_down = false;
                    last_uptime = Some(stats.uptime_secs);
                    self.status.update(|s| {
                        s.core = CoreStatus::Up;
                        s.uptime_secs = Some(u64::from(stats.uptime_secs));
                        s.memory_bytes = Some(stats.sys_bytes);
                    });
                }
                Err(e) => {
                    if !was_down {
                        tracing::warn!(error = %e, "the core is unreachable");
                        self.core_changed(false, Some(e.to_string())).await;
                    }
                    was_down = true;
                    self.status.update(|s| {
                        s.core = CoreStatus::Down;
                        s.last_error = Some(e.to_string());
                    });
                }
            }
            if !was_down
                && self.link.flavor().supports_inbound_users()
                && Instant::now() >= next_drift
            {
                next_drift = Instant::now() + self.drift_interval;
                self.audit_drift().await;
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// Queues `core.up`/`core.down` for the webhooks when the state differs from the last
    /// one announced (the outbox decides, from the database).
    async fn core_changed(&self, up: bool, error: Option<String>) {
        let queued = self
            .store
            .write(move |sp| crate::store::webhooks::core_state(sp, up, error.as_deref()))
            .await;
        match queued {
            Ok(true) => self.webhooks.wake(),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "webhooks: queueing the core's state failed"),
        }
    }

    /// Compares the core's users with the keys and has the applier repair the difference
    /// (only the applier changes users): rows whose user is missing, has a wrong UUID,
    /// or should not be there are marked unapplied, so they become pending and the next
    /// pass fixes them. A user of an id the database has never had is removed here, as no
    /// row can carry it. Users Veil does not own are left alone (`config.unmanaged_clients`).
    async fn audit_drift(&self) {
        let core_users = match self.link.inbound_users(&self.inbound_tag).await {
            Ok(users) => users,
            Err(e) => {
                tracing::warn!(error = %e, "drift audit: listing the core's users failed");
                return;
            }
        };
        let db = self
            .store
            .read(|c| Ok((keys::active(c)?, keys::all_ids(c)?)))
            .await;
        let (active, known) = match db {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "drift audit: reading keys failed");
                return;
            }
        };
        let expected: HashMap<String, (i64, String)> = active
            .iter()
            .map(|r| (email_for(r.id), (r.id, r.uuid.to_string())))
            .collect();
        let in_core: HashMap<String, String> = core_users
            .iter()
            .map(|u| (u.email.to_lowercase(), u.uuid.to_lowercase()))
            .collect();
        let mut redo: Vec<i64> = Vec::new();
        for (email, (id, uuid)) in &expected {
            if in_core.get(email) != Some(uuid) {
                redo.push(*id);
            }
        }
        let mut strays = 0u64;
        for email in in_core.keys() {
            let Some(id) = id_from_email(email) else {
                continue;
            };
            if expected.contains_key(email) {
                continue;
            }
            if known.contains(&id) {
                redo.push(id);
            } else {
                strays += 1;
                if let Err(e) = self.link.remove_user(&self.inbound_tag, email).await {
                    tracing::warn!(email, error = %e, "drift audit: removing a user no key owns failed");
                }
            }
        }
        let drift = redo.len() as u64 + strays;
        if !redo.is_empty() {
            let ids = redo.clone();
            match self
                .store
                .write(move |sp| keys::mark_unapplied(sp, &ids))
                .await
            {
                Ok(()) => self.applier.nudge(),
                Err(e) => {
                    tracing::error!(error = %e, "drift audit: marking keys for repair failed");
                }
            }
        }
        if drift > 0 {
            self.metrics.drift_repaired(drift);
            tracing::warn!(
                drift,
                "drift audit: the core differed from the database; repairing"
            );
        }
        self.status.update(|s| s.drift = Some(drift));
    }
}
