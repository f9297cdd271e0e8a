//! History: each cycle adds its deltas to the key's bucket of the current minute (UTC).
//! Complete hours are rolled up from their minutes, complete days from their hours, in the
//! cycle's transaction, behind watermarks kept in `meta`; old buckets are pruned a bounded
//! batch per cycle. Cycle stamps never go backwards (see [`super::db`]), so a rolled-up
//! period never receives another delta and every roll-up is exact.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};
use veil_shared::traffic::{Resolution, TrafficBucket};

use crate::store::{StoreError, keys};

const ROLLED_HOUR: &str = "traffic.rolled_hour";
const ROLLED_DAY: &str = "traffic.rolled_day";
/// Rows of one table pruned per cycle at most, so a big backlog never makes one cycle slow.
const PRUNE_BATCH: i64 = 20_000;

/// How many buckets of each size are kept (minutes, hours, days).
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub minutes: i64,
    pub hours: i64,
    pub days: i64,
}

/// Adds a cycle's delta to the key's minute bucket.
pub fn add(
    conn: &Connection,
    key_id: i64,
    minute: i64,
    up: u64,
    down: u64,
) -> Result<(), StoreError> {
    let args = params![key_id, minute, clamp(up), clamp(down)];
    // Most cycles add to a bucket an earlier cycle of the same minute made: an UPDATE
    // first is cheaper than an upsert.
    let updated = conn
        .prepare_cached(
            "UPDATE traffic_minutes SET uplink = uplink + ?3, downlink = downlink + ?4
             WHERE key_id = ?1 AND minute = ?2",
        )?
        .execute(args)?;
    if updated == 0 {
        conn.prepare_cached(
            "INSERT INTO traffic_minutes (key_id, minute, uplink, downlink)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(args)?;
    }
    Ok(())
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn meta_i64(conn: &Connection, name: &str) -> Result<Option<i64>, StoreError> {
    Ok(keys::meta_get(conn, name)?.and_then(|v| v.parse().ok()))
}

/// Rolls up complete hours and days and prunes old buckets, as of cycle stamp `now`.
pub fn maintain(conn: &Connection, now: i64, keep: Retention) -> Result<(), StoreError> {
    let hour = now.div_euclid(3_600);
    let day = now.div_euclid(86_400);
    let rolled_hour = match meta_i64(conn, ROLLED_HOUR)? {
        Some(h) => h,
        None => {
            keys::meta_set(conn, ROLLED_HOUR, &(hour - 1).to_string())?;
            hour - 1
        }
    };
    let rolled_hour = if rolled_hour < hour - 1 {
        conn.prepare_cached(
            "INSERT INTO traffic_hours (key_id, hour, uplink, downlink)
             SELECT key_id, minute / 60, sum(uplink), sum(downlink) FROM traffic_minutes
             WHERE minute >= ?1 AND minute < ?2 GROUP BY key_id, minute / 60
             ON CONFLICT (key_id, hour) DO UPDATE
             SET uplink = uplink + excluded.uplink, downlink = downlink + excluded.downlink",
        )?
        .execute(params![(rolled_hour + 1) * 60, hour * 60])?;
        keys::meta_set(conn, ROLLED_HOUR, &(hour - 1).to_string())?;
        hour - 1
    } else {
        rolled_hour
    };
    let rolled_day = match meta_i64(conn, ROLLED_DAY)? {
        Some(d) => d,
        None => {
            keys::meta_set(conn, ROLLED_DAY, &(day - 1).to_string())?;
            day - 1
        }
    };
    let rolled_day = if rolled_day < day - 1 {
        conn.prepare_cached(
            "INSERT INTO traffic_days (key_id, day, uplink, downlink)
             SELECT key_id, hour / 24, sum(uplink), sum(downlink) FROM traffic_hours
             WHERE hour >= ?1 AND hour < ?2 GROUP BY key_id, hour / 24
             ON CONFLICT (key_id, day) DO UPDATE
             SET uplink = uplink + excluded.uplink, downlink = downlink + excluded.downlink",
        )?
        .execute(params![(rolled_day + 1) * 24, day * 24])?;
        keys::meta_set(conn, ROLLED_DAY, &(day - 1).to_string())?;
        day - 1
    } else {
        rolled_day
    };
    // Only what is already rolled up may go.
    let minute_cutoff = (now.div_euclid(60) - keep.minutes).min((rolled_hour + 1) * 60);
    let hour_cutoff = (hour - keep.hours).min((rolled_day + 1) * 24);
    let day_cutoff = day - keep.days;
    for (table, column, cutoff) in [
        ("traffic_minutes", "minute", minute_cutoff),
        ("traffic_hours", "hour", hour_cutoff),
        ("traffic_days", "day", day_cutoff),
    ] {
        conn.prepare_cached(&format!(
            "DELETE FROM {table} WHERE ({column}, key_id) IN
             (SELECT {column}, key_id FROM {table} WHERE {column} < ?1 LIMIT ?2)"
        ))?
        .execute(params![cutoff, PRUNE_BATCH])?;
    }
    Ok(())
}

/// A key's buckets of `resolution` whose start lies in `[since, until]`, oldest first.
/// Periods not rolled up yet are summed from the finer buckets, so the latest hour and day
/// are always there, up to the last cycle.
pub fn query(
    conn: &Connection,
    key_id: i64,
    resolution: Resolution,
    since: i64,
    until: i64,
) -> Result<Vec<TrafficBucket>, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let rolled_hour = meta_i64(&tx, ROLLED_HOUR)?.unwrap_or(i64::MIN / 4);
    let rolled_day = meta_i64(&tx, ROLLED_DAY)?.unwrap_or(i64::MIN / 4);
    let size = resolution.secs();
    let (lo, hi) = (since.div_euclid(size), until.div_euclid(size));
    let mut buckets: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    let mut add_rows = |sql: &str, args: &[i64]| -> Result<(), StoreError> {
        let mut stmt = tx.prepare_cached(sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (bucket, up, down) = row?;
            let entry = buckets.entry(bucket).or_default();
            entry.0 = entry.0.saturating_add(up.max(0) as u64);
            entry.1 = entry.1.saturating_add(down.max(0) as u64);
        }
        Ok(())
    };
    match resolution {
        Resolution::Minute => add_rows(
            "SELECT minute, uplink, downlink FROM traffic_minutes
             WHERE key_id = ?1 AND minute BETWEEN ?2 AND ?3",
            &[key_id, lo, hi],
        )?,
        Resolution::Hour => {
            add_rows(
                "SELECT hour, uplink, downlink FROM traffic_hours
                 WHERE key_id = ?1 AND hour BETWEEN ?2 AND ?3 AND hour <= ?4",
                &[key_id, lo, hi, rolled_hour],
            )?;
            add_rows(
                "SELECT minute / 60, sum(uplink), sum(downlink) FROM traffic_minutes
                 WHERE key_id = ?1 AND minute BETWEEN ?2 AND ?3 AND minute > ?4
                 GROUP BY minute / 60",
                &[key_id, lo * 60, hi * 60 + 59, rolled_hour * 60 + 59],
            )?;
        }
        Resolution::Day => {
            add_rows(
                "SELECT day, uplink, downlink FROM traffic_days
                 WHERE key_id = ?1 AND day BETWEEN ?2 AND ?3 AND day <= ?4",
                &[key_id, lo, hi, rolled_day],
            )?;
            add_rows(
                "SELECT hour / 24, sum(uplink), sum(downlink) FROM traffic_hours
                 WHERE key_id = ?1 AND hour BETWEEN ?2 AND ?3 AND hour > ?4 AND hour <= ?5
                 GROUP BY hour / 24",
                &[
                    key_id,
                    lo * 24,
                    hi * 24 + 23,
                    rolled_day * 24 + 23,
                    rolled_hour,
                ],
            )?;
            add_rows(
                "SELECT minute / 1440, sum(uplink), sum(downlink) FROM traffic_minutes
                 WHERE key_id = ?1 AND minute BETWEEN ?2 AND ?3 AND minute > ?4
                 GROUP BY minute / 1440",
                &[key_id, lo * 1440, hi * 1440 + 1439, rolled_hour * 60 + 59],
            )?;
        }
    }
    tx.finish()?;
    Ok(buckets
        .into_iter()
        .map(|(bucket, (uplink, downlink))| TrafficBucket {
            at: bucket * size,
            uplink,
            downlink,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A migrated database on a temp path and a plain connection to it.
    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("veil.db");
        crate::store::Store::open(&path).unwrap().close();
        let conn = Connection::open(&path).unwrap();
        (dir, conn)
    }

    const KEEP: Retention = Retention {
        minutes: 48 * 60,
        hours: 62 * 24,
        days: 1_830,
    };

    fn sums(buckets: &[TrafficBucket]) -> Vec<(i64, u64, u64)> {
        buckets
            .iter()
            .map(|b| (b.at, b.uplink, b.downlink))
            .collect()
    }

    #[test]
    fn hours_and_days_roll_up_exactly_and_queries_span_the_seam() {
        let (_dir, conn) = db();
        let day0 = 20_000 * 86_400; // a UTC midnight
        let at = |hour: i64, minute: i64| day0 + hour * 3_600 + minute * 60;
        // First cycle at 10:00 sets the watermarks: nothing before it exists.
        maintain(&conn, at(10, 0), KEEP).unwrap();
        add(&conn, 1, at(10, 5) / 60, 1, 100).unwrap();
        add(&conn, 1, at(10, 59) / 60, 2, 200).unwrap();
        add(&conn, 2, at(10, 30) / 60, 5, 5).unwrap();
        maintain(&conn, at(10, 59), KEEP).unwrap();
        add(&conn, 1, at(11, 0) / 60, 4, 400).unwrap();
        // 11:01: hour 10 is complete and rolled up; 11 is still open.
        maintain(&conn, at(11, 1), KEEP).unwrap();
        add(&conn, 1, at(11, 1) / 60, 8, 800).unwrap();
        let hours = query(&conn, 1, Resolution::Hour, at(0, 0), at(23, 59)).unwrap();
        assert_eq!(sums(&hours), [(at(10, 0), 3, 300), (at(11, 0), 12, 1_200)]);
        let rolled: i64 = conn
            .query_row(
                "SELECT downlink FROM traffic_hours WHERE key_id = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(rolled, 300);
        let days = query(&conn, 1, Resolution::Day, at(0, 0), at(23, 59)).unwrap();
        assert_eq!(sums(&days), [(day0, 15, 1_500)]);
        let minutes = query(&conn, 1, Resolution::Minute, at(10, 0), at(10, 59)).unwrap();
        assert_eq!(sums(&minutes), [(at(10, 5), 1, 100), (at(10, 59), 2, 200)]);
        // The next day: yesterday is rolled into a day row; the totals stay the same
        // whichever resolution is asked.
        let next = day0 + 86_400 + 60;
        maintain(&conn, next, KEEP).unwrap();
        add(&conn, 1, next / 60, 16, 1_600).unwrap();
        let days = query(&conn, 1, Resolution::Day, day0, next).unwrap();
        assert_eq!(sums(&days), [(day0, 15, 1_500), (day0 + 86_400, 16, 1_600)]);
        let hours = query(&conn, 1, Resolution::Hour, day0, next).unwrap();
        let total: u64 = hours.iter().map(|b| b.downlink).sum();
        assert_eq!(total, 3_100);
        // Key 2 is apart.
        let other = query(&conn, 2, Resolution::Day, day0, next).unwrap();
        assert_eq!(sums(&other), [(day0, 5, 5)]);
    }

    #[test]
    fn pruning_keeps_what_is_not_rolled_up_and_honours_retention() {
        let (_dir, conn) = db();
        let day0 = 20_000 * 86_400;
        let keep = Retention {
            minutes: 120,
            hours: 48,
            days: 5,
        };
        maintain(&conn, day0, keep).unwrap();
        for m in 0..180 {
            add(&conn, 1, day0 / 60 + m, 1, 1).unwrap();
        }
        maintain(&conn, day0 + 180 * 60, keep).unwrap();
        let minutes: i64 = conn
            .query_row("SELECT count(*) FROM traffic_minutes", [], |r| r.get(0))
            .unwrap();
        // The first hour is older than 120 minutes and rolled up: gone; the rest stays.
        assert_eq!(minutes, 120);
        let hours = query(&conn, 1, Resolution::Hour, day0, day0 + 4 * 3_600).unwrap();
        assert_eq!(
            hours.iter().map(|b| b.downlink).collect::<Vec<_>>(),
            [60, 60, 60]
        );
        // Days later, only the days table remains, within its retention.
        maintain(&conn, day0 + 3 * 86_400, keep).unwrap();
        maintain(&conn, day0 + 3 * 86_400 + 60, keep).unwrap();
        let days = query(&conn, 1, Resolution::Day, day0, day0 + 3 * 86_400).unwrap();
        assert_eq!(sums(&days), [(day0, 180, 180)]);
        maintain(&conn, day0 + 9 * 86_400, keep).unwrap();
        let days = query(&conn, 1, Resolution::Day, day0, day0 + 9 * 86_400).unwrap();
        assert!(days.is_empty(), "{days:?}");
    }
}
