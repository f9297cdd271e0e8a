//! The config file's recorded lag: keys live in the core but not yet in its file (meta
//! rows), written with the marks that made them live, read at start.

use rusqlite::{Connection, params};

use super::StoreError;
use super::keys::meta_get;

/// The meta rows that record keys live in the core but not yet in its config file.
const FILE_BEHIND_SINCE: &str = "corefile_behind_since";
const FILE_BEHIND_KEYS: &str = "corefile_behind_keys";

/// Records that `n` more keys are live in the core but not yet in its config file (the
/// oldest such moment is kept), so a crash before the write is seen at the next start.
pub fn file_behind(conn: &Connection, n: u64, at: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
    )?
    .execute(params![FILE_BEHIND_SINCE, at.to_string()])?;
    conn.prepare_cached(
        "INSERT INTO meta (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = CAST(value AS INTEGER) + ?2",
    )?
    .execute(params![FILE_BEHIND_KEYS, n as i64])?;
    Ok(())
}

/// The config file lists every key the database has: nothing is behind any more.
pub fn file_caught_up(conn: &Connection) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM meta WHERE name IN (?1, ?2)")?
        .execute([FILE_BEHIND_SINCE, FILE_BEHIND_KEYS])?;
    Ok(())
}

/// Records the lag as it now is: `(since, keys)`, or nothing behind.
pub fn file_behind_set(conn: &Connection, record: Option<(i64, u64)>) -> Result<(), StoreError> {
    file_caught_up(conn)?;
    if let Some((since, n)) = record {
        file_behind(conn, n, since)?;
    }
    Ok(())
}

/// What [`file_behind`] recorded and no write has caught up with: `(since, keys)`.
pub fn file_behind_get(conn: &Connection) -> Result<Option<(i64, u64)>, StoreError> {
    let since = meta_get(conn, FILE_BEHIND_SINCE)?.and_then(|v| v.parse::<i64>().ok());
    let keys = meta_get(conn, FILE_BEHIND_KEYS)?
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(0, |n| n.max(0) as u64);
    Ok(since.map(|since| (since, keys)))
}
