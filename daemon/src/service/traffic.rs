//! Traffic operations: reads delegate to the accounting module; a reset is a mutation and
//! takes the pipeline like every other.

use veil_shared::api::{Actor, KeyAction};
use veil_shared::model::{KeyRef, KeyState};
use veil_shared::traffic::{
    CycleReport, KeyTraffic, KeyTrafficDetail, TrafficGet, TrafficHistory, TrafficHistoryPage,
    TrafficList, TrafficPage, TrafficResetParams,
};

use super::pipeline::{Changed, Mutation};
use super::{Service, ServiceResult};
use crate::store::{StoreError, keys, now};
use crate::traffic::limits::{self, Cleared, ResetReason, Scope};

impl Service {
    /// One key's totals, live rates, online users and recent resets.
    pub async fn traffic_get(&self, p: TrafficGet) -> ServiceResult<KeyTrafficDetail> {
        self.traffic.get(p).await
    }

    pub async fn traffic_list(&self, p: TrafficList) -> ServiceResult<TrafficPage> {
        self.traffic.list(p).await
    }

    /// Runs a poller cycle now (the same code path as the background poller).
    pub async fn traffic_sync(&self) -> ServiceResult<CycleReport> {
        self.traffic.sync().await
    }

    pub async fn traffic_history(&self, p: TrafficHistory) -> ServiceResult<TrafficHistoryPage> {
        self.traffic.history(p).await
    }

    /// Sets the key's totals to zero, in one transaction with its `traffic_resets` row, its
    /// audit row and the re-enabling of a key that was disabled for its limit.
    pub async fn traffic_reset(
        &self,
        actor: &Actor,
        p: TrafficResetParams,
    ) -> ServiceResult<KeyTraffic> {
        let what = Mutation {
            method: "traffic.reset",
            key_ref: Some(p.key.to_string()),
        };
        let key = p.key;
        let (id, cleared) = self.mutate(actor, what, move |c| reset_in(c, &key)).await?;
        tracing::info!(
            key_id = id,
            actor = %actor.describe(),
            uplink = cleared.uplink,
            downlink = cleared.downlink,
            "traffic reset"
        );
        self.traffic.read_one(KeyRef::Id(id)).await
    }
}

/// The body of a manual reset: clear the totals, then enforce the key's limit again (a
/// key disabled for its limit comes back).
fn reset_in(c: &rusqlite::Connection, key: &KeyRef) -> Result<Changed<(i64, Cleared)>, StoreError> {
    let found = keys::get_live(c, key)?;
    let at = now();
    let cleared = limits::reset_totals(c, found.id, at, ResetReason::Manual)?;
    // On a fleet node, every node resets its share of the key when it sees this grow.
    c.prepare_cached("UPDATE keys SET fleet_resets = fleet_resets + 1 WHERE id = ?1")?
        .execute([found.id])?;
    let enforced = limits::enforce(c, at, Scope::One(found.id))?;
    let mut detail = format!(
        "cleared uplink {} B, downlink {} B",
        cleared.uplink, cleared.downlink
    );
    if enforced.iter().any(|e| e.state == KeyState::Active) {
        detail.push_str("; enabled again");
    }
    let ids: Vec<i64> = enforced.iter().map(|e| e.id).collect();
    let events = keys::by_ids(c, &ids)?
        .into_iter()
        .map(|key| {
            let action = if key.state == KeyState::Active {
                KeyAction::Enabled
            } else {
                KeyAction::Updated
            };
            (action, key)
        })
        .collect();
    Ok(Changed {
        value: (found.id, cleared),
        key_id: Some(found.id),
        detail: Some(detail),
        events,
    })
}
