//! The audit trail: one row per mutation attempt, with the peer's credentials.

use rusqlite::{Connection, params};
use veil_shared::api::{Actor, AuditEntry};

use super::{StoreError, now};

pub struct Record<'a> {
    pub actor: Actor,
    pub method: &'a str,
    pub key_id: Option<i64>,
    pub key_ref: Option<&'a str>,
    pub outcome: &'a str,
    pub detail: Option<&'a str>,
}

pub fn insert(conn: &Connection, r: &Record<'_>) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit (time, uid, gid, pid, method, key_id, key_ref, outcome, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        now(),
        r.actor.uid,
        r.actor.gid,
        r.actor.pid,
        r.method,
        r.key_id,
        r.key_ref,
        r.outcome,
        r.detail
    ])?;
    Ok(())
}

/// Newest first. With `key_id`, only that key's entries.
pub fn list(
    conn: &Connection,
    key_id: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, time, uid, pid, method, key_id, key_ref, outcome, detail FROM audit
         WHERE ?1 IS NULL OR key_id = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![key_id, limit], |r| {
        Ok(AuditEntry {
            id: r.get(0)?,
            time: r.get(1)?,
            uid: r.get(2)?,
            pid: r.get(3)?,
            method: r.get(4)?,
            key_id: r.get(5)?,
            key_ref: r.get(6)?,
            outcome: r.get(7)?,
            detail: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
