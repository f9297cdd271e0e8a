//! The traffic tables: the cycle's one transaction, and the reads behind `traffic.*`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rusqlite::{Connection, Row, params};
use veil_shared::model::{DisableReason, KeyRef, KeyState};
use veil_shared::traffic::{KeyTraffic, ResetSchedule, TrafficReset, TrafficSort};
use veil_shared::validate;

use super::history::{self, Retention};
use super::limits::{self, Enforced, Scope};
use crate::store::{StoreError, keys};

const EPOCH: &str = "traffic.epoch";
const STAMP: &str = "traffic.stamp";

/// A hasher for key ids (small, dense integers of our own, not attacker-chosen): one
/// multiplication instead of SipHash, for the per-counter lookups of every cycle.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_i64(&mut self, n: i64) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map keyed by key id.
pub type IdMap<V> = HashMap<i64, V, BuildHasherDefault<IdHasher>>;

/// The raw counters a key's totals already include, and the core epoch they belong to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Baseline {
    pub uplink: i64,
    pub downlink: i64,
    pub epoch: u64,
}

/// Which run of the core the counters come from: the core's start on this boot's
/// monotonic clock identifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Epoch {
    pub number: u64,
    pub boot: String,
    pub start_ms: i64,
}

impl Epoch {
    fn encode(&self) -> String {
        format!("{} {} {}", self.number, self.start_ms, self.boot)
    }

    fn decode(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, ' ');
        Some(Epoch {
            number: parts.next()?.parse().ok()?,
            start_ms: parts.next()?.parse().ok()?,
            boot: parts.next().unwrap_or_default().to_owned(),
        })
    }
}

/// Every key's baseline, and the current epoch: what the poller keeps in memory.
pub fn load_state(conn: &Connection) -> Result<(IdMap<Baseline>, Option<Epoch>), StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT key_id, raw_uplink, raw_downlink, epoch FROM traffic")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            Baseline {
                uplink: r.get(1)?,
                downlink: r.get(2)?,
                epoch: r.get::<_, i64>(3)?.max(0) as u64,
            },
        ))
    })?;
    let baselines = rows.collect::<Result<IdMap<_>, _>>()?;
    let epoch = keys::meta_get(conn, EPOCH)?.and_then(|t| Epoch::decode(&t));
    Ok((baselines, epoch))
}

/// One key's accounting in a cycle: the bytes to add and the new raw values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowUpdate {
    pub key_id: i64,
    pub d_uplink: u64,
    pub d_downlink: u64,
    pub raw_uplink: i64,
    pub raw_downlink: i64,
}

/// What a cycle writes.
pub struct CycleWrite {
    /// Set when the cycle read the core; `None` for a cycle that could not (maintenance:
    /// resets, expiry, roll-ups only).
    pub accounting: Option<Accounting>,
    /// Check every key's limit (start, and now and then), not only the moved ones.
    pub full_check: bool,
    pub retention: Retention,
}

pub struct Accounting {
    pub epoch: Epoch,
    /// The epoch changed with this cycle: store it.
    pub new_epoch: bool,
    pub rows: Vec<RowUpdate>,
}

/// What the transaction did.
#[derive(Debug, Default)]
pub struct CycleDone {
    pub stamp: i64,
    /// Totals after the cycle of the keys that moved: (id, uplink, downlink).
    pub totals: Vec<(i64, u64, u64)>,
    pub reset: Vec<i64>,
    pub enforced: Vec<Enforced>,
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The cycle's transaction: deltas into totals with the new baselines (and the epoch), the
/// minute buckets, roll-ups, due periodic resets and limit/expiry enforcement.
pub fn write_cycle(conn: &Connection, w: &CycleWrite) -> Result<CycleDone, StoreError> {
    // Stamps never go backwards, even if the wall clock does: a rolled-up hour stays closed.
    let last: i64 = keys::meta_get(conn, STAMP)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(i64::MIN);
    let stamp = crate::store::now().max(last);
    keys::meta_set(conn, STAMP, &stamp.to_string())?;
    let mut done = CycleDone {
        stamp,
        ..Default::default()
    };
    let mut moved_ids: Vec<i64> = Vec::new();
    if let Some(acc) = &w.accounting {
        if acc.new_epoch {
            keys::meta_set(conn, EPOCH, &acc.epoch.encode())?;
        }
        let epoch = i64::try_from(acc.epoch.number).unwrap_or(i64::MAX);
        let minute = stamp.div_euclid(60);
        // An UPDATE first: nearly every moved key has its row already, and a plain update
        // is several times cheaper than an upsert with RETURNING. (An UPDATE ... RETURNING
        // instead of the SELECT of the totals below doubled the cycle's CPU at 10,000 and
        // 100,000 moved keys: SQLite builds a table for the returned row on every run.)
        let mut update = conn.prepare_cached(
            "UPDATE traffic SET uplink = uplink + ?2, downlink = downlink + ?3,
                 lifetime_uplink = lifetime_uplink + ?2, lifetime_downlink = lifetime_downlink + ?3,
                 raw_uplink = ?4, raw_downlink = ?5, epoch = ?6,
                 last_active = CASE WHEN ?2 + ?3 > 0 THEN ?7 ELSE last_active END
             WHERE key_id = ?1",
        )?;
        // A key's first counters: its row, if the key exists (a user in the core that Veil
        // does not own has none).
        let mut insert = conn.prepare_cached(
            "INSERT INTO traffic (key_id, uplink, downlink, lifetime_uplink, lifetime_downlink,
                                  raw_uplink, raw_downlink, epoch, last_active)
             SELECT ?1, ?2, ?3, ?2, ?3, ?4, ?5, ?6, CASE WHEN ?2 + ?3 > 0 THEN ?7 END
             WHERE EXISTS (SELECT 1 FROM keys WHERE id = ?1)",
        )?;
        let mut totals =
            conn.prepare_cached("SELECT uplink, downlink FROM traffic WHERE key_id = ?1")?;
        for row in &acc.rows {
            let args = params![
                row.key_id,
                clamp(row.d_uplink),
                clamp(row.d_downlink),
                row.raw_uplink,
                row.raw_downlink,
                epoch,
                stamp
            ];
            if update.execute(args)? == 0 && insert.execute(args)? == 0 {
                continue;
            }
            if row.d_uplink > 0 || row.d_downlink > 0 {
                history::add(conn, row.key_id, minute, row.d_uplink, row.d_downlink)?;
                let (up, down) = totals.query_row([row.key_id], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                })?;
                done.totals
                    .push((row.key_id, up.max(0) as u64, down.max(0) as u64));
                moved_ids.push(row.key_id);
            }
        }
    }
    history::maintain(conn, stamp, w.retention)?;
    done.reset = limits::run_due_resets(conn, stamp)?;
    let moved_json;
    let scope = if w.full_check {
        Scope::All
    } else {
        moved_json = serde_json::to_string(&moved_ids)
            .map_err(|e| StoreError::Sqlite(format!("encoding moved ids: {e}")))?;
        Scope::Moved(&moved_json)
    };
    done.enforced = limits::enforce(conn, stamp, scope)?;
    limits::audit_enforced(conn, &done.enforced)?;
    Ok(done)
}

/// The columns of a [`KeyTraffic`] row (rates are filled in from memory).
const COLUMNS: &str = "k.id, k.name, k.state, k.disable_reason, k.data_limit, k.expires_at,
    coalesce(t.uplink, 0), coalesce(t.downlink, 0),
    coalesce(t.lifetime_uplink, 0), coalesce(t.lifetime_downlink, 0),
    t.last_active, coalesce(t.reset_period, 'none'), coalesce(t.reset_day, 0),
    t.next_reset_at, t.last_reset_at";

fn traffic_from_row(r: &Row<'_>) -> rusqlite::Result<KeyTraffic> {
    let u = |v: i64| v.max(0) as u64;
    let state: String = r.get(2)?;
    let period: String = r.get(11)?;
    let day: i64 = r.get(12)?;
    Ok(KeyTraffic {
        id: r.get(0)?,
        name: r.get(1)?,
        state: KeyState::parse(&state).unwrap_or(KeyState::Disabled),
        disable_reason: r
            .get::<_, Option<String>>(3)?
            .as_deref()
            .and_then(DisableReason::parse),
        data_limit: r.get::<_, Option<i64>>(4)?.map(u),
        expires_at: r.get(5)?,
        uplink: u(r.get(6)?),
        downlink: u(r.get(7)?),
        lifetime_uplink: u(r.get(8)?),
        lifetime_downlink: u(r.get(9)?),
        uplink_rate: 0,
        downlink_rate: 0,
        last_active: r.get(10)?,
        reset: ResetSchedule::from_parts(&period, u8::try_from(day).unwrap_or(0))
            .unwrap_or_default(),
        next_reset_at: r.get(13)?,
        last_reset_at: r.get(14)?,
    })
}

/// One key's traffic (deleted keys too, by id or UUID).
pub fn get(conn: &Connection, key: &KeyRef) -> Result<KeyTraffic, StoreError> {
    let found = keys::get(conn, key)?;
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM keys k LEFT JOIN traffic t ON t.key_id = k.id WHERE k.id = ?1"
        ))?
        .query_row([found.id], traffic_from_row)?)
}

pub struct ListQuery<'a> {
    pub state: Option<KeyState>,
    pub search: Option<&'a str>,
    pub sort: TrafficSort,
    pub offset: u64,
    pub limit: Option<u64>,
}

/// Keys' traffic in the asked order, with the total that matched. Without a state, deleted
/// keys are left out. `TrafficSort::Rate` is ordered by the caller (rates live in memory),
/// so it returns every match unsliced.
pub fn list(conn: &Connection, q: &ListQuery<'_>) -> Result<(Vec<KeyTraffic>, u64), StoreError> {
    let state = q.state.map(KeyState::as_str);
    let search = q
        .search
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(validate::name_fold);
    let filter = "WHERE (?1 IS NULL AND k.state <> 'deleted' OR k.state = ?1)
                  AND (?2 IS NULL OR instr(k.name_fold, ?2) > 0 OR instr(lower(k.note), ?2) > 0
                       OR instr(k.uuid, ?2) > 0)";
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM keys k {filter}"))?
        .query_row(params![state, search], |r| r.get(0))?;
    let order = match q.sort {
        TrafficSort::Id | TrafficSort::Rate => "k.id",
        TrafficSort::Usage => "coalesce(t.uplink + t.downlink, 0) DESC, k.id",
        TrafficSort::Active => "t.last_active DESC NULLS LAST, k.id",
    };
    let (limit, offset) = if q.sort == TrafficSort::Rate {
        (-1, 0)
    } else {
        (
            q.limit.map_or(-1, |l| l.min(i64::MAX as u64) as i64),
            q.offset.min(i64::MAX as u64) as i64,
        )
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM keys k LEFT JOIN traffic t ON t.key_id = k.id {filter}
         ORDER BY {order} LIMIT ?3 OFFSET ?4"
    ))?;
    let rows = stmt
        .query_map(params![state, search, limit, offset], traffic_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, total.max(0) as u64))
}

/// A key's resets, newest first.
pub fn resets(conn: &Connection, key_id: i64, limit: u32) -> Result<Vec<TrafficReset>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, uplink, downlink, reason FROM traffic_resets WHERE key_id = ?1
         ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![key_id, limit], |r| {
        Ok(TrafficReset {
            at: r.get(0)?,
            uplink: r.get::<_, i64>(1)?.max(0) as u64,
            downlink: r.get::<_, i64>(2)?.max(0) as u64,
            reason: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Instant;

    use super::*;

    /// `cargo test --release -p veild --lib -- --ignored --nocapture cycle_transaction_cost`
    #[test]
    #[ignore = "a timing probe; run by hand in release"]
    #[allow(
        clippy::too_many_lines,
        reason = "a probe that prints each step's cost in order"
    )]
    fn cycle_transaction_cost() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("veil.db");
        crate::store::Store::open(&path).unwrap().close();
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "wal").unwrap();
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        let tx = conn.transaction().unwrap();
        let n = 10_000;
        crate::store::keys::create_bulk(&tx, "k", n).unwrap();
        tx.commit().unwrap();
        let retention = crate::traffic::TrafficConfig::default().retention();
        for round in 1..=4i64 {
            let rows: Vec<RowUpdate> = (1..=i64::from(n))
                .map(|id| RowUpdate {
                    key_id: id,
                    d_uplink: 10,
                    d_downlink: 100,
                    raw_uplink: 10 * round,
                    raw_downlink: 100 * round,
                })
                .collect();
            let w = CycleWrite {
                accounting: Some(Accounting {
                    epoch: Epoch {
                        number: 1,
                        boot: String::new(),
                        start_ms: 0,
                    },
                    new_epoch: false,
                    rows: rows.clone(),
                }),
                full_check: false,
                retention,
            };
            let start = Instant::now();
            let tx = conn.transaction().unwrap();
            write_cycle(&tx, &w).unwrap();
            let job = start.elapsed();
            tx.commit().unwrap();
            eprintln!("all {n}: job {job:?}, with commit {:?}", start.elapsed());
            let tx = conn.transaction().unwrap();
            let t = Instant::now();
            let mut up = tx
                .prepare_cached("UPDATE traffic SET uplink = uplink + ?2 WHERE key_id = ?1")
                .unwrap();
            for r in &rows {
                up.execute(params![r.key_id, 1]).unwrap();
            }
            drop(up);
            let plain_update = t.elapsed();
            let t = Instant::now();
            for r in &rows {
                history::add(&tx, r.key_id, 1_000, 1, 1).unwrap();
            }
            let minutes = t.elapsed();
            let t = Instant::now();
            history::maintain(&tx, crate::store::now(), retention).unwrap();
            let maintain = t.elapsed();
            let t = Instant::now();
            limits::run_due_resets(&tx, crate::store::now()).unwrap();
            let resets = t.elapsed();
            let t = Instant::now();
            limits::enforce(&tx, crate::store::now(), Scope::Moved("[]")).unwrap();
            let enforce_none = t.elapsed();
            let json =
                serde_json::to_string(&rows.iter().map(|r| r.key_id).collect::<Vec<_>>()).unwrap();
            let t = Instant::now();
            limits::enforce(&tx, crate::store::now(), Scope::Moved(&json)).unwrap();
            let enforce_all = t.elapsed();
            let t = Instant::now();
            let mut full = tx
                .prepare_cached(
                    "UPDATE traffic SET uplink = uplink + ?2, downlink = downlink + ?3,
                        lifetime_uplink = lifetime_uplink + ?2, lifetime_downlink = lifetime_downlink + ?3,
                        raw_uplink = ?4, raw_downlink = ?5, epoch = ?6,
                        last_active = CASE WHEN ?2 + ?3 > 0 THEN ?7 ELSE last_active END
                     WHERE key_id = ?1 RETURNING uplink, downlink",
                )
                .unwrap();
            for r in &rows {
                full.query_row(params![r.key_id, 1, 2, 3, 4, 1, 5], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                })
                .unwrap();
            }
            drop(full);
            let full_returning = t.elapsed();
            let t = Instant::now();
            let mut full = tx
                .prepare_cached(
                    "UPDATE traffic SET uplink = uplink + ?2, downlink = downlink + ?3,
                        lifetime_uplink = lifetime_uplink + ?2, lifetime_downlink = lifetime_downlink + ?3,
                        raw_uplink = ?4, raw_downlink = ?5, epoch = ?6,
                        last_active = CASE WHEN ?2 + ?3 > 0 THEN ?7 ELSE last_active END
                     WHERE key_id = ?1",
                )
                .unwrap();
            let mut get = tx
                .prepare_cached("SELECT uplink, downlink FROM traffic WHERE key_id = ?1")
                .unwrap();
            for r in &rows {
                full.execute(params![r.key_id, 1, 2, 3, 4, 1, 5]).unwrap();
                get.query_row([r.key_id], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                })
                .unwrap();
            }
            drop(full);
            drop(get);
            let full_then_select = t.elapsed();
            let t = Instant::now();
            let mut minute_update = tx
                .prepare_cached(
                    "UPDATE traffic_minutes SET uplink = uplink + ?3, downlink = downlink + ?4
                     WHERE key_id = ?1 AND minute = ?2",
                )
                .unwrap();
            for r in &rows {
                minute_update
                    .execute(params![r.key_id, 1_000, 1, 1])
                    .unwrap();
            }
            drop(minute_update);
            let minute_updates = t.elapsed();
            eprintln!(
                "  full update then select {full_then_select:?}; minute updates {minute_updates:?}"
            );
            for sql in [
                "EXPLAIN QUERY PLAN SELECT id FROM keys INDEXED BY keys_active_expiry WHERE state = 'active' AND expires_at IS NOT NULL AND expires_at <= 5",
                "EXPLAIN QUERY PLAN SELECT k.id FROM keys k INDEXED BY keys_auto_disabled LEFT JOIN traffic t ON t.key_id = k.id WHERE k.state = 'disabled' AND k.disable_reason IN ('limited', 'expired') AND (?1 IS NULL OR k.id = ?1)",
                "EXPLAIN QUERY PLAN SELECT k.id FROM json_each(?1) j CROSS JOIN keys k CROSS JOIN traffic t WHERE k.id = j.value AND t.key_id = k.id AND k.state = 'active' AND k.data_limit IS NOT NULL",
            ] {
                let mut stmt = tx.prepare(sql).unwrap();
                let n = stmt.parameter_count();
                let args: Vec<rusqlite::types::Value> = vec![rusqlite::types::Value::Null; n];
                let plan: Vec<String> = stmt
                    .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
                    .unwrap()
                    .map(|r| r.unwrap())
                    .collect();
                if round == 1 {
                    eprintln!("  plan: {plan:?}");
                }
            }
            tx.commit().unwrap();
            eprintln!("  full update with returning {full_returning:?}");
            eprintln!(
                "  plain update x{n} {plain_update:?}; minute upserts {minutes:?}; maintain {maintain:?}; \
                 resets {resets:?}; enforce(none) {enforce_none:?}; enforce(all moved) {enforce_all:?}"
            );
        }
    }
}
