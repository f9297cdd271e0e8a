//! Data limits, expiry and resets.
//!
//! The daemon disables a key that used up its limit (`limited`) or whose expiry passed
//! (`expired`) by changing its desired state; the applier then removes it from the core,
//! like any other disable. It enables again only keys it disabled itself, once the reason is
//! gone (the limit was raised or cleared, the totals were reset, the expiry was extended or
//! cleared). A key an operator disabled (`manual`) is never touched.

use rusqlite::{Connection, params};
use time::{Date, Month, OffsetDateTime, Time};
use veil_shared::api::{Actor, DaemonTask};
use veil_shared::model::{DisableReason, KeyState};
use veil_shared::traffic::ResetSchedule;

use crate::store::{StoreError, audit, webhooks};

/// Which keys an enforcement pass considers for the data limit (expiry is always checked
/// for every key, through its index).
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// Every active key with a limit.
    All,
    /// These keys (those that moved in a cycle), as a JSON array of ids.
    Moved(&'a str),
    /// One key (a mutation of its settings or totals).
    One(i64),
}

/// A key whose state the daemon changed by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enforced {
    pub id: i64,
    pub state: KeyState,
    pub reason: Option<DisableReason>,
}

fn reason_of(text: Option<String>) -> Option<DisableReason> {
    text.as_deref().and_then(DisableReason::parse)
}

/// Brings the states in line with limits and expiry at time `now`: keys the daemon disabled
/// whose reason is gone are enabled (or keep a changed reason), then active keys over their
/// limit or past their expiry are disabled. Each side is found by one set-based query over
/// its index (only the keys it finds are then updated, one statement each), so a pass
/// where nothing changes costs a few index probes whatever the number of keys.
pub fn enforce(conn: &Connection, now: i64, scope: Scope<'_>) -> Result<Vec<Enforced>, StoreError> {
    let mut out = reconcile(conn, now, scope)?;
    out.extend(disable(conn, now, scope)?);
    let mut update = conn.prepare_cached(
        "UPDATE keys SET state = ?2, disable_reason = ?3, updated_at = ?4 WHERE id = ?1",
    )?;
    for change in &out {
        update.execute(params![
            change.id,
            change.state.as_str(),
            change.reason.map(DisableReason::as_str),
            now
        ])?;
    }
    announce(conn, now, scope, &out)?;
    Ok(out)
}

/// The webhooks' events of a pass, in its transaction: keys disabled or enabled, usage
/// crossing a receiver's share of the limit, expiry within a receiver's warning time.
fn announce(
    conn: &Connection,
    now: i64,
    scope: Scope<'_>,
    changed: &[Enforced],
) -> Result<(), StoreError> {
    let ids: Vec<i64> = changed.iter().map(|c| c.id).collect();
    webhooks::enforced(conn, &ids)?;
    let one;
    let keys = match scope {
        Scope::All => webhooks::Keys::All,
        Scope::Moved(json) => webhooks::Keys::Ids(json),
        Scope::One(id) => {
            one = format!("[{id}]");
            webhooks::Keys::Ids(&one)
        }
    };
    webhooks::usage(conn, keys)?;
    // Keys come near their expiry without moving: every pass but a one-key one looks at all.
    let near = match scope {
        Scope::One(_) => keys,
        Scope::All | Scope::Moved(_) => webhooks::Keys::All,
    };
    webhooks::expiring(conn, now, near)
}

/// Keys disabled as `limited`/`expired` whose reason changed: enable them (reason gone) or
/// give them the reason that holds now.
fn reconcile(conn: &Connection, now: i64, scope: Scope<'_>) -> Result<Vec<Enforced>, StoreError> {
    let only = match scope {
        Scope::One(id) => Some(id),
        Scope::All | Scope::Moved(_) => None,
    };
    let mut stmt = conn.prepare_cached(
        "SELECT id, reason FROM (
             SELECT k.id AS id, k.disable_reason AS was,
                    CASE WHEN k.expires_at IS NOT NULL AND k.expires_at <= ?1 THEN 'expired'
                         WHEN k.data_limit IS NOT NULL
                              AND k.data_limit <= coalesce(t.uplink + t.downlink, 0) THEN 'limited'
                    END AS reason
             FROM keys k INDEXED BY keys_auto_disabled LEFT JOIN traffic t ON t.key_id = k.id
             WHERE k.state = 'disabled' AND k.disable_reason IN ('limited', 'expired')
               AND (?2 IS NULL OR k.id = ?2)
         ) WHERE was IS NOT reason",
    )?;
    let rows = stmt.query_map(params![now, only], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, reason) = row?;
        let reason = reason_of(reason);
        out.push(Enforced {
            id,
            state: if reason.is_some() {
                KeyState::Disabled
            } else {
                KeyState::Active
            },
            reason,
        });
    }
    Ok(out)
}

/// Active keys past their expiry, or (within `scope`) at or over their limit.
fn disable(conn: &Connection, now: i64, scope: Scope<'_>) -> Result<Vec<Enforced>, StoreError> {
    // Three statement texts rather than one with `?x IS NULL OR …`, so each uses its index:
    // the expiry index always, the limit index (or the moved ids, or the key) for limits.
    let (limited_from, arg): (&str, rusqlite::types::Value) = match scope {
        Scope::All => (
            "keys k INDEXED BY keys_active_limit JOIN traffic t ON t.key_id = k.id
             WHERE k.state = 'active' AND k.data_limit IS NOT NULL",
            rusqlite::types::Value::Null,
        ),
        Scope::Moved(json) => (
            // CROSS JOIN keeps the moved ids the outer loop (one key lookup each).
            "json_each(?2) j CROSS JOIN keys k CROSS JOIN traffic t
             WHERE k.id = j.value AND t.key_id = k.id
               AND k.state = 'active' AND k.data_limit IS NOT NULL",
            rusqlite::types::Value::Text(json.to_owned()),
        ),
        Scope::One(id) => (
            "keys k JOIN traffic t ON t.key_id = k.id
             WHERE k.id = ?2 AND k.state = 'active' AND k.data_limit IS NOT NULL",
            rusqlite::types::Value::Integer(id),
        ),
    };
    let sql = format!(
        "SELECT id, 'expired' FROM keys INDEXED BY keys_active_expiry
         WHERE state = 'active' AND expires_at IS NOT NULL AND expires_at <= ?1 {only_expired}
         UNION ALL
         SELECT k.id, 'limited' FROM {limited_from}
           AND k.data_limit <= t.uplink + t.downlink
           AND NOT (k.expires_at IS NOT NULL AND k.expires_at <= ?1)",
        only_expired = match scope {
            Scope::One(_) => "AND id = ?2",
            Scope::All | Scope::Moved(_) => "",
        },
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mapper = |r: &rusqlite::Row<'_>| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?));
    let rows: Vec<(i64, Option<String>)> = match scope {
        Scope::All => stmt
            .query_map(params![now], mapper)?
            .collect::<Result<_, _>>()?,
        Scope::Moved(_) | Scope::One(_) => stmt
            .query_map(params![now, arg], mapper)?
            .collect::<Result<_, _>>()?,
    };
    Ok(rows
        .into_iter()
        .map(|(id, reason)| Enforced {
            id,
            state: KeyState::Disabled,
            reason: reason_of(reason),
        })
        .collect())
}

/// Audit rows for the daemon's own changes.
pub fn audit_enforced(conn: &Connection, changes: &[Enforced]) -> Result<(), StoreError> {
    let actor = Actor::Daemon {
        task: DaemonTask::Enforce,
    };
    for change in changes {
        let detail = match (change.state, change.reason) {
            (KeyState::Active, _) => "enabled: no longer over its limit or past its expiry".into(),
            (_, Some(reason)) => format!("disabled ({reason})"),
            (state, None) => format!("{state}"),
        };
        audit::insert(
            conn,
            &audit::Record {
                actor: &actor,
                method: "traffic.enforce",
                key_id: Some(change.id),
                key_ref: None,
                outcome: "ok",
                detail: Some(&detail),
            },
        )?;
    }
    Ok(())
}

/// A traffic row for the key, if it has none yet.
pub fn ensure_row(conn: &Connection, key_id: i64) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT OR IGNORE INTO traffic (key_id) VALUES (?1)")?
        .execute([key_id])?;
    Ok(())
}

/// Why totals went back to zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetReason {
    Manual,
    Periodic,
}

impl ResetReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ResetReason::Manual => "manual",
            ResetReason::Periodic => "periodic",
        }
    }
}

/// Usage a reset cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cleared {
    pub uplink: u64,
    pub downlink: u64,
}

/// Sets a key's totals to zero at `at`, recording the usage cleared in `traffic_resets`.
/// The raw baselines stay: only traffic after this moment counts. The next periodic reset
/// is scheduled from `at`.
pub fn reset_totals(
    conn: &Connection,
    key_id: i64,
    at: i64,
    reason: ResetReason,
) -> Result<Cleared, StoreError> {
    ensure_row(conn, key_id)?;
    let (uplink, downlink, period, day): (i64, i64, String, i64) = conn
        .prepare_cached(
            "SELECT uplink, downlink, reset_period, reset_day FROM traffic WHERE key_id = ?1",
        )?
        .query_row([key_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    let schedule = ResetSchedule::from_parts(&period, u8::try_from(day).unwrap_or(0))
        .unwrap_or(ResetSchedule::None);
    conn.prepare_cached(
        "INSERT INTO traffic_resets (key_id, at, uplink, downlink, reason)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![key_id, at, uplink, downlink, reason.as_str()])?;
    conn.prepare_cached(
        "UPDATE traffic SET uplink = 0, downlink = 0, last_reset_at = ?2, next_reset_at = ?3
         WHERE key_id = ?1",
    )?
    .execute(params![key_id, at, next_reset(schedule, at)])?;
    Ok(Cleared {
        uplink: uplink.max(0) as u64,
        downlink: downlink.max(0) as u64,
    })
}

/// Resets every live key whose periodic reset is due at `now`, each logged in
/// `traffic_resets` and the audit trail. Returns their ids.
pub fn run_due_resets(conn: &Connection, now: i64) -> Result<Vec<i64>, StoreError> {
    let actor = Actor::Daemon {
        task: DaemonTask::Reset,
    };
    let due: Vec<(i64, String)> = conn
        .prepare_cached(
            "SELECT t.key_id, k.state FROM traffic t JOIN keys k ON k.id = t.key_id
             WHERE t.next_reset_at IS NOT NULL AND t.next_reset_at <= ?1",
        )?
        .query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut done = Vec::with_capacity(due.len());
    for (key_id, state) in due {
        if state == KeyState::Deleted.as_str() {
            conn.prepare_cached("UPDATE traffic SET next_reset_at = NULL WHERE key_id = ?1")?
                .execute([key_id])?;
            continue;
        }
        let cleared = reset_totals(conn, key_id, now, ResetReason::Periodic)?;
        let detail = format!(
            "periodic reset: cleared uplink {} B, downlink {} B",
            cleared.uplink, cleared.downlink
        );
        audit::insert(
            conn,
            &audit::Record {
                actor: &actor,
                method: "traffic.reset",
                key_id: Some(key_id),
                key_ref: None,
                outcome: "ok",
                detail: Some(&detail),
            },
        )?;
        done.push(key_id);
    }
    Ok(done)
}

fn midnight(date: Date) -> i64 {
    date.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp()
}

/// The first reset of `schedule` strictly after `after` (Unix seconds), at midnight UTC;
/// `None` for no schedule (or a date beyond the calendar).
pub fn next_reset(schedule: ResetSchedule, after: i64) -> Option<i64> {
    let now = OffsetDateTime::from_unix_timestamp(after).ok()?;
    let today = now.date();
    match schedule {
        ResetSchedule::None => None,
        ResetSchedule::Daily => Some(midnight(today.next_day()?)),
        ResetSchedule::Weekly(day) => {
            let mut date = today.next_day()?;
            for _ in 0..7 {
                if date.weekday().number_from_monday() == day {
                    return Some(midnight(date));
                }
                date = date.next_day()?;
            }
            None
        }
        ResetSchedule::Monthly(day) => {
            let (mut year, mut month) = (today.year(), today.month());
            for _ in 0..2 {
                let last = month.length(year);
                let date = Date::from_calendar_date(year, month, day.min(last)).ok()?;
                let at = midnight(date);
                if at > after {
                    return Some(at);
                }
                if month == Month::December {
                    year += 1;
                }
                month = month.next();
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn at(dt: time::PrimitiveDateTime) -> i64 {
        dt.assume_utc().unix_timestamp()
    }

    #[test]
    fn resets_fall_on_the_next_utc_boundary() {
        // 2026-11-26 is a Thursday.
        let now = at(datetime!(2026-11-26 16:03));
        assert_eq!(next_reset(ResetSchedule::None, now), None);
        assert_eq!(
            next_reset(ResetSchedule::Daily, now),
            Some(at(datetime!(2026-11-27 0:00)))
        );
        assert_eq!(
            next_reset(ResetSchedule::Weekly(1), now),
            Some(at(datetime!(2026-11-30 0:00)))
        );
        // Its own weekday: next week, never today (today's midnight has passed).
        assert_eq!(
            next_reset(ResetSchedule::Weekly(4), now),
            Some(at(datetime!(2026-12-03 0:00)))
        );
        assert_eq!(
            next_reset(ResetSchedule::Monthly(1), now),
            Some(at(datetime!(2026-12-01 0:00)))
        );
        assert_eq!(
            next_reset(ResetSchedule::Monthly(28), now),
            Some(at(datetime!(2026-11-28 0:00)))
        );
        // Day 31 in a 30-day month is its last day; in February, the 28th.
        assert_eq!(
            next_reset(ResetSchedule::Monthly(31), now),
            Some(at(datetime!(2026-11-30 0:00)))
        );
        let feb = at(datetime!(2027-02-01 0:00));
        assert_eq!(
            next_reset(ResetSchedule::Monthly(31), feb),
            Some(at(datetime!(2027-02-28 0:00)))
        );
        // Exactly at a boundary: the next one.
        let midnight = at(datetime!(2026-12-01 0:00));
        assert_eq!(
            next_reset(ResetSchedule::Monthly(1), midnight),
            Some(at(datetime!(2027-01-01 0:00)))
        );
        assert_eq!(
            next_reset(ResetSchedule::Daily, midnight),
            Some(at(datetime!(2026-12-02 0:00)))
        );
        // December rolls into January.
        let dec = at(datetime!(2026-12-20 10:00));
        assert_eq!(
            next_reset(ResetSchedule::Monthly(15), dec),
            Some(at(datetime!(2027-01-15 0:00)))
        );
    }
}

#[cfg(test)]
mod enforce_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("veil.db");
        crate::store::Store::open(&path).unwrap().close();
        let conn = Connection::open(&path).unwrap();
        (dir, conn)
    }

    fn key(
        conn: &Connection,
        name: &str,
        limit: Option<i64>,
        expires: Option<i64>,
        used: i64,
    ) -> i64 {
        let id = crate::store::keys::create(conn, name, None).unwrap().id;
        conn.execute(
            "UPDATE keys SET data_limit = ?1, expires_at = ?2 WHERE id = ?3",
            params![limit, expires, id],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO traffic (key_id, uplink, downlink) VALUES (?1, 0, ?2)",
            params![id, used],
        )
        .unwrap();
        id
    }

    fn state(conn: &Connection, id: i64) -> (String, Option<String>) {
        conn.query_row(
            "SELECT state, disable_reason FROM keys WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }

    fn s(state: &str, reason: Option<&str>) -> (String, Option<String>) {
        (state.to_owned(), reason.map(str::to_owned))
    }

    #[test]
    fn limits_and_expiry_disable_and_their_lifting_enables_only_auto_disabled_keys() {
        let (_dir, conn) = db();
        let now = 1_800_000_000;
        let under = key(&conn, "under", Some(100), None, 99);
        let at = key(&conn, "at", Some(100), None, 100);
        let expired = key(&conn, "expired", None, Some(now), 0);
        let both = key(&conn, "both", Some(10), Some(now - 1), 50);
        let manual = key(&conn, "manual", Some(10), None, 50);
        conn.execute(
            "UPDATE keys SET state = 'disabled', disable_reason = 'manual' WHERE id = ?1",
            [manual],
        )
        .unwrap();
        let changed = enforce(&conn, now, Scope::All).unwrap();
        assert_eq!(changed.len(), 3, "{changed:?}");
        assert_eq!(state(&conn, under), s("active", None));
        assert_eq!(state(&conn, at), s("disabled", Some("limited")));
        assert_eq!(state(&conn, expired), s("disabled", Some("expired")));
        // Expiry wins when both hold.
        assert_eq!(state(&conn, both), s("disabled", Some("expired")));
        assert_eq!(state(&conn, manual), s("disabled", Some("manual")));
        // Nothing changes on a second pass.
        assert!(enforce(&conn, now, Scope::All).unwrap().is_empty());
        // Extending the expiry of `both` leaves it disabled, now for its limit.
        conn.execute("UPDATE keys SET expires_at = NULL WHERE id = ?1", [both])
            .unwrap();
        let changed = enforce(&conn, now, Scope::One(both)).unwrap();
        assert_eq!(changed.len(), 1);
        assert_eq!(state(&conn, both), s("disabled", Some("limited")));
        // A reset enables it; the manual key stays disabled whatever happens.
        reset_totals(&conn, both, now, ResetReason::Manual).unwrap();
        reset_totals(&conn, manual, now, ResetReason::Manual).unwrap();
        enforce(&conn, now, Scope::All).unwrap();
        assert_eq!(state(&conn, both), s("active", None));
        assert_eq!(state(&conn, manual), s("disabled", Some("manual")));
        // Moved scope: only the listed keys' limits are checked (expiry always is).
        conn.execute(
            "UPDATE traffic SET downlink = 500 WHERE key_id = ?1",
            [under],
        )
        .unwrap();
        assert!(enforce(&conn, now, Scope::Moved("[]")).unwrap().is_empty());
        let moved = format!("[{under}]");
        assert_eq!(enforce(&conn, now, Scope::Moved(&moved)).unwrap().len(), 1);
        assert_eq!(state(&conn, under), s("disabled", Some("limited")));
        let resets: i64 = conn
            .query_row("SELECT count(*) FROM traffic_resets", [], |r| r.get(0))
            .unwrap();
        assert_eq!(resets, 2);
    }
}
