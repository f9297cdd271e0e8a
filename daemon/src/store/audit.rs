//! The audit trail: one row per mutation attempt, with who asked (a socket peer, an API
//! token, or veild itself).

use rusqlite::{Connection, Row, params};
use veil_shared::api::{Actor, AuditEntry, DaemonTask};

use super::{StoreError, now};

pub struct Record<'a> {
    pub actor: &'a Actor,
    pub method: &'a str,
    pub key_id: Option<i64>,
    pub key_ref: Option<&'a str>,
    pub outcome: &'a str,
    pub detail: Option<&'a str>,
}

pub fn insert(conn: &Connection, r: &Record<'_>) -> Result<(), StoreError> {
    let (kind, uid, gid, pid, token, remote, task) = match r.actor {
        Actor::Peer { uid, gid, pid } => ("peer", Some(*uid), Some(*gid), *pid, None, None, None),
        Actor::Token { name, remote } => (
            "token",
            None,
            None,
            None,
            Some(name.as_str()),
            Some(remote.as_str()),
            None,
        ),
        Actor::Daemon { task } => ("daemon", None, None, None, None, None, Some(task.as_str())),
    };
    conn.prepare_cached(
        "INSERT INTO audit (time, actor, uid, gid, pid, token, remote, task, method, key_id,
                            key_ref, outcome, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        now(),
        kind,
        uid,
        gid,
        pid,
        token,
        remote,
        task,
        r.method,
        r.key_id,
        r.key_ref,
        r.outcome,
        r.detail
    ])?;
    Ok(())
}

fn actor_from_row(row: &Row<'_>) -> rusqlite::Result<Actor> {
    let kind: String = row.get(2)?;
    let bad = |what: String| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, what.into())
    };
    Ok(match kind.as_str() {
        "peer" => Actor::Peer {
            uid: row.get(3)?,
            gid: row.get::<_, Option<u32>>(4)?.unwrap_or(u32::MAX),
            pid: row.get(5)?,
        },
        "token" => Actor::Token {
            name: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
            remote: row.get::<_, Option<String>>(7)?.unwrap_or_default(),
        },
        "daemon" => {
            let task: Option<String> = row.get(8)?;
            let task = task.as_deref().and_then(DaemonTask::parse);
            Actor::Daemon {
                task: task.ok_or_else(|| bad("an unknown daemon task".into()))?,
            }
        }
        other => return Err(bad(format!("an unknown actor kind '{other}'"))),
    })
}

/// Newest first. With `key_id`, only that key's entries.
pub fn list(
    conn: &Connection,
    key_id: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, time, actor, uid, gid, pid, token, remote, task, method, key_id, key_ref,
                outcome, detail
         FROM audit WHERE ?1 IS NULL OR key_id = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![key_id, limit], |r| {
        Ok(AuditEntry {
            id: r.get(0)?,
            time: r.get(1)?,
            actor: actor_from_row(r)?,
            uid: r.get(3)?,
            pid: r.get(5)?,
            method: r.get(9)?,
            key_id: r.get(10)?,
            key_ref: r.get(11)?,
            outcome: r.get(12)?,
            detail: r.get(13)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
