//! Registry rows ⇄ this node's copy. What the operator decides about a key (its UUID,
//! name, note, state and why, limit, expiry) travels; what this node's core has applied
//! stays local. Local changes queue in `fleet_outbox` (filled by triggers, so enforcement
//! and every other writer are covered) until they are written to the registry.

use std::collections::HashMap;

use postgres::Transaction;
use rusqlite::{Connection, OptionalExtension, params};
use veil_shared::api::KeyAction;
use veil_shared::model::{DisableReason, Key, KeyState};
use veil_shared::validate;

use super::fail::{Depth, Fail};
use crate::store::keys;

/// A key as the registry holds it (and this node's copy, compared with it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Row {
    id: i64,
    uuid: String,
    name: String,
    name_fold: String,
    note: String,
    created_at: i64,
    updated_at: i64,
    state: String,
    disable_reason: Option<String>,
    data_limit: Option<i64>,
    expires_at: Option<i64>,
    deleted_at: Option<i64>,
    /// Manual traffic resets of the key anywhere in the fleet.
    resets: i64,
    /// The nodes it is on (JSON array); None: every node.
    nodes: Option<String>,
    /// The node that wrote it (registry rows only).
    written_by: String,
}

const LOCAL_COLUMNS: &str = "id, uuid, name, name_fold, note, created_at, updated_at, state, \
                             disable_reason, data_limit, expires_at, deleted_at, fleet_resets, nodes";

fn local_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        uuid: r.get(1)?,
        name: r.get(2)?,
        name_fold: r.get(3)?,
        note: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        state: r.get(7)?,
        disable_reason: r.get(8)?,
        data_limit: r.get(9)?,
        expires_at: r.get(10)?,
        deleted_at: r.get(11)?,
        resets: r.get(12)?,
        nodes: r.get(13)?,
        written_by: String::new(),
    })
}

fn registry_row(r: &postgres::Row) -> Row {
    Row {
        id: r.get(0),
        uuid: r.get(1),
        name: r.get(2),
        name_fold: r.get(3),
        note: r.get(4),
        created_at: r.get(5),
        updated_at: r.get(6),
        state: r.get(7),
        disable_reason: r.get(8),
        data_limit: r.get(9),
        expires_at: r.get(10),
        deleted_at: r.get(11),
        resets: r.get(12),
        nodes: r.get(15),
        written_by: r.get(14),
    }
}

impl Row {
    /// Whether two rows say the same of the key (who wrote them aside).
    fn same_key(&self, other: &Row) -> bool {
        Row {
            written_by: String::new(),
            ..self.clone()
        } == Row {
            written_by: String::new(),
            ..other.clone()
        }
    }

    /// Whether a row read from the registry keeps every rule a local change keeps (the
    /// registry is shared: a row another node wrote is input like any other).
    fn valid(&self) -> bool {
        let uuid_ok = validate::uuid(&self.uuid).is_ok_and(|u| u.to_string() == self.uuid);
        let name_ok = validate::name(&self.name).is_ok_and(|n| n == self.name)
            && validate::name_fold(&self.name) == self.name_fold;
        let note_ok = validate::note(&self.note).is_ok_and(|n| n == self.note);
        let state_ok = KeyState::parse(&self.state).is_some()
            && self
                .disable_reason
                .as_deref()
                .is_none_or(|r| DisableReason::parse(r).is_some());
        let nodes_ok = self.nodes.as_deref().is_none_or(|text| {
            serde_json::from_str::<Vec<String>>(text).is_ok_and(|names| {
                names
                    .iter()
                    .all(|n| crate::config::fleet::valid_node_name(n))
            })
        });
        uuid_ok
            && name_ok
            && note_ok
            && state_ok
            && nodes_ok
            && self.data_limit.is_none_or(|l| l >= 0)
    }
}

/// Writes the queued local changes to the registry (each takes a new version) and
/// empties the queue. Returns how many rows it wrote.
pub(super) fn push(tx: &mut Transaction<'_>, conn: &Connection, node: &str) -> Result<usize, Fail> {
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {LOCAL_COLUMNS} FROM fleet_outbox o JOIN keys k ON k.id = o.key_id ORDER BY k.id"
        ))?
        .query_map([], local_row)?
        .collect::<Result<Vec<_>, _>>()?;
    if rows.is_empty() {
        conn.prepare_cached("DELETE FROM fleet_outbox")?
            .execute([])?;
        return Ok(0);
    }
    let col = |f: fn(&Row) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let num = |f: fn(&Row) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
    let opt = |f: fn(&Row) -> Option<i64>| rows.iter().map(f).collect::<Vec<Option<i64>>>();
    let reasons: Vec<Option<String>> = rows.iter().map(|r| r.disable_reason.clone()).collect();
    let placements: Vec<Option<String>> = rows.iter().map(|r| r.nodes.clone()).collect();
    let versions = tx.query(
        "INSERT INTO keys (id, uuid, name, name_fold, note, created_at, updated_at, state,
                           disable_reason, data_limit, expires_at, deleted_at, resets, nodes,
                           version, written_by)
         SELECT i, u::uuid, n, f, t, c, m, s, r, l, e, d, z, p, nextval('key_versions'), $14
           FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[],
                       $7::int8[], $8::text[], $9::text[], $10::int8[], $11::int8[], $12::int8[],
                       $13::int8[], $15::text[])
                AS x(i, u, n, f, t, c, m, s, r, l, e, d, z, p)
         ON CONFLICT (id) DO UPDATE SET
             uuid = EXCLUDED.uuid, name = EXCLUDED.name, name_fold = EXCLUDED.name_fold,
             note = EXCLUDED.note, created_at = EXCLUDED.created_at,
             updated_at = EXCLUDED.updated_at, state = EXCLUDED.state,
             disable_reason = EXCLUDED.disable_reason, data_limit = EXCLUDED.data_limit,
             expires_at = EXCLUDED.expires_at, deleted_at = EXCLUDED.deleted_at,
             resets = EXCLUDED.resets, nodes = EXCLUDED.nodes, version = EXCLUDED.version,
             written_by = EXCLUDED.written_by
         RETURNING version",
        &[
            &num(|r| r.id),
            &col(|r| r.uuid.clone()),
            &col(|r| r.name.clone()),
            &col(|r| r.name_fold.clone()),
            &col(|r| r.note.clone()),
            &num(|r| r.created_at),
            &num(|r| r.updated_at),
            &col(|r| r.state.clone()),
            &reasons,
            &opt(|r| r.data_limit),
            &opt(|r| r.expires_at),
            &opt(|r| r.deleted_at),
            &num(|r| r.resets),
            &node,
            &placements,
        ],
    )?;
    let newest = versions
        .iter()
        .map(|r| r.get::<_, i64>(0))
        .max()
        .unwrap_or(0);
    // Under the fleet's lock, after the catch-up: nothing newer exists than what we wrote.
    set_seen(conn, newest.max(seen(conn)?))?;
    conn.prepare_cached("DELETE FROM fleet_outbox")?
        .execute([])?;
    Ok(rows.len())
}

/// Takes the registry's changes (or, `Full`, every row) into the local copy. Returns what
/// changed here: (the row as it was, or None for a new key; the id).
pub(super) fn pull(
    tx: &mut Transaction<'_>,
    conn: &Connection,
    depth: Depth,
) -> Result<Vec<(Option<Row>, i64)>, Fail> {
    let after = match depth {
        Depth::Changes => seen(conn)?,
        Depth::Full => 0,
    };
    let fetched = tx.query(
        "SELECT id, uuid::text, name, name_fold, note, created_at, updated_at, state,
                disable_reason, data_limit, expires_at, deleted_at, resets, version, written_by,
                nodes
           FROM keys WHERE version > $1 ORDER BY version",
        &[&after],
    )?;
    let newest = fetched.iter().map(|r| r.get::<_, i64>(13)).max();
    let mut local =
        conn.prepare_cached(&format!("SELECT {LOCAL_COLUMNS} FROM keys WHERE id = ?1"))?;
    let mut changed: Vec<(Option<Row>, Row)> = Vec::new();
    for fetched in &fetched {
        let row = registry_row(fetched);
        let before = local.query_row([row.id], local_row).optional()?;
        if before.as_ref().is_some_and(|b| b.same_key(&row)) {
            continue;
        }
        if !row.valid() {
            tracing::warn!(
                key_id = row.id,
                "a registry row breaks the key rules; not taken"
            );
            continue;
        }
        changed.push((before, row));
    }
    drop(local);
    apply(conn, &changed)?;
    if let Some(newest) = newest {
        set_seen(conn, newest.max(seen(conn)?))?;
    }
    Ok(changed
        .into_iter()
        .map(|(before, row)| (before, row.id))
        .collect())
}

/// Writes the changed rows. Names move between keys in any order (a rename, then another
/// key taking the old name), so the changed keys' names step aside first.
fn apply(conn: &Connection, changed: &[(Option<Row>, Row)]) -> Result<(), Fail> {
    let mut aside =
        conn.prepare_cached("UPDATE keys SET name_fold = char(1) || 'fleet ' || id WHERE id = ?1")?;
    for (before, row) in changed {
        if before.is_some() {
            aside.execute([row.id])?;
        }
    }
    let mut upsert = conn.prepare_cached(&format!(
        "INSERT INTO keys ({LOCAL_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (id) DO UPDATE SET
             uuid = excluded.uuid, name = excluded.name, name_fold = excluded.name_fold,
             note = excluded.note, created_at = excluded.created_at,
             updated_at = excluded.updated_at, state = excluded.state,
             disable_reason = excluded.disable_reason, data_limit = excluded.data_limit,
             expires_at = excluded.expires_at, deleted_at = excluded.deleted_at,
             fleet_resets = excluded.fleet_resets, nodes = excluded.nodes"
    ))?;
    for (_, r) in changed {
        upsert.execute(params![
            r.id,
            r.uuid,
            r.name,
            r.name_fold,
            r.note,
            r.created_at,
            r.updated_at,
            r.state,
            r.disable_reason,
            r.data_limit,
            r.expires_at,
            r.deleted_at,
            r.resets,
            r.nodes
        ])?;
        crate::traffic::limits::ensure_row(conn, r.id)?;
    }
    // A manual reset made on another node: this node's share of the key starts again.
    for (before, r) in changed {
        if before.as_ref().is_some_and(|b| r.resets > b.resets) {
            crate::traffic::limits::reset_totals(
                conn,
                r.id,
                crate::store::now(),
                crate::traffic::limits::ResetReason::Manual,
            )?;
        }
    }
    // What came from the registry is not a local change to send back.
    conn.prepare_cached("DELETE FROM fleet_outbox")?
        .execute([])?;
    // This node's audit trail says what other nodes changed, and which node.
    let actor = veil_shared::api::Actor::Daemon {
        task: veil_shared::api::DaemonTask::Fleet,
    };
    for (before, row) in changed {
        let reset = before.as_ref().is_some_and(|b| row.resets > b.resets);
        let detail = format!(
            "{}{} on node {}",
            action_of(before.as_ref(), row).as_str(),
            if reset { ", traffic reset" } else { "" },
            row.written_by
        );
        crate::store::audit::insert(
            conn,
            &crate::store::audit::Record {
                actor: &actor,
                method: "fleet.sync",
                key_id: Some(row.id),
                key_ref: Some(&row.name),
                outcome: "ok",
                detail: Some(&detail),
            },
        )?;
    }
    Ok(())
}

/// What watchers hear of keys changed elsewhere: one event per key, the action read off
/// the difference.
pub(super) fn events(
    conn: &Connection,
    pulled: Vec<(Option<Row>, i64)>,
) -> Result<Vec<(KeyAction, Key)>, crate::store::StoreError> {
    let before: HashMap<i64, Option<Row>> = pulled.into_iter().map(|(b, id)| (id, b)).collect();
    let mut ids: Vec<i64> = before.keys().copied().collect();
    ids.sort_unstable();
    let now = keys::by_ids(conn, &ids)?;
    Ok(now
        .into_iter()
        .map(|key| {
            let action = match before.get(&key.id) {
                Some(Some(old)) => action_of(Some(old), &Row::of(&key)),
                _ => KeyAction::Created,
            };
            (action, key)
        })
        .collect())
}

/// What a change from `old` (None: no such key yet) to `new` was.
fn action_of(old: Option<&Row>, new: &Row) -> KeyAction {
    let Some(old) = old else {
        return KeyAction::Created;
    };
    if old.state != new.state {
        return match KeyState::parse(&new.state) {
            Some(KeyState::Active) => KeyAction::Enabled,
            Some(KeyState::Disabled) => KeyAction::Disabled,
            Some(KeyState::Deleted) => KeyAction::Deleted,
            None => KeyAction::Updated,
        };
    }
    if old.uuid != new.uuid {
        return KeyAction::Rotated;
    }
    KeyAction::Updated
}

impl Row {
    /// The fields of a key the comparison of states needs.
    fn of(key: &Key) -> Row {
        Row {
            id: key.id,
            uuid: key.uuid.to_string(),
            name: key.name.clone(),
            name_fold: String::new(),
            note: key.note.clone(),
            created_at: key.created_at,
            updated_at: key.updated_at,
            state: key.state.as_str().to_owned(),
            disable_reason: key.disable_reason.map(|r| r.as_str().to_owned()),
            data_limit: key.data_limit.and_then(|l| i64::try_from(l).ok()),
            expires_at: key.expires_at,
            deleted_at: None,
            resets: 0,
            nodes: None,
            written_by: String::new(),
        }
    }
}

/// The first start of this database as a node: refuses a database of another node, or
/// local keys the registry does not have when the registry has keys of its own; the
/// fleet's first node brings its keys in.
pub(super) fn join(tx: &mut Transaction<'_>, conn: &Connection, node: &str) -> Result<(), Fail> {
    match keys::meta_get(conn, "fleet.node")? {
        Some(name) if name == node => return Ok(()),
        Some(name) => {
            return Err(Fail::Store(crate::store::StoreError::Schema(format!(
                "this database belongs to fleet node {name:?}, not {node:?}"
            ))));
        }
        None => {}
    }
    let local: i64 = conn.query_row("SELECT count(*) FROM keys", [], |r| r.get(0))?;
    let remote: i64 = tx.query_one("SELECT count(*) FROM keys", &[])?.get(0);
    if local > 0 && remote > 0 {
        return Err(Fail::Store(crate::store::StoreError::Schema(format!(
            "this database has {local} keys and the registry has {remote} of its own; a node \
             joins an existing fleet with an empty database (only the fleet's first node \
             brings its keys)"
        ))));
    }
    keys::meta_set(conn, "fleet.node", node)?;
    conn.execute(
        "INSERT OR IGNORE INTO fleet_outbox (key_id) SELECT id FROM keys",
        [],
    )?;
    Ok(())
}

fn seen(conn: &Connection) -> Result<i64, Fail> {
    Ok(keys::meta_get(conn, "fleet.seen")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

fn set_seen(conn: &Connection, version: i64) -> Result<(), Fail> {
    keys::meta_set(conn, "fleet.seen", &version.to_string())?;
    Ok(())
}
