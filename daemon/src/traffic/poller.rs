//! The poller: one task, one cycle at a time, on a timer and on `traffic.sync` (one code
//! path for the background sync and the on-demand one).
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
use veil_shared::api::{Actor, DaemonTask, Event, KeyAction, KeyEvent};
use veil_shared::model::KeyState;
use veil_shared::traffic::{CycleReport, TrafficEvent, TrafficTick};

use super::clock;
use super::db::{self, Accounting, Baseline, CycleDone, CycleWrite, Epoch, IdMap, RowUpdate};
use super::delta::{deltas, ticks};
use super::shared::{Shared, SyncReply};
use crate::corelink::{CoreError, RawStat};
use crate::error::{ErrorKind, ServiceError};
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
    counters: Vec<RawStat>,
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
                () = shutdown.cancelled() => break,
                request = requests.recv() => {
                    let Some(reply) = request else { break };
                    let report = self.cycle().await;
                    trim_after_cycle();
                    let _ = reply.send(report);
                }
                _ = ticker.tick() => {
                    let _ = self.cycle().await;
                    trim_after_cycle();
                }
            }
        }
        tracing::debug!("traffic poller stopped");
    }

    /// One cycle; `Err` when the core could not be read (maintenance still ran).
    pub async fn cycle(&mut self) -> Result<CycleReport, ServiceError> {
        let _timer = self.shared.metrics.traffic_cycle_timer();
        let started = Instant::now();
        self.cycles += 1;
        let full_check = self.cycles % FULL_CHECK_EVERY == 1;
        self.load_baselines().await?;
        let read = self.read_or_maintain(full_check).await?;
        let read_us = started.elapsed().as_micros() as u64;
        let (epoch, new_epoch) = self.epoch_of(read.start_ms);
        let baselines = self.baselines.get_or_insert_with(IdMap::default);
        let rows = deltas(
            read.counters.iter().map(|c| (&c.name[..], c.value)),
            baselines,
            epoch.number,
        );
        let counters = read.counters.len() as u64;
        let delta_us = started.elapsed().as_micros() as u64 - read_us;

        let written = Instant::now();
        let done = self.commit(&rows, &epoch, new_epoch, full_check).await?;
        let db_us = written.elapsed().as_micros() as u64;
        let (up, down) = rows.iter().fold((0u64, 0u64), |(u, d), r| {
            (u.saturating_add(r.d_uplink), d.saturating_add(r.d_downlink))
        });
        self.shared.metrics.traffic_accounted(up, down);
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
        tracing::debug!(
            counters,
            moved = report.moved,
            took_us = report.took_us,
            read_us,
            delta_us,
            db_us,
            "traffic cycle"
        );
        self.share(&report, ticks, &done, span_ms);
        self.publish(&done).await;
        Ok(report)
    }

    /// Loads the baselines and the epoch from the database when memory has none (at start,
    /// and after a failed transaction).
    async fn load_baselines(&mut self) -> Result<(), ServiceError> {
        if self.baselines.is_some() {
            return Ok(());
        }
        match self.shared.store.read(db::load_state).await {
            Ok((baselines, epoch)) => {
                self.baselines = Some(baselines);
                self.epoch = epoch;
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "traffic: reading baselines failed");
                Err(internal(e.to_string()))
            }
        }
    }

    /// The core's counters; when they cannot be read, the cycle's maintenance runs anyway
    /// and the caller hears why nothing was accounted.
    async fn read_or_maintain(&mut self, full_check: bool) -> Result<CoreRead, ServiceError> {
        match self.read_core().await {
            Ok(read) => {
                if self.core_down {
                    tracing::info!("traffic: the core's counters are readable again");
                    self.core_down = false;
                }
                Ok(read)
            }
            Err(why) => {
                if !self.core_down {
                    tracing::warn!(error = %why, "traffic: cannot read the core's counters; accounting waits");
                }
                self.core_down = matches!(why, Unread::Core(_));
                self.maintain(full_check).await;
                Err(match why {
                    Unread::Core(e) if e.is_transient() => ServiceError::new(
                        ErrorKind::CoreUnavailable,
                        format!("cannot read the core's counters: {e}"),
                    ),
                    Unread::Core(e) => {
                        internal(format!("the core refused the counters query: {e}"))
                    }
                    Unread::Unsure(why) => ServiceError::new(
                        ErrorKind::CoreUnavailable,
                        format!("{why}; the counters are accounted next cycle"),
                    ),
                })
            }
        }
    }

    /// The epoch counters read now belong to: the stored one while the core's start time
    /// (on this boot's monotonic clock) stays put, else the next.
    fn epoch_of(&self, start_ms: i64) -> (Epoch, bool) {
        let boot = clock::boot_id();
        match &self.epoch {
            Some(e) if e.boot == boot && (e.start_ms - start_ms).abs() <= SAME_START_MS => {
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
                let epoch = Epoch {
                    number,
                    boot: boot.to_owned(),
                    start_ms,
                };
                (epoch, true)
            }
        }
    }

    /// The cycle's one transaction; once committed, memory takes the new baselines. On
    /// failure nothing was counted and the baselines are reloaded next cycle.
    async fn commit(
        &mut self,
        rows: &[RowUpdate],
        epoch: &Epoch,
        new_epoch: bool,
        full_check: bool,
    ) -> Result<CycleDone, ServiceError> {
        let write = CycleWrite {
            accounting: Some(Accounting {
                epoch: epoch.clone(),
                new_epoch,
                rows: rows.to_vec(),
            }),
            full_check,
            retention: self.shared.config.retention(),
        };
        let done = match self
            .shared
            .store
            .write(move |sp| db::write_cycle(sp, &write))
            .await
        {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "traffic: the cycle's transaction failed; nothing was counted");
                self.baselines = None;
                self.epoch = None;
                return Err(internal(e.to_string()));
            }
        };
        if let Some(baselines) = self.baselines.as_mut() {
            for row in rows {
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
        Ok(done)
    }

    /// Rates and the report for the service's reads; `event.traffic` when some key moved.
    fn share(
        &self,
        report: &CycleReport,
        ticks: Vec<TrafficTick>,
        done: &CycleDone,
        span_ms: Option<i64>,
    ) {
        self.shared.with_live(|live| {
            live.rates = ticks
                .iter()
                .map(|t| (t.id, (t.uplink_rate, t.downlink_rate)))
                .collect();
            live.last_cycle = Some(report.clone());
        });
        if !ticks.is_empty() {
            let _ = self.shared.events.send(Event::Traffic(TrafficEvent {
                at: done.stamp,
                interval_ms: span_ms.map_or(0, |ms| ms as u64),
                keys: ticks,
            }));
        }
    }

    /// Reads the counters between two uptime probes.
    async fn read_core(&self) -> Result<CoreRead, Unread> {
        let first = self.core_start().await?;
        let counters = self
            .shared
            .link
            .query_stats_raw(PATTERN)
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
                        actor: Some(Actor::Daemon {
                            task: DaemonTask::Enforce,
                        }),
                    }));
                }
            }
            Err(e) => tracing::error!(error = %e, "traffic: reading changed keys failed"),
        }
        self.shared.applier.nudge();
    }
}

/// Hands the heap a cycle (or the keys' changes since the last one) freed back to the
/// system: the poller is veild's one steady heartbeat, so resident memory follows the live
/// heap within an interval of any burst.
fn trim_after_cycle() {
    let started = Instant::now();
    let trimmed = crate::memory::trim(crate::memory::WORTH_TRIMMING);
    if trimmed.released {
        tracing::debug!(
            free_bytes = trimmed.free_before,
            took_us = started.elapsed().as_micros() as u64,
            "traffic cycle: freed heap handed back to the system"
        );
    }
}

fn internal(message: String) -> ServiceError {
    ServiceError::internal(message)
}

fn enforced_ids(done: &CycleDone, state: KeyState) -> Vec<i64> {
    done.enforced
        .iter()
        .filter(|e| e.state == state)
        .map(|e| e.id)
        .collect()
}
