//! The poller: one task, one cycle at a time, on a timer and on `traffic.sync` (S11: one
//! code path for both).
//!
//! A cycle:
//! 1. `GetSysStats`, `QueryStats("user>>>key-", reset = false)`, `GetSysStats`: the two
//!    uptimes place the core's start on the host's monotonic clock; if they disagree the
//!    core restarted mid-read and the cycle is not accounted (the next one is).
//! 2. The start is compared with the stored epoch: a core started elsewhere in time is a
//!    new epoch, whose counters count from zero.
//! 3. Per key, `delta = raw - baseline` (or `raw` for a counter lower than its baseline or of
//!    a new epoch), against baselines kept in memory and loaded from the database at start.
//!    Only keys whose counters moved are written.
//! 4. One writer job: totals and baselines of the moved keys, minute buckets, roll-ups,
//!    periodic resets, limit and expiry enforcement.
//! 5. After the commit: the in-memory baselines, rates and report; `event.traffic` when some
//!    key moved; `event.key` and an applier nudge for keys the cycle disabled or enabled.
//!
//! When the core cannot be read, the cycle still runs step 4 without accounting, so expiry
//! and periodic resets happen while the core is down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use veil_shared::api::{Event, KeyAction, KeyEvent};
use veil_shared::model::KeyState;
use veil_shared::rpc::{ErrorCode, RpcError};
use veil_shared::traffic::{CycleReport, TrafficEvent, TrafficTick};

use super::clock;
use super::db::{self, Accounting, Baseline, CycleDone, CycleWrite, Epoch, IdMap, RowUpdate};
use super::{Shared, SyncReply};
use crate::corelink::CoreError;
use crate::store::keys;

/// Substring every per-key counter of Veil's users contains (`user>>>key-N@veil>>>…`).
pub const PATTERN: &str = "user>>>key-";
/// Two estimates of one core's start differ by less than this (uptime is in whole seconds,
/// and each estimate's own call is bounded by [`MAX_PROBE_MS`]).
const SAME_START_MS: i64 = 2_000;
/// A `GetSysStats` answer slower than this is too vague to place the core's start.
const MAX_PROBE_MS: i64 = 500;
/// Every this many cycles, every key's limit is checked, not only the moved ones'.
const FULL_CHECK_EVERY: u64 = 360;

/// Why a cycle could not account.
#[derive(Debug)]
enum Unread {
    Core(CoreError),
    /// The core restarted between the two uptime reads, or a read was too slow to tell.
    Unsure(&'static str),
}

impl std::fmt::Display for Unread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unread::Core(e) => write!(f, "{e}"),
            Unread::Unsure(why) => f.write_str(why),
        }
    }
}

/// What one read of the core gave.
struct CoreRead {
    start_ms: i64,
    counters: Vec<(String, i64)>,
    /// Monotonic ms when the counters were read.
    read_at: i64,
}

pub struct Poller {
    shared: Arc<Shared>,
    /// `None` until loaded from the database (first cycle, or after a failed commit).
    baselines: Option<IdMap<Baseline>>,
    epoch: Option<Epoch>,
    /// Monotonic ms of the last accounted read, for rates.
    last_read: Option<i64>,
    cycles: u64,
    core_down: bool,
}

impl Poller {
    pub fn new(shared: Arc<Shared>) -> Self {
        Poller {
            shared,
            baselines: None,
            epoch: None,
            last_read: None,
            cycles: 0,
            core_down: false,
        }
    }

    pub async fn run(
        mut self,
        mut requests: mpsc::Receiver<SyncReply>,
        shutdown: CancellationToken,
    ) {
        let interval = Duration::from_millis(self.shared.config.interval_ms);
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                request = requests.recv() => {
                    let Some(reply) = request else { break };
                    let report = self.cycle().await;
                    let _ = reply.send(report);
                }
                _ = ticker.tick() => {
                    let _ = self.cycle().await;
                }
            }
        }
        tracing::debug!("traffic poller stopped");
    }

    /// One cycle; `Err` when the core could not be read (maintenance still ran).
    pub async fn cycle(&mut self) -> Result<CycleReport, RpcError> {
        let started = Instant::now();
        self.cycles += 1;
        let full_check = self.cycles % FULL_CHECK_EVERY == 1;
        if self.baselines.is_none() {
            let loaded = self.shared.store.read(db::load_state).await;
            match loaded {
                Ok((baselines, epoch)) => {
                    self.baselines = Some(baselines);
                    self.epoch = epoch;
                }
                Err(e) => {
                    tracing::error!(error = %e, "traffic: reading baselines failed");
                    return Err(internal(e.to_string()));
                }
            }
        }
        let read = self.read_core().await;
        let read_us = started.elapsed().as_micros() as u64;
        let read = match read {
            Ok(read) => {
                if self.core_down {
                    tracing::info!("traffic: the core's counters are readable again");
                    self.core_down = false;
                }
                read
            }
            Err(why) => {
                if !self.core_down {
                    tracing::warn!(error = %why, "traffic: cannot read the core's counters; accounting waits");
                }
                self.core_down = matches!(why, Unread::Core(_));
                self.maintain(full_check).await;
                return Err(match why {
                    Unread::Core(e) if e.is_transient() => RpcError::new(
                        ErrorCode::CoreUnavailable,
                        format!("cannot read the core's counters: {e}"),
                    ),
                    Unread::Core(e) => {
                        internal(format!("the core refused the counters query: {e}"))
                    }
                    Unread::Unsure(why) => RpcError::new(
                        ErrorCode::CoreUnavailable,
                        format!("{why}; the counters are accounted next cycle"),
                    ),
                });
            }
        };

        // The epoch these counters belong to.
        let boot = clock::boot_id();
        let (epoch, new_epoch) = match &self.epoch {
            Some(e) if e.boot == boot && (e.start_ms - read.start_ms).abs() <= SAME_START_MS => {
                (e.clone(), false)
            }
            previous => {
                let number = previous.as_ref().map_or(1, |e| e.number + 1);
                if previous.is_some() {
                    tracing::info!(
                        epoch = number,
                        "traffic: the core restarted; its counters begin a new epoch"
                    );
                }
                (
                    Epoch {
                        number,
                        boot: boot.to_owned(),
                        start_ms: read.start_ms,
                    },
                    true,
                )
            }
        };

        let baselines = self.baselines.get_or_insert_with(IdMap::default);
        let rows = deltas(&read.counters, baselines, epoch.number);
        let counters = read.counters.len() as u64;
        drop(read.counters);
        let delta_us = started.elapsed().as_micros() as u64 - read_us;

        let write = CycleWrite {
            accounting: Some(Accounting {
                epoch: epoch.clone(),
                new_epoch,
                rows: rows.clone(),
            }),
            full_check,
            retention: self.shared.config.retention(),
            actor: self.shared.actor,
        };
        let written = Instant::now();
        let done = match self
            .shared
            .store
            .write(move |sp| {
                let job = Instant::now();
                db::write_cycle(sp, &write).map(|done| (done, job.elapsed()))
            })
            .await
        {
            Ok((done, job)) => {
                tracing::trace!(
                    job_us = job.as_micros() as u64,
                    write_us = written.elapsed().as_micros() as u64,
                    "traffic cycle's transaction"
                );
                done
            }
            Err(e) => {
                // Nothing was committed; reload the baselines so the next cycle starts
                // from what the database has.
                tracing::error!(error = %e, "traffic: the cycle's transaction failed; nothing was counted");
                self.baselines = None;
                self.epoch = None;
                return Err(internal(e.to_string()));
            }
        };

        // Committed: the database and memory agree again.
        if let Some(baselines) = self.baselines.as_mut() {
            for row in &rows {
                baselines.insert(
                    row.key_id,
                    Baseline {
                        uplink: row.raw_uplink,
                        downlink: row.raw_downlink,
                        epoch: epoch.number,
                    },
                );
            }
        }
        self.epoch = Some(epoch.clone());
        let span_ms = self.last_read.map(|prev| (read.read_at - prev).max(1));
        self.last_read = Some(read.read_at);

        let ticks = ticks(&rows, &done, span_ms);
        let report = CycleReport {
            at: done.stamp,
            counters,
            moved: ticks.len() as u64,
            epoch: epoch.number,
            new_epoch,
            took_us: started.elapsed().as_micros() as u64,
            disabled: enforced_ids(&done, KeyState::Disabled),
            enabled: enforced_ids(&done, KeyState::Active),
            reset: done.reset.clone(),
        };
        self.shared.with_live(|live| {
            live.rates = ticks
                .iter()
                .map(|t| (t.id, (t.uplink_rate, t.downlink_rate)))
                .collect();
            live.last_cycle = Some(report.clone());
        });
        tracing::debug!(
            counters,
            moved = report.moved,
            took_us = report.took_us,
            read_us,
            delta_us,
            db_us = written.elapsed().as_micros() as u64,
            "traffic cycle"
        );
        if !ticks.is_empty() {
            let _ = self.shared.events.send(Event::Traffic(TrafficEvent {
                at: done.stamp,
                interval_ms: span_ms.map_or(0, |ms| ms as u64),
                keys: ticks,
            }));
        }
        self.publish(&done).await;
        Ok(report)
    }

    /// Reads the counters between two uptime probes.
    async fn read_core(&self) -> Result<CoreRead, Unread> {
        let first = self.core_start().await?;
        let counters = self
            .shared
            .link
            .query_stats(PATTERN, false)
            .await
            .map_err(Unread::Core)?;
        let read_at = clock::monotonic_ms();
        let second = self.core_start().await?;
        if (first - second).abs() > SAME_START_MS {
            return Err(Unread::Unsure(
                "the core restarted while its counters were read",
            ));
        }
        Ok(CoreRead {
            start_ms: first,
            counters,
            read_at,
        })
    }

    /// The core's start on the monotonic clock: (time before asking) − uptime.
    async fn core_start(&self) -> Result<i64, Unread> {
        let before = clock::monotonic_ms();
        let sys = self.shared.link.sys_stats().await.map_err(Unread::Core)?;
        let after = clock::monotonic_ms();
        if after - before > MAX_PROBE_MS {
            return Err(Unread::Unsure(
                "the core answered GetSysStats too slowly to place its start",
            ));
        }
        Ok(before - i64::from(sys.uptime_secs) * 1_000)
    }

    /// The cycle without accounting: resets, expiry, roll-ups.
    async fn maintain(&self, full_check: bool) {
        let write = CycleWrite {
            accounting: None,
            full_check,
            retention: self.shared.config.retention(),
            actor: self.shared.actor,
        };
        match self
            .shared
            .store
            .write(move |sp| db::write_cycle(sp, &write))
            .await
        {
            Ok(done) => self.publish(&done).await,
            Err(e) => tracing::error!(error = %e, "traffic: maintenance transaction failed"),
        }
    }

    /// `event.key` for keys the cycle disabled or enabled, and a nudge to the applier.
    async fn publish(&self, done: &CycleDone) {
        if done.enforced.is_empty() {
            return;
        }
        let ids: Vec<i64> = done.enforced.iter().map(|e| e.id).collect();
        for e in &done.enforced {
            tracing::info!(key_id = e.id, state = %e.state, reason = ?e.reason, "traffic: key state changed by its limit or expiry");
        }
        match self.shared.store.read(move |c| keys::by_ids(c, &ids)).await {
            Ok(changed) => {
                for key in changed {
                    let action = match (key.state, key.applied) {
                        (KeyState::Active, _) => KeyAction::Enabled,
                        (KeyState::Disabled, Some(KeyState::Disabled)) => KeyAction::Updated,
                        _ => KeyAction::Disabled,
                    };
                    let _ = self.shared.events.send(Event::Key(KeyEvent {
                        action,
                        key,
                        actor: None,
                    }));
                }
            }
            Err(e) => tracing::error!(error = %e, "traffic: reading changed keys failed"),
        }
        self.shared.applier.nudge();
    }
}

fn internal(message: String) -> RpcError {
    RpcError::new(ErrorCode::Internal, message)
}

fn enforced_ids(done: &CycleDone, state: KeyState) -> Vec<i64> {
    done.enforced
        .iter()
        .filter(|e| e.state == state)
        .map(|e| e.id)
        .collect()
}

/// `(key id, is uplink)` of a counter name `user>>>key-N@veil>>>traffic>>>uplink|downlink`
/// (the email as [`crate::applier::email_for`] makes it).
pub fn parse_counter(name: &str) -> Option<(i64, bool)> {
    let rest = name.strip_prefix("user>>>key-")?;
    let (digits, uplink) = match rest.strip_suffix("@veil>>>traffic>>>uplink") {
        Some(digits) => (digits, true),
        None => (rest.strip_suffix("@veil>>>traffic>>>downlink")?, false),
    };
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id: i64 = digits.parse().ok()?;
    Some((id, uplink))
}

/// Per key whose counters differ from its baseline: the bytes to add and the new raw
/// values. A counter of a new epoch, or lower than its baseline, counts from zero; a
/// counter the core does not list leaves its baseline alone. Counters equal to their
/// baseline (most of them, most cycles) cost one lookup and nothing more.
pub fn deltas(
    counters: &[(String, i64)],
    baselines: &IdMap<Baseline>,
    epoch: u64,
) -> Vec<RowUpdate> {
    let mut moved: IdMap<(Option<i64>, Option<i64>)> = IdMap::default();
    for (name, value) in counters {
        let Some((id, uplink)) = parse_counter(name) else {
            continue;
        };
        let value = (*value).max(0);
        let unchanged = baselines.get(&id).is_some_and(|b| {
            b.epoch == epoch && value == if uplink { b.uplink } else { b.downlink }
        });
        if unchanged {
            continue;
        }
        let entry = moved.entry(id).or_default();
        if uplink {
            entry.0 = Some(value);
        } else {
            entry.1 = Some(value);
        }
    }
    let mut rows: Vec<RowUpdate> = moved
        .into_iter()
        .map(|(id, (up, down))| {
            let base = baselines
                .get(&id)
                .copied()
                .filter(|b| b.epoch == epoch)
                .unwrap_or(Baseline {
                    uplink: 0,
                    downlink: 0,
                    epoch,
                });
            let (d_up, raw_up) = step(base.uplink, up);
            let (d_down, raw_down) = step(base.downlink, down);
            RowUpdate {
                key_id: id,
                d_uplink: d_up,
                d_downlink: d_down,
                raw_uplink: raw_up,
                raw_downlink: raw_down,
            }
        })
        .collect();
    rows.sort_unstable_by_key(|r| r.key_id);
    rows
}

fn step(base: i64, raw: Option<i64>) -> (u64, i64) {
    match raw {
        None => (0, base),
        Some(raw) if raw >= base => ((raw - base) as u64, raw),
        Some(raw) => (raw as u64, raw),
    }
}

fn ticks(rows: &[RowUpdate], done: &CycleDone, span_ms: Option<i64>) -> Vec<TrafficTick> {
    let moved: IdMap<&RowUpdate> = rows.iter().map(|r| (r.key_id, r)).collect();
    done.totals
        .iter()
        .filter_map(|&(id, uplink, downlink)| {
            let row = moved.get(&id)?;
            let rate = |bytes: u64| match span_ms {
                Some(ms) => {
                    (u128::from(bytes) * 1000 / ms.max(1) as u128).min(u128::from(u64::MAX)) as u64
                }
                None => 0,
            };
            Some(TrafficTick {
                id,
                uplink_rate: rate(row.d_uplink),
                downlink_rate: rate(row.d_downlink),
                uplink,
                downlink,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(list: &[(i64, i64, i64)]) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for &(id, up, down) in list {
            out.push((format!("user>>>key-{id}@veil>>>traffic>>>uplink"), up));
            out.push((format!("user>>>key-{id}@veil>>>traffic>>>downlink"), down));
        }
        out
    }

    fn base(up: i64, down: i64, epoch: u64) -> Baseline {
        Baseline {
            uplink: up,
            downlink: down,
            epoch,
        }
    }

    #[test]
    fn counter_names_match_the_emails_the_applier_gives() {
        for id in [1, 9, 10, 12_345, i64::MAX] {
            let email = crate::applier::email_for(id);
            let name = format!("user>>>{email}>>>traffic>>>downlink");
            assert_eq!(parse_counter(&name), Some((id, false)));
            assert_eq!(crate::applier::id_from_email(&email), Some(id));
        }
    }

    #[test]
    fn counter_names_are_parsed_strictly() {
        assert_eq!(
            parse_counter("user>>>key-12@veil>>>traffic>>>uplink"),
            Some((12, true))
        );
        assert_eq!(
            parse_counter("user>>>key-1@veil>>>traffic>>>downlink"),
            Some((1, false))
        );
        for bad in [
            "user>>>alice@example>>>traffic>>>uplink",
            "inbound>>>vless-in>>>traffic>>>uplink",
            "user>>>key-01@veil>>>traffic>>>uplink",
            "user>>>key-1@veil>>>traffic>>>sideways",
            "user>>>key-1@veil>>>online",
        ] {
            assert_eq!(parse_counter(bad), None, "{bad}");
        }
    }

    #[test]
    fn deltas_are_counted_once_from_the_baseline() {
        let mut known = IdMap::default();
        known.insert(1, base(100, 1_000, 1));
        known.insert(2, base(50, 50, 1));
        let rows = deltas(
            &counters(&[(1, 150, 1_500), (2, 50, 50), (3, 7, 9)]),
            &known,
            1,
        );
        assert_eq!(
            rows,
            vec![
                RowUpdate {
                    key_id: 1,
                    d_uplink: 50,
                    d_downlink: 500,
                    raw_uplink: 150,
                    raw_downlink: 1_500
                },
                // Key 3 is new: all of its counters count.
                RowUpdate {
                    key_id: 3,
                    d_uplink: 7,
                    d_downlink: 9,
                    raw_uplink: 7,
                    raw_downlink: 9
                },
            ]
        );
    }

    #[test]
    fn a_lower_counter_or_a_new_epoch_counts_from_zero() {
        let mut known = IdMap::default();
        known.insert(1, base(100, 1_000, 1));
        // Lower than the baseline in the same epoch: reset behind our back.
        let rows = deltas(&counters(&[(1, 30, 2_000)]), &known, 1);
        assert_eq!((rows[0].d_uplink, rows[0].d_downlink), (30, 1_000));
        // A new epoch: the old baselines are worth nothing, even if the counter is higher.
        let rows = deltas(&counters(&[(1, 500, 5_000)]), &known, 2);
        assert_eq!((rows[0].d_uplink, rows[0].d_downlink), (500, 5_000));
        // A new epoch with counters still at zero: no bytes, but the baseline moves to it.
        let rows = deltas(&counters(&[(1, 0, 0)]), &known, 2);
        assert_eq!(
            rows,
            vec![RowUpdate {
                key_id: 1,
                d_uplink: 0,
                d_downlink: 0,
                raw_uplink: 0,
                raw_downlink: 0
            }]
        );
    }

    #[test]
    fn a_missing_counter_keeps_its_baseline() {
        let mut known = IdMap::default();
        known.insert(1, base(100, 1_000, 1));
        let only_down = vec![("user>>>key-1@veil>>>traffic>>>downlink".to_owned(), 1_200)];
        let rows = deltas(&only_down, &known, 1);
        assert_eq!(
            rows,
            vec![RowUpdate {
                key_id: 1,
                d_uplink: 0,
                d_downlink: 200,
                raw_uplink: 100,
                raw_downlink: 1_200
            }]
        );
    }
}
