//! The `traffic.*` socket methods. Reads go to reader connections (totals) and memory
//! (rates); `traffic.sync` asks the poller for a cycle; `traffic.reset` is a mutation with
//! its audit row, like the key methods.

use tokio::sync::oneshot;
use veil_shared::api::{Actor, Event, KeyAction, KeyEvent};
use veil_shared::model::{KeyRef, KeyState};
use veil_shared::rpc::{ErrorCode, RpcError};
use veil_shared::traffic::{
    CycleReport, KeyTraffic, KeyTrafficDetail, PollerInfo, Resolution, TrafficGet, TrafficHistory,
    TrafficHistoryPage, TrafficList, TrafficPage, TrafficResetParams, TrafficSort,
};

use super::db::{self, ListQuery};
use super::limits::{self, ResetReason, Scope};
use super::{Traffic, history, online};
use crate::store::{StoreError, audit, keys, now};

/// Resets listed by `traffic.get`.
const RESETS_SHOWN: u32 = 20;

fn internal(e: StoreError) -> RpcError {
    match e {
        StoreError::Rejected(rpc) => rpc,
        other => {
            tracing::error!(error = %other, "traffic request failed inside the daemon");
            RpcError::new(ErrorCode::Internal, format!("internal error: {other}"))
        }
    }
}

impl Traffic {
    /// Fills in the live rates of the last cycle.
    fn with_rates(&self, mut rows: Vec<KeyTraffic>) -> Vec<KeyTraffic> {
        self.shared().with_live(|live| {
            for row in &mut rows {
                if let Some(&(up, down)) = live.rates.get(&row.id) {
                    row.uplink_rate = up;
                    row.downlink_rate = down;
                }
            }
        });
        rows
    }

    async fn read_one(&self, key: KeyRef) -> Result<KeyTraffic, RpcError> {
        let row = self
            .shared()
            .store
            .read(move |c| db::get(c, &key))
            .await
            .map_err(internal)?;
        Ok(self.with_rates(vec![row]).remove(0))
    }

    pub async fn get(&self, p: TrafficGet) -> Result<KeyTrafficDetail, RpcError> {
        let traffic = self.read_one(p.key).await?;
        let id = traffic.id;
        let resets = self
            .shared()
            .store
            .read(move |c| db::resets(c, id, RESETS_SHOWN))
            .await
            .map_err(internal)?;
        let shared = self.shared();
        let online = online::lookup(&shared.link, &shared.core_config, id).await;
        Ok(KeyTrafficDetail {
            traffic,
            online,
            resets,
        })
    }

    pub async fn list(&self, p: TrafficList) -> Result<TrafficPage, RpcError> {
        let sort = p.sort.unwrap_or_default();
        let (offset, limit) = (p.offset.unwrap_or(0), p.limit);
        let (rows, total) = self
            .shared()
            .store
            .read(move |c| {
                db::list(
                    c,
                    &ListQuery {
                        state: p.state,
                        search: p.search.as_deref(),
                        sort,
                        offset,
                        limit,
                    },
                )
            })
            .await
            .map_err(internal)?;
        let mut rows = self.with_rates(rows);
        if sort == TrafficSort::Rate {
            rows.sort_by_key(|r| {
                (
                    std::cmp::Reverse(r.uplink_rate.saturating_add(r.downlink_rate)),
                    r.id,
                )
            });
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(rows.len());
            rows.drain(..start);
            if let Some(limit) = limit {
                rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            }
        }
        let poller = self.shared().with_live(|live| PollerInfo {
            interval_ms: self.shared().config.interval_ms,
            last_cycle: live.last_cycle.clone(),
        });
        Ok(TrafficPage {
            keys: rows,
            total,
            poller,
        })
    }

    /// Runs a cycle now, the same one the timer runs.
    pub async fn sync(&self) -> Result<CycleReport, RpcError> {
        let (reply, answer) = oneshot::channel();
        self.sync.send(reply).await.map_err(|_| stopping())?;
        answer.await.map_err(|_| stopping())?
    }

    pub async fn history(&self, p: TrafficHistory) -> Result<TrafficHistoryPage, RpcError> {
        let resolution = p.resolution.unwrap_or_default();
        let until = p.until.unwrap_or_else(now);
        let default_span = match resolution {
            Resolution::Minute => 60 * 60,
            Resolution::Hour => 48 * 3_600,
            Resolution::Day => 30 * 86_400,
        };
        let since = p.since.unwrap_or(until.saturating_sub(default_span - 1));
        if since > until {
            return Err(RpcError::new(
                ErrorCode::InvalidInput,
                format!("since ({since}) is after until ({until})"),
            ));
        }
        let key = p.key;
        self.shared()
            .store
            .read(move |c| {
                let found = keys::get(c, &key)?;
                Ok(TrafficHistoryPage {
                    key_id: found.id,
                    resolution,
                    buckets: history::query(c, found.id, resolution, since, until)?,
                })
            })
            .await
            .map_err(internal)
    }

    /// Sets the key's totals to zero, in one transaction with its `traffic_resets` row, its
    /// audit row and the re-enabling of a key that was disabled for its limit.
    pub async fn reset(&self, actor: Actor, p: TrafficResetParams) -> Result<KeyTraffic, RpcError> {
        let key_ref = p.key.to_string();
        let key = p.key;
        let outcome = self
            .shared()
            .store
            .write(move |sp| {
                let inner = sp.savepoint()?;
                let result = (|| {
                    let found = keys::get_live(&inner, &key)?;
                    let at = now();
                    let cleared = limits::reset_totals(&inner, found.id, at, ResetReason::Manual)?;
                    let enforced = limits::enforce(&inner, at, Scope::One(found.id))?;
                    Ok::<_, StoreError>((found.id, cleared, enforced))
                })();
                match &result {
                    Ok(_) => inner.commit()?,
                    Err(_) => drop(inner),
                }
                let (outcome, detail, key_id) = match &result {
                    Ok((id, cleared, enforced)) => {
                        let mut detail = format!(
                            "cleared uplink {} B, downlink {} B",
                            cleared.uplink, cleared.downlink
                        );
                        if enforced.iter().any(|e| e.state == KeyState::Active) {
                            detail.push_str("; enabled again");
                        }
                        ("ok".to_owned(), Some(detail), Some(*id))
                    }
                    Err(StoreError::Rejected(e)) => {
                        (e.kind().to_string(), Some(e.message.clone()), None)
                    }
                    Err(other) => (
                        ErrorCode::Internal.to_string(),
                        Some(other.to_string()),
                        None,
                    ),
                };
                audit::insert(
                    sp,
                    &audit::Record {
                        actor,
                        method: "traffic.reset",
                        key_id,
                        key_ref: Some(&key_ref),
                        outcome: &outcome,
                        detail: detail.as_deref(),
                    },
                )?;
                Ok(result)
            })
            .await
            .map_err(internal)?;
        let (id, cleared, enforced) = outcome.map_err(internal)?;
        tracing::info!(
            key_id = id,
            uid = actor.uid,
            pid = actor.pid,
            uplink = cleared.uplink,
            downlink = cleared.downlink,
            "traffic reset"
        );
        if !enforced.is_empty() {
            let ids: Vec<i64> = enforced.iter().map(|e| e.id).collect();
            if let Ok(changed) = self
                .shared()
                .store
                .read(move |c| keys::by_ids(c, &ids))
                .await
            {
                for key in changed {
                    let action = if key.state == KeyState::Active {
                        KeyAction::Enabled
                    } else {
                        KeyAction::Updated
                    };
                    let _ = self.shared().events.send(Event::Key(KeyEvent {
                        action,
                        key,
                        actor: Some(actor),
                    }));
                }
            }
            // Answer once the core has the key back (or it is pending), like key.enable.
            self.shared().applier.settle().await;
        }
        self.read_one(KeyRef::Id(id)).await
    }
}

fn stopping() -> RpcError {
    RpcError::new(
        ErrorCode::Internal,
        "veild is stopping; the poller has stopped",
    )
}
