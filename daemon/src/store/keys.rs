//! Key rows: reading, resolving identifiers, and the mutations the service layer composes.
//! Every function takes a plain `&Connection`, so the same code runs inside the writer's
//! savepoints and on reader connections.

use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;
use veil_shared::api::KeyCounts;
use veil_shared::model::{DisableReason, Key, KeyRef, KeyState};
use veil_shared::validate;

use super::{StoreError, now};
use crate::error::ErrorKind;

/// The columns [`key_from_row`] reads, as a literal so the lookups' SQL is one too.
macro_rules! columns {
    () => {
        "id, uuid, name, note, created_at, updated_at, state, applied, \
                       disable_reason, data_limit, expires_at, applied_uuid, apply_error, here, nodes"
    };
}

const COLUMNS: &str = columns!();

/// The state this node's core should have for a key: its state, except that an active key
/// placed on other nodes only (fleet mode) is not in this core.
const CORE_STATE: &str = "(CASE WHEN here = 0 AND state = 'active' THEN 'disabled' ELSE state END)";

/// The condition for a row whose core state lags behind (pending): another state, or an active
/// key whose UUID the core does not have yet (a rotation). The same text as the partial
/// index `keys_pending` (migration 0010), so the index serves it.
const PENDING: &str = "(applied IS NOT (CASE WHEN here = 0 AND state = 'active' THEN 'disabled' ELSE state END) OR (state = 'active' AND here = 1 AND applied_uuid IS NOT uuid))";

fn parse_enum<T>(idx: usize, text: &str, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!("unexpected value '{text}'").into(),
        )
    })
}

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<Key> {
    let uuid: String = row.get(1)?;
    let uuid = Uuid::parse_str(&uuid).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
    })?;
    let state = parse_enum(6, &row.get::<_, String>(6)?, KeyState::parse)?;
    let applied = match row.get::<_, Option<String>>(7)? {
        Some(text) => Some(parse_enum(7, &text, KeyState::parse)?),
        None => None,
    };
    let disable_reason = match row.get::<_, Option<String>>(8)? {
        Some(text) => Some(parse_enum(8, &text, DisableReason::parse)?),
        None => None,
    };
    let data_limit: Option<i64> = row.get(9)?;
    let applied_uuid: Option<String> = row.get(11)?;
    let uuid_applied = applied_uuid.as_deref() == Some(uuid.to_string().as_str());
    let here: bool = row.get(13)?;
    let nodes: Option<String> = row.get(14)?;
    let nodes = nodes.and_then(|text| serde_json::from_str::<Vec<String>>(&text).ok());
    // What this node's core should have (see CORE_STATE).
    let core_state = if !here && state == KeyState::Active {
        KeyState::Disabled
    } else {
        state
    };
    Ok(Key {
        id: row.get(0)?,
        uuid,
        name: row.get(2)?,
        note: row.get(3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
        state,
        applied,
        pending: applied != Some(core_state) || (core_state == KeyState::Active && !uuid_applied),
        nodes,
        disable_reason,
        data_limit: data_limit.map(|v| v.max(0) as u64),
        expires_at: row.get(10)?,
        apply_error: row.get(12)?,
    })
}

pub fn not_found(key: &KeyRef) -> StoreError {
    StoreError::rejected(ErrorKind::NotFound, format!("key '{key}' not found"))
}

fn conflict(message: String) -> StoreError {
    StoreError::rejected(ErrorKind::Conflict, message)
}

fn invalid(e: validate::InvalidInput) -> StoreError {
    StoreError::rejected(ErrorKind::InvalidInput, e.to_string())
}

/// Finds a key by id, UUID or name. Names match live keys only (a deleted key gave its
/// name up); ids and UUIDs also find deleted keys, so their history stays readable.
pub fn find(conn: &Connection, key: &KeyRef) -> Result<Option<Key>, StoreError> {
    let found = match key {
        KeyRef::Id(id) => conn
            .prepare_cached(concat!("SELECT ", columns!(), " FROM keys WHERE id = ?1"))?
            .query_row([id], key_from_row)
            .optional()?,
        KeyRef::Uuid(uuid) => conn
            .prepare_cached(concat!("SELECT ", columns!(), " FROM keys WHERE uuid = ?1"))?
            .query_row([uuid.to_string()], key_from_row)
            .optional()?,
        KeyRef::Name(name) => conn
            .prepare_cached(concat!(
                "SELECT ",
                columns!(),
                " FROM keys WHERE name_fold = ?1 AND state <> 'deleted'"
            ))?
            .query_row([validate::name_fold(name)], key_from_row)
            .optional()?,
    };
    Ok(found)
}

pub fn get(conn: &Connection, key: &KeyRef) -> Result<Key, StoreError> {
    find(conn, key)?.ok_or_else(|| not_found(key))
}

/// Like [`get`], for a mutation: a deleted key can no longer be changed.
pub fn get_live(conn: &Connection, key: &KeyRef) -> Result<Key, StoreError> {
    let found = get(conn, key)?;
    if found.state == KeyState::Deleted {
        return Err(conflict(format!(
            "key '{key}' (id {}) is deleted",
            found.id
        )));
    }
    Ok(found)
}

fn name_taken(
    conn: &Connection,
    fold: &str,
    except_id: Option<i64>,
) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT name FROM keys WHERE name_fold = ?1 AND state <> 'deleted' AND id IS NOT ?2",
        )?
        .query_row(params![fold, except_id], |r| r.get(0))
        .optional()?)
}

fn insert(conn: &Connection, name: &str, note: &str, at: i64) -> Result<Key, StoreError> {
    let fold = validate::name_fold(name);
    if let Some(existing) = name_taken(conn, &fold, None)? {
        return Err(conflict(format!("a key named '{existing}' already exists")));
    }
    insert_unchecked(conn, name, &fold, note, at)
}

/// Inserts a key whose name the caller knows is free (the unique index still guards it)
/// and builds the row without reading it back: the bulk path, 10,000 keys in one call.
fn insert_unchecked(
    conn: &Connection,
    name: &str,
    fold: &str,
    note: &str,
    at: i64,
) -> Result<Key, StoreError> {
    // A v4 UUID collision is astronomically unlikely, but the column is UNIQUE, and a retry
    // costs nothing compared with two users sharing one identity in the core.
    let mut stmt = conn.prepare_cached(
        "INSERT INTO keys (uuid, name, name_fold, note, created_at, updated_at, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, 'active')
         ON CONFLICT (uuid) DO NOTHING",
    )?;
    for _ in 0..3 {
        let uuid = Uuid::new_v4();
        let inserted = match stmt.execute(params![uuid.to_string(), name, fold, note, at]) {
            Ok(n) => n,
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(conflict(format!("a key named '{name}' already exists")));
            }
            Err(e) => return Err(e.into()),
        };
        if inserted == 1 {
            return Ok(Key {
                id: conn.last_insert_rowid(),
                uuid,
                name: name.to_owned(),
                note: note.to_owned(),
                created_at: at,
                updated_at: at,
                state: KeyState::Active,
                applied: None,
                pending: true,
                disable_reason: None,
                data_limit: None,
                expires_at: None,
                apply_error: None,
                nodes: None,
            });
        }
    }
    Err(StoreError::Sqlite("could not draw a unique UUID".into()))
}

/// Creates one active key.
pub fn create(conn: &Connection, name: &str, note: Option<&str>) -> Result<Key, StoreError> {
    let name = validate::name(name).map_err(invalid)?;
    let note = validate::note(note.unwrap_or("")).map_err(invalid)?;
    insert(conn, &name, &note, now())
}

/// Creates `count` keys `PREFIX-N`, numbering on after the highest live `PREFIX-N`.
pub fn create_bulk(conn: &Connection, prefix: &str, count: u32) -> Result<Vec<Key>, StoreError> {
    let prefix = validate::prefix(prefix).map_err(invalid)?;
    let fold = format!("{}-", validate::name_fold(&prefix));
    let start = {
        let mut stmt = conn.prepare_cached(
            "SELECT substr(name_fold, ?1) FROM keys
             WHERE state <> 'deleted' AND substr(name_fold, 1, ?2) = ?3",
        )?;
        let width = fold.chars().count() as i64;
        let suffixes =
            stmt.query_map(params![width + 1, width, fold], |r| r.get::<_, String>(0))?;
        let mut highest = 0u64;
        for suffix in suffixes {
            if let Ok(n) = suffix?.parse::<u64>() {
                highest = highest.max(n);
            }
        }
        highest
    };
    // Every PREFIX-N above the highest live one is free, so no per-name check is needed.
    let at = now();
    (1..=u64::from(count))
        .map(|i| {
            let name = format!("{prefix}-{}", start + i);
            let fold = validate::name_fold(&name);
            insert_unchecked(conn, &name, &fold, "", at)
        })
        .collect()
}

pub struct ListQuery<'a> {
    pub state: Option<KeyState>,
    pub search: Option<&'a str>,
    pub offset: u64,
    pub limit: Option<u64>,
}

/// Keys in id order with the total that matched. Without a state, deleted keys are left out.
pub fn list(conn: &Connection, q: &ListQuery<'_>) -> Result<(Vec<Key>, u64), StoreError> {
    let state = q.state.map(KeyState::as_str);
    let search = q
        .search
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(validate::name_fold);
    let filter = "WHERE (?1 IS NULL AND state <> 'deleted' OR state = ?1)
                  AND (?2 IS NULL OR instr(name_fold, ?2) > 0 OR instr(lower(note), ?2) > 0
                       OR instr(uuid, ?2) > 0)";
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM keys {filter}"))?
        .query_row(params![state, search], |r| r.get(0))?;
    let limit = q.limit.map_or(-1, |l| l.min(i64::MAX as u64) as i64);
    let offset = q.offset.min(i64::MAX as u64) as i64;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM keys {filter} ORDER BY id LIMIT ?3 OFFSET ?4"
    ))?;
    let keys = stmt
        .query_map(params![state, search, limit, offset], key_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((keys, total.max(0) as u64))
}

pub fn rename(conn: &Connection, key: &KeyRef, new_name: &str) -> Result<Key, StoreError> {
    let current = get_live(conn, key)?;
    let name = validate::name(new_name).map_err(invalid)?;
    let fold = validate::name_fold(&name);
    if let Some(existing) = name_taken(conn, &fold, Some(current.id))? {
        return Err(conflict(format!("a key named '{existing}' already exists")));
    }
    conn.prepare_cached(
        "UPDATE keys SET name = ?1, name_fold = ?2, updated_at = ?3 WHERE id = ?4",
    )?
    .execute(params![name, fold, now(), current.id])?;
    get(conn, &KeyRef::Id(current.id))
}

pub fn set_note(conn: &Connection, key: &KeyRef, note: &str) -> Result<Key, StoreError> {
    let current = get_live(conn, key)?;
    let note = validate::note(note).map_err(invalid)?;
    conn.prepare_cached("UPDATE keys SET note = ?1, updated_at = ?2 WHERE id = ?3")?
        .execute(params![note, now(), current.id])?;
    get(conn, &KeyRef::Id(current.id))
}

/// Sets the desired state. The applied state is left alone: the row becomes pending until
/// the applier brings the core in line.
pub fn set_state(
    conn: &Connection,
    key: &KeyRef,
    state: KeyState,
    reason: Option<DisableReason>,
) -> Result<Key, StoreError> {
    let current = get_live(conn, key)?;
    let at = now();
    conn.prepare_cached(
        "UPDATE keys SET state = ?1, disable_reason = ?2, updated_at = ?3,
                deleted_at = CASE WHEN ?1 = 'deleted' THEN ?3 ELSE deleted_at END
         WHERE id = ?4",
    )?
    .execute(params![
        state.as_str(),
        reason.map(DisableReason::as_str),
        at,
        current.id
    ])?;
    get(conn, &KeyRef::Id(current.id))
}

pub fn counts(conn: &Connection) -> Result<KeyCounts, StoreError> {
    let mut counts = KeyCounts::default();
    let mut stmt = conn.prepare_cached("SELECT state, count(*) FROM keys GROUP BY state")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (state, n) = row?;
        let n = n.max(0) as u64;
        match KeyState::parse(&state) {
            Some(KeyState::Active) => counts.active = n,
            Some(KeyState::Disabled) => counts.disabled = n,
            Some(KeyState::Deleted) => counts.deleted = n,
            None => {}
        }
    }
    Ok(counts)
}

/// Keys whose applied state lags behind their desired state.
pub fn pending_count(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM keys WHERE {PENDING}"))?
        .query_row([], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// Keys by state and, for disabled ones, why (`None`: no reason recorded).
pub fn counts_by_reason(
    conn: &Connection,
) -> Result<Vec<(KeyState, Option<DisableReason>, u64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT state, disable_reason, count(*) FROM keys GROUP BY state, disable_reason",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut counts = Vec::new();
    for row in rows {
        let (state, reason, n) = row?;
        if let Some(state) = KeyState::parse(&state) {
            let reason = reason.as_deref().and_then(DisableReason::parse);
            counts.push((state, reason, n.max(0) as u64));
        }
    }
    Ok(counts)
}

/// Gives a key a new UUID. The core keeps the old one until the applier swaps it.
pub fn rotate(conn: &Connection, key: &KeyRef) -> Result<Key, StoreError> {
    let current = get_live(conn, key)?;
    for _ in 0..3 {
        let uuid = Uuid::new_v4();
        let changed = conn
            .prepare_cached("UPDATE OR IGNORE keys SET uuid = ?1, updated_at = ?2 WHERE id = ?3")?
            .execute(params![uuid.to_string(), now(), current.id])?;
        if changed == 1 {
            return get(conn, &KeyRef::Id(current.id));
        }
    }
    Err(StoreError::Sqlite("could not draw a unique UUID".into()))
}

/// What the applier needs of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreRow {
    pub id: i64,
    pub uuid: Uuid,
    pub state: KeyState,
    pub applied: Option<KeyState>,
    pub applied_uuid: Option<String>,
}

fn core_row(row: &Row<'_>) -> rusqlite::Result<CoreRow> {
    let uuid: String = row.get(1)?;
    Ok(CoreRow {
        id: row.get(0)?,
        uuid: Uuid::parse_str(&uuid).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
        })?,
        state: parse_enum(2, &row.get::<_, String>(2)?, KeyState::parse)?,
        applied: match row.get::<_, Option<String>>(3)? {
            Some(text) => Some(parse_enum(3, &text, KeyState::parse)?),
            None => None,
        },
        applied_uuid: row.get(4)?,
    })
}

/// Rows the core does not reflect yet, oldest first.
pub fn pending(conn: &Connection) -> Result<Vec<CoreRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, uuid, {CORE_STATE}, applied, applied_uuid FROM keys WHERE {PENDING} ORDER BY id"
    ))?;
    Ok(stmt
        .query_map([], core_row)?
        .collect::<Result<Vec<_>, _>>()?)
}

/// Every key that should be in the core, in id order.
pub fn active(conn: &Connection) -> Result<Vec<CoreRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, uuid, state, applied, applied_uuid FROM keys
          WHERE state = 'active' AND here = 1 ORDER BY id",
    )?;
    Ok(stmt
        .query_map([], core_row)?
        .collect::<Result<Vec<_>, _>>()?)
}

/// Every key id that exists (any state), to tell managed clients from unowned ones.
pub fn all_ids(conn: &Connection) -> Result<std::collections::HashSet<i64>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM keys")?;
    Ok(stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// Records that the core now has `row` as it was read. A row changed again since (another
/// state or UUID) is left pending for the next pass. Returns whether it was marked.
pub fn mark_applied(conn: &Connection, row: &CoreRow) -> Result<bool, StoreError> {
    let applied_uuid = (row.state == KeyState::Active).then(|| row.uuid.to_string());
    let n = conn
        .prepare_cached(&format!(
            "UPDATE keys SET applied = ?1, applied_uuid = ?2, apply_error = NULL
             WHERE id = ?3 AND {CORE_STATE} = ?1 AND uuid = ?4"
        ))?
        .execute(params![
            row.state.as_str(),
            applied_uuid,
            row.id,
            row.uuid.to_string()
        ])?;
    Ok(n == 1)
}

/// Marks every row of `rows` the core now has as read, in one statement; rows changed again
/// since (another state or UUID) stay pending for the next pass. Returns the marked keys as
/// they now are (for the `applied` events), so nothing is read again.
pub fn mark_applied_all(conn: &Connection, rows: &[CoreRow]) -> Result<Vec<Key>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<(i64, &str, String)> = rows
        .iter()
        .map(|r| (r.id, r.state.as_str(), r.uuid.to_string()))
        .collect();
    let list = serde_json::to_string(&list).map_err(|e| StoreError::Sqlite(e.to_string()))?;
    let mut stmt = conn.prepare_cached(concat!(
        "UPDATE keys SET applied = (CASE WHEN here = 0 AND state = 'active' THEN 'disabled' ELSE state END),
                applied_uuid = CASE WHEN state = 'active' AND here = 1 THEN uuid END,
                apply_error = NULL
         FROM (SELECT value ->> 0 AS rid, value ->> 1 AS rstate, value ->> 2 AS ruuid
               FROM json_each(?1)) AS r
         WHERE keys.id = r.rid
           AND (CASE WHEN here = 0 AND state = 'active' THEN 'disabled' ELSE state END) = r.rstate
           AND keys.uuid = r.ruuid
         RETURNING ",
        columns!()
    ))?;
    let mut keys = stmt
        .query_map([list], key_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    keys.sort_unstable_by_key(|k| k.id);
    Ok(keys)
}

/// Of the keys with ids `first..=last`, those not live as created: still pending, or
/// changed to another state since (what a bulk's reply must show as the database has it).
pub fn not_live_in(conn: &Connection, first: i64, last: i64) -> Result<Vec<Key>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM keys WHERE id BETWEEN ?1 AND ?2 AND (state <> 'active' OR {PENDING}) ORDER BY id"
    ))?;
    Ok(stmt
        .query_map([first, last], key_from_row)?
        .collect::<Result<Vec<_>, _>>()?)
}

/// Records why the core refused each row (or clears it with `None`), for rows still in the
/// state the refusal was about.
pub fn set_apply_errors(
    conn: &Connection,
    errors: &[(CoreRow, Option<String>)],
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE keys SET apply_error = ?1 WHERE id = ?2 AND state = ?3 AND uuid = ?4",
    )?;
    for (row, error) in errors {
        stmt.execute(params![
            error,
            row.id,
            row.state.as_str(),
            row.uuid.to_string()
        ])?;
    }
    Ok(())
}

/// Keys whose last change the core refused.
pub fn refused_count(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM keys WHERE apply_error IS NOT NULL AND {PENDING}"
        ))?
        .query_row([], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// Keys by id, for answering after the applier ran. A contiguous run of ids (a bulk
/// create) is one range scan instead of one lookup per key.
pub fn by_ids(conn: &Connection, ids: &[i64]) -> Result<Vec<Key>, StoreError> {
    let contiguous = ids.windows(2).all(|w| w[1] == w[0] + 1);
    if let (true, Some(first), Some(last)) = (contiguous && ids.len() > 1, ids.first(), ids.last())
    {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM keys WHERE id BETWEEN ?1 AND ?2 ORDER BY id"
        ))?;
        return Ok(stmt
            .query_map([first, last], key_from_row)?
            .collect::<Result<Vec<_>, _>>()?);
    }
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM keys WHERE id = ?1"))?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(key) = stmt.query_row([id], key_from_row).optional()? {
            out.push(key);
        }
    }
    Ok(out)
}

/// Inserts an adopted client as an active key with its existing UUID and a unique name
/// derived from `name` (`name`, `name-2`, …). Returns `None` when the UUID is already a key.
pub fn adopt(conn: &Connection, name: &str, uuid: &Uuid) -> Result<Option<Key>, StoreError> {
    if find(conn, &KeyRef::Uuid(*uuid))?.is_some() {
        return Ok(None);
    }
    let at = now();
    for n in 1..=1000 {
        let candidate = if n == 1 {
            name.to_owned()
        } else {
            format!("{name}-{n}")
        };
        let Ok(candidate) = validate::name(&candidate) else {
            continue;
        };
        let fold = validate::name_fold(&candidate);
        if name_taken(conn, &fold, None)?.is_some() {
            continue;
        }
        conn.prepare_cached(
            "INSERT INTO keys (uuid, name, name_fold, note, created_at, updated_at, state)
             VALUES (?1, ?2, ?3, 'adopted from the core config', ?4, ?4, 'active')",
        )?
        .execute(params![uuid.to_string(), candidate, fold, at])?;
        return Ok(Some(get(conn, &KeyRef::Id(conn.last_insert_rowid()))?));
    }
    Err(conflict(format!(
        "no free name for adopted client '{name}'"
    )))
}

/// One-time facts (`meta` table).
pub fn meta_get(conn: &Connection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

pub fn meta_set(conn: &Connection, name: &str, value: &str) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = ?2")?
        .execute(params![name, value])?;
    Ok(())
}

/// Forgets what the core has for these keys, so the applier applies them again (drift repair).
pub fn mark_unapplied(conn: &Connection, ids: &[i64]) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare_cached("UPDATE keys SET applied = NULL, applied_uuid = NULL WHERE id = ?1")?;
    for id in ids {
        stmt.execute([id])?;
    }
    Ok(())
}

/// What Veil owns in the core's client list: every key id and every key UUID (any state).
/// A client with an owned email or an owned UUID is Veil's to rewrite (an adopted client
/// still listed under its old email included); anything else is left in place.
pub struct Owned {
    pub ids: std::collections::HashSet<i64>,
    pub uuids: std::collections::HashSet<String>,
}

pub fn owned(conn: &Connection) -> Result<Owned, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, uuid FROM keys")?;
    let mut owned = Owned {
        ids: Default::default(),
        uuids: Default::default(),
    };
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (id, uuid) = row?;
        owned.ids.insert(id);
        owned.uuids.insert(uuid);
    }
    Ok(owned)
}
