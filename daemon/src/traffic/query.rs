//! Traffic reads for the service: totals from reader connections, rates from memory, and
//! on-demand cycles from the poller. Resets are mutations and go through the service's
//! pipeline (the service's traffic operations).

use tokio::sync::oneshot;
use veil_shared::model::KeyRef;
use veil_shared::traffic::{
    CycleReport, KeyTraffic, KeyTrafficDetail, PollerInfo, Resolution, TrafficGet, TrafficHistory,
    TrafficHistoryPage, TrafficList, TrafficPage, TrafficSort,
};

use super::db::{self, ListQuery};
use super::{Traffic, history, online};
use crate::error::{ErrorKind, ServiceError};
use crate::store::{keys, now};

/// Resets listed by `traffic.get`.
const RESETS_SHOWN: u32 = 20;

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

    pub(crate) async fn read_one(&self, key: KeyRef) -> Result<KeyTraffic, ServiceError> {
        let row = self.shared().store.read(move |c| db::get(c, &key)).await?;
        Ok(self.with_rates(vec![row]).remove(0))
    }

    pub async fn get(&self, p: TrafficGet) -> Result<KeyTrafficDetail, ServiceError> {
        let traffic = self.read_one(p.key).await?;
        let id = traffic.id;
        let resets = self
            .shared()
            .store
            .read(move |c| db::resets(c, id, RESETS_SHOWN))
            .await?;
        let shared = self.shared();
        let online = online::lookup(&shared.link, &shared.core_config, id).await;
        Ok(KeyTrafficDetail {
            traffic,
            online,
            resets,
        })
    }

    pub async fn list(&self, p: TrafficList) -> Result<TrafficPage, ServiceError> {
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
            .await?;
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
    pub async fn sync(&self) -> Result<CycleReport, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.sync.send(reply).await.map_err(|_| stopping())?;
        answer.await.map_err(|_| stopping())?
    }

    pub async fn history(&self, p: TrafficHistory) -> Result<TrafficHistoryPage, ServiceError> {
        let resolution = p.resolution.unwrap_or_default();
        let until = p.until.unwrap_or_else(now);
        let default_span = match resolution {
            Resolution::Minute => 60 * 60,
            Resolution::Hour => 48 * 3_600,
            Resolution::Day => 30 * 86_400,
        };
        let since = p.since.unwrap_or(until.saturating_sub(default_span - 1));
        if since > until {
            return Err(ServiceError::new(
                ErrorKind::InvalidInput,
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
            .map_err(ServiceError::from)
    }
}

fn stopping() -> ServiceError {
    ServiceError::new(
        ErrorKind::Internal,
        "veild is stopping; the poller has stopped",
    )
}
