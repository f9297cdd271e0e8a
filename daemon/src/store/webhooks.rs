//! The webhooks' outbox: events are written in the transaction of the change they report
//! (so none is lost when veild dies before delivering), one delivery row per receiver that
//! wants the kind; the delivery task (the `webhook` module) reads what is due and records
//! each attempt. Receivers are mirrored in `webhooks` (names and wishes, no secrets) so
//! the choice of receivers is made here, in SQL, without the config.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value, json};
use veil_shared::api::{Actor, DaemonTask, KeyAction};
use veil_shared::model::{Key, KeyState};

use super::{StoreError, keys};

/// One configured receiver as the outbox knows it.
pub struct Receiver<'a> {
    pub name: &'a str,
    pub events: &'a [String],
    pub usage_shares: &'a [f64],
    /// Seconds.
    pub expiry_warning: Option<i64>,
}

/// Which keys a usage or expiry check looks at.
#[derive(Clone, Copy, Debug)]
pub enum Keys<'a> {
    All,
    /// A JSON array of key ids.
    Ids(&'a str),
}

impl Keys<'_> {
    fn json(self) -> Option<String> {
        match self {
            Keys::All => None,
            Keys::Ids(ids) => Some(ids.to_owned()),
        }
    }
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Sqlite(format!("encoding a webhook event: {e}"))
}

/// Brings `webhooks` in line with the config: new receivers are added, changed ones
/// updated (their counters kept), and removed ones deleted with their pending deliveries.
/// Returns `(name, pending deliveries dropped)` of each removed receiver.
pub fn sync(
    conn: &Connection,
    receivers: &[Receiver<'_>],
) -> Result<Vec<(String, u64)>, StoreError> {
    let mut upsert = conn.prepare_cached(
        "INSERT INTO webhooks (name, events, usage_shares, expiry_warning) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET events = excluded.events,
             usage_shares = excluded.usage_shares, expiry_warning = excluded.expiry_warning",
    )?;
    for r in receivers {
        upsert.execute(params![
            r.name,
            serde_json::to_string(r.events).map_err(json_err)?,
            serde_json::to_string(r.usage_shares).map_err(json_err)?,
            r.expiry_warning
        ])?;
    }
    let keep: HashSet<&str> = receivers.iter().map(|r| r.name).collect();
    let existing: Vec<(String, u64)> = conn
        .prepare_cached(
            "SELECT w.name, (SELECT count(*) FROM webhook_deliveries d
                             WHERE d.webhook = w.name AND d.state = 'pending')
             FROM webhooks w",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?
        .collect::<Result<_, _>>()?;
    let mut removed = Vec::new();
    for (name, pending) in existing {
        if !keep.contains(name.as_str()) {
            conn.prepare_cached("DELETE FROM webhooks WHERE name = ?1")?
                .execute([&name])?;
            removed.push((name, pending));
        }
    }
    conn.execute_batch(
        "DELETE FROM webhook_events WHERE NOT EXISTS
             (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = webhook_events.seq)",
    )?;
    Ok(removed)
}

/// The kinds some receiver wants (`*` included as is); empty without webhooks.
fn wanted(conn: &Connection) -> Result<HashSet<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT DISTINCT e.value FROM webhooks w, json_each(w.events) e")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?)
}

fn wants(wanted: &HashSet<String>, kind: &str) -> bool {
    wanted.contains("*") || wanted.contains(kind)
}

/// Writes one event for every receiver that wants `kind` (or only for `only`), with a
/// fresh UUID; the body is the exact JSON that will be sent and signed.
fn insert(
    conn: &Connection,
    kind: &str,
    data: Value,
    only: Option<&str>,
) -> Result<(), StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    let created_at = super::now();
    let body = json!({"id": id, "type": kind, "created_at": created_at, "data": data});
    let body = serde_json::to_string(&body).map_err(json_err)?;
    conn.prepare_cached(
        "INSERT INTO webhook_events (id, kind, created_at, body) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, kind, created_at, body])?;
    let seq = conn.last_insert_rowid();
    let due_ms = created_at.saturating_mul(1000);
    conn.prepare_cached(
        "INSERT INTO webhook_deliveries (webhook, event_seq, next_attempt_ms)
         SELECT w.name, ?1, ?2 FROM webhooks w
         WHERE (?4 IS NULL OR w.name = ?4)
           AND EXISTS (SELECT 1 FROM json_each(w.events) e WHERE e.value IN (?3, '*'))",
    )?
    .execute(params![seq, due_ms, kind, only])?;
    Ok(())
}

/// The event kind of a key change; `None` for what receivers are not told (applied).
fn kind_of(action: KeyAction) -> Option<&'static str> {
    Some(match action {
        KeyAction::Created => "key.created",
        KeyAction::Updated => "key.updated",
        KeyAction::Disabled => "key.disabled",
        KeyAction::Enabled => "key.enabled",
        KeyAction::Deleted => "key.deleted",
        KeyAction::Rotated => "key.rotated",
        KeyAction::Applied => return None,
    })
}

/// `data` of a key event: the key as the API returns it, who changed it, and more.
fn key_data(key: &Key, actor: &Actor, extra: Map<String, Value>) -> Result<Value, StoreError> {
    let mut data = Map::new();
    data.insert("key".into(), serde_json::to_value(key).map_err(json_err)?);
    data.insert(
        "actor".into(),
        serde_json::to_value(actor).map_err(json_err)?,
    );
    if key.state == KeyState::Disabled
        && let Some(reason) = key.disable_reason
    {
        data.insert("reason".into(), json!(reason.as_str()));
    }
    data.extend(extra);
    Ok(Value::Object(data))
}

/// Events for the changes of one mutation (the pipeline's `Changed::events`), in its
/// transaction. Costs one tiny query when no webhook is configured.
pub fn key_events(
    conn: &Connection,
    actor: &Actor,
    changes: &[(KeyAction, Key)],
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let wanted = wanted(conn)?;
    if wanted.is_empty() {
        return Ok(());
    }
    for (action, key) in changes {
        let Some(kind) = kind_of(*action) else {
            continue;
        };
        if wants(&wanted, kind) {
            insert(conn, kind, key_data(key, actor, Map::new())?, None)?;
        }
    }
    Ok(())
}

/// Events for keys the daemon disabled or enabled by itself (limits and expiry): after
/// their rows changed, in the same transaction.
pub fn enforced(conn: &Connection, ids: &[i64]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let wanted = wanted(conn)?;
    if wanted.is_empty() {
        return Ok(());
    }
    let actor = Actor::Daemon {
        task: DaemonTask::Enforce,
    };
    for key in keys::by_ids(conn, ids)? {
        let kind = match key.state {
            KeyState::Active => "key.enabled",
            KeyState::Disabled => "key.disabled",
            KeyState::Deleted => continue,
        };
        if wants(&wanted, kind) {
            insert(conn, kind, key_data(&key, &actor, Map::new())?, None)?;
        }
    }
    Ok(())
}

/// `key.usage` for each key (of `scope`) whose usage reached a receiver's share of its limit
/// since that receiver was last told for this share, period (reset) and limit.
pub fn usage(conn: &Connection, scope: Keys<'_>) -> Result<(), StoreError> {
    let any: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM webhooks WHERE usage_shares <> '[]')")?
        .query_row([], |r| r.get(0))?;
    if !any {
        return Ok(());
    }
    let hits: Vec<(String, i64, f64, i64, i64, i64)> = conn
        .prepare_cached(
            "SELECT w.name, k.id, s.value, t.uplink + t.downlink, k.data_limit,
                    coalesce(t.last_reset_at, 0)
             FROM webhooks w CROSS JOIN json_each(w.usage_shares) s
                  JOIN keys k ON k.state <> 'deleted' AND k.data_limit > 0
                  JOIN traffic t ON t.key_id = k.id
             WHERE (?1 IS NULL OR k.id IN (SELECT value FROM json_each(?1)))
               AND EXISTS (SELECT 1 FROM json_each(w.events) e WHERE e.value IN ('key.usage', '*'))
               AND t.uplink + t.downlink >= s.value * k.data_limit
               AND NOT EXISTS (SELECT 1 FROM webhook_marks m
                   WHERE m.webhook = w.name AND m.key_id = k.id AND m.kind = 'usage'
                     AND m.threshold = s.value AND m.period = coalesce(t.last_reset_at, 0)
                     AND m.data_limit = k.data_limit)
             ORDER BY k.id, s.value",
        )?
        .query_map(params![scope.json()], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let actor = Actor::Daemon {
        task: DaemonTask::Enforce,
    };
    for (webhook, key_id, share, used, limit, period) in hits {
        mark(conn, &webhook, key_id, "usage", share, period, Some(limit))?;
        let key = keys::get(conn, &veil_shared::model::KeyRef::Id(key_id))?;
        let mut extra = Map::new();
        extra.insert("share".into(), json!(share));
        extra.insert("used".into(), json!(used.max(0)));
        extra.insert("limit".into(), json!(limit));
        insert(
            conn,
            "key.usage",
            key_data(&key, &actor, extra)?,
            Some(&webhook),
        )?;
    }
    Ok(())
}

/// `key.expiring` for each active key (of `scope`) that expires within a receiver's warning
/// time, once per expiry time.
pub fn expiring(conn: &Connection, now: i64, scope: Keys<'_>) -> Result<(), StoreError> {
    let any: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM webhooks WHERE expiry_warning IS NOT NULL)")?
        .query_row([], |r| r.get(0))?;
    if !any {
        return Ok(());
    }
    let hits: Vec<(String, i64, i64)> = conn
        .prepare_cached(
            "SELECT w.name, k.id, k.expires_at
             FROM webhooks w JOIN keys k
                  ON k.state = 'active' AND k.expires_at > ?1
                     AND k.expires_at <= ?1 + w.expiry_warning
             WHERE w.expiry_warning IS NOT NULL
               AND (?2 IS NULL OR k.id IN (SELECT value FROM json_each(?2)))
               AND EXISTS (SELECT 1 FROM json_each(w.events) e
                           WHERE e.value IN ('key.expiring', '*'))
               AND NOT EXISTS (SELECT 1 FROM webhook_marks m
                   WHERE m.webhook = w.name AND m.key_id = k.id AND m.kind = 'expiring'
                     AND m.threshold = 0 AND m.period = k.expires_at)
             ORDER BY k.id",
        )?
        .query_map(params![now, scope.json()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    let actor = Actor::Daemon {
        task: DaemonTask::Enforce,
    };
    for (webhook, key_id, expires_at) in hits {
        mark(conn, &webhook, key_id, "expiring", 0.0, expires_at, None)?;
        let key = keys::get(conn, &veil_shared::model::KeyRef::Id(key_id))?;
        let mut extra = Map::new();
        extra.insert("expires_at".into(), json!(expires_at));
        extra.insert("seconds_left".into(), json!(expires_at - now));
        insert(
            conn,
            "key.expiring",
            key_data(&key, &actor, extra)?,
            Some(&webhook),
        )?;
    }
    Ok(())
}

fn mark(
    conn: &Connection,
    webhook: &str,
    key_id: i64,
    kind: &str,
    threshold: f64,
    period: i64,
    limit: Option<i64>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO webhook_marks (webhook, key_id, kind, threshold, period, data_limit)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (webhook, key_id, kind, threshold)
         DO UPDATE SET period = excluded.period, data_limit = excluded.data_limit",
    )?
    .execute(params![webhook, key_id, kind, threshold, period, limit])?;
    Ok(())
}

const CORE_STATE: &str = "webhook.core_state";

/// `core.up` / `core.down` when the core's state differs from the last one announced
/// (kept in the database, so a veild restart neither repeats nor loses a transition). The
/// first state ever seen is announced only when it is `down`.
pub fn core_state(conn: &Connection, up: bool, error: Option<&str>) -> Result<bool, StoreError> {
    let now_state = if up { "up" } else { "down" };
    let last = keys::meta_get(conn, CORE_STATE)?;
    if last.as_deref() == Some(now_state) {
        return Ok(false);
    }
    keys::meta_set(conn, CORE_STATE, now_state)?;
    if last.is_none() && up {
        return Ok(false);
    }
    let kind = if up { "core.up" } else { "core.down" };
    if !wants(&wanted(conn)?, kind) {
        return Ok(false);
    }
    let mut data = Map::new();
    if let Some(error) = error {
        data.insert("error".into(), json!(error));
    }
    insert(conn, kind, Value::Object(data), None)?;
    Ok(true)
}

/// A delivery whose attempt is due.
#[derive(Clone, Debug)]
pub struct Due {
    pub webhook: String,
    pub event_seq: i64,
    pub id: String,
    pub kind: String,
    pub body: String,
    pub created_at: i64,
    pub attempts: u32,
}

/// Up to `limit` deliveries due at `now_ms`, the longest waiting first.
pub fn due(conn: &Connection, now_ms: i64, limit: usize) -> Result<Vec<Due>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT d.webhook, d.event_seq, e.id, e.kind, e.body, e.created_at, d.attempts
             FROM webhook_deliveries d JOIN webhook_events e ON e.seq = d.event_seq
             WHERE d.state = 'pending' AND d.next_attempt_ms <= ?1
             ORDER BY d.next_attempt_ms, d.event_seq LIMIT ?2",
        )?
        .query_map(params![now_ms, limit as i64], |r| {
            Ok(Due {
                webhook: r.get(0)?,
                event_seq: r.get(1)?,
                id: r.get(2)?,
                kind: r.get(3)?,
                body: r.get(4)?,
                created_at: r.get(5)?,
                attempts: r.get::<_, i64>(6)?.clamp(0, i64::from(u32::MAX)) as u32,
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// The earliest next attempt after `now_ms` (milliseconds), if any delivery waits.
pub fn next_due_after(conn: &Connection, now_ms: i64) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT min(next_attempt_ms) FROM webhook_deliveries
             WHERE state = 'pending' AND next_attempt_ms > ?1",
        )?
        .query_row([now_ms], |r| r.get(0))
        .optional()?
        .flatten())
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// 2xx.
    Delivered { status: u16 },
    /// Try again at `next_ms`.
    Retry {
        status: Option<u16>,
        error: String,
        next_ms: i64,
    },
    /// Given up on.
    Failed { status: Option<u16>, error: String },
}

/// Records one attempt of `(webhook, event_seq)` at `now` (seconds) and the receiver's
/// counters.
pub fn record(
    conn: &Connection,
    webhook: &str,
    event_seq: i64,
    now: i64,
    outcome: &Outcome,
) -> Result<(), StoreError> {
    let (state, status, error, next_ms, done) = match outcome {
        Outcome::Delivered { status } => ("delivered", Some(*status), None, None, Some(now)),
        Outcome::Retry {
            status,
            error,
            next_ms,
        } => (
            "pending",
            *status,
            Some(error.as_str()),
            Some(*next_ms),
            None,
        ),
        Outcome::Failed { status, error } => {
            ("failed", *status, Some(error.as_str()), None, Some(now))
        }
    };
    conn.prepare_cached(
        "UPDATE webhook_deliveries SET state = ?3, attempts = attempts + 1,
             next_attempt_ms = coalesce(?6, next_attempt_ms), last_attempt_at = ?7,
             last_status = ?4, last_error = ?5, done_at = ?8
         WHERE webhook = ?1 AND event_seq = ?2",
    )?
    .execute(params![
        webhook, event_seq, state, status, error, next_ms, now, done
    ])?;
    conn.prepare_cached(
        "UPDATE webhooks SET last_attempt_at = ?2,
             delivered = delivered + (?3 = 'delivered'), failed = failed + (?3 = 'failed'),
             last_success_at = CASE WHEN ?3 = 'delivered' THEN ?2 ELSE last_success_at END,
             last_error = CASE WHEN ?3 = 'delivered' THEN NULL ELSE ?4 END
         WHERE name = ?1",
    )?
    .execute(params![webhook, now, state, error])?;
    Ok(())
}

/// One receiver's figures for `health` and `webhook.list`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub name: String,
    pub pending: u64,
    pub failed: u64,
    pub delivered: u64,
    pub last_attempt_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub last_error: Option<String>,
}

pub fn stats(conn: &Connection) -> Result<Vec<Stats>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT w.name, (SELECT count(*) FROM webhook_deliveries d
                             WHERE d.webhook = w.name AND d.state = 'pending'),
                    w.failed, w.delivered, w.last_attempt_at, w.last_success_at, w.last_error
             FROM webhooks w ORDER BY w.name",
        )?
        .query_map([], |r| {
            let n = |v: i64| v.max(0) as u64;
            Ok(Stats {
                name: r.get(0)?,
                pending: n(r.get(1)?),
                failed: n(r.get(2)?),
                delivered: n(r.get(3)?),
                last_attempt_at: r.get(4)?,
                last_success_at: r.get(5)?,
                last_error: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// Deletes (in a bounded batch) deliveries finished before `before` (seconds), the events
/// no delivery needs any more, and the marks of deleted keys. Returns the deliveries
/// deleted; call again while it returns `batch`.
pub fn prune(conn: &Connection, before: i64, batch: u32) -> Result<u64, StoreError> {
    let gone = conn
        .prepare_cached(
            "DELETE FROM webhook_deliveries WHERE (webhook, event_seq) IN
                 (SELECT webhook, event_seq FROM webhook_deliveries
                  WHERE state <> 'pending' AND done_at < ?1 LIMIT ?2)",
        )?
        .execute(params![before, batch])?;
    conn.prepare_cached(
        "DELETE FROM webhook_events WHERE seq IN
             (SELECT seq FROM webhook_events e WHERE created_at < ?1 AND NOT EXISTS
                 (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = e.seq) LIMIT ?2)",
    )?
    .execute(params![before, batch])?;
    conn.prepare_cached(
        "DELETE FROM webhook_marks WHERE key_id IN (SELECT id FROM keys WHERE state = 'deleted')",
    )?
    .execute([])?;
    Ok(gone as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("veil.db");
        crate::store::Store::open(&path).unwrap().close();
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        (dir, conn)
    }

    fn receivers(conn: &Connection, events: &[&str], shares: &[f64]) {
        let events: Vec<String> = events.iter().map(|e| (*e).to_owned()).collect();
        sync(
            conn,
            &[Receiver {
                name: "billing",
                events: &events,
                usage_shares: shares,
                expiry_warning: Some(3 * 86_400),
            }],
        )
        .unwrap();
    }

    fn kinds(conn: &Connection) -> Vec<String> {
        conn.prepare(
            "SELECT e.kind FROM webhook_deliveries d
             JOIN webhook_events e ON e.seq = d.event_seq ORDER BY e.seq",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    #[test]
    fn usage_crossings_are_sent_once_per_share_period_and_limit() {
        let (_dir, conn) = db();
        receivers(&conn, &["key.usage"], &[0.5, 0.8]);
        let id = keys::create(&conn, "k", None).unwrap().id;
        conn.execute("UPDATE keys SET data_limit = 1000 WHERE id = ?1", [id])
            .unwrap();
        conn.execute(
            "INSERT INTO traffic (key_id, uplink, downlink) VALUES (?1, 0, 600)",
            [id],
        )
        .unwrap();
        let ids = format!("[{id}]");
        usage(&conn, Keys::Ids(&ids)).unwrap();
        assert_eq!(kinds(&conn), ["key.usage"], "50 % crossed, 80 % not");
        usage(&conn, Keys::All).unwrap();
        assert_eq!(kinds(&conn).len(), 1, "once per crossing");
        conn.execute("UPDATE traffic SET downlink = 900 WHERE key_id = ?1", [id])
            .unwrap();
        usage(&conn, Keys::All).unwrap();
        assert_eq!(kinds(&conn).len(), 2, "80 % crossed");
        // A reset starts a new period; a new limit is a new crossing too.
        conn.execute(
            "UPDATE traffic SET downlink = 550, last_reset_at = 5 WHERE key_id = ?1",
            [id],
        )
        .unwrap();
        usage(&conn, Keys::All).unwrap();
        assert_eq!(kinds(&conn).len(), 3);
        let body: String = conn
            .query_row(
                "SELECT body FROM webhook_events ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["type"], "key.usage");
        assert_eq!(body["data"]["share"], 0.5);
        assert_eq!(body["data"]["used"], 550);
        assert_eq!(body["data"]["limit"], 1000);
        assert_eq!(body["data"]["key"]["id"], id);
    }

    #[test]
    fn only_wanted_kinds_are_queued_and_the_first_core_state_is_quiet_when_up() {
        let (_dir, conn) = db();
        let key = keys::create(&conn, "k", None).unwrap();
        let actor = Actor::Daemon {
            task: DaemonTask::Enforce,
        };
        // No webhook: nothing at all is written.
        key_events(&conn, &actor, &[(KeyAction::Created, key.clone())]).unwrap();
        let events: i64 = conn
            .query_row("SELECT count(*) FROM webhook_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(events, 0);
        receivers(&conn, &["key.created", "core.down", "core.up"], &[]);
        key_events(
            &conn,
            &actor,
            &[
                (KeyAction::Created, key.clone()),
                (KeyAction::Applied, key.clone()),
                (KeyAction::Deleted, key),
            ],
        )
        .unwrap();
        assert_eq!(kinds(&conn), ["key.created"]);
        assert!(
            !core_state(&conn, true, None).unwrap(),
            "first seen up: quiet"
        );
        assert!(!core_state(&conn, true, None).unwrap());
        assert!(core_state(&conn, false, Some("refused")).unwrap());
        assert!(!core_state(&conn, false, None).unwrap());
        assert!(core_state(&conn, true, None).unwrap());
        assert_eq!(kinds(&conn), ["key.created", "core.down", "core.up"]);
        // Due now, then recorded as delivered, then pruned once old.
        let due = due(&conn, i64::MAX, 10).unwrap();
        assert_eq!(due.len(), 3);
        for d in &due {
            record(
                &conn,
                "billing",
                d.event_seq,
                100,
                &Outcome::Delivered { status: 200 },
            )
            .unwrap();
        }
        assert_eq!(stats(&conn).unwrap()[0].delivered, 3);
        assert_eq!(prune(&conn, 101, 1000).unwrap(), 3);
        // A receiver that left the config takes its queue with it.
        assert!(sync(&conn, &[]).unwrap().iter().all(|(_, n)| *n == 0));
        assert!(stats(&conn).unwrap().is_empty());
    }
}
