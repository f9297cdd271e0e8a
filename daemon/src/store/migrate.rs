//! Append-only schema migrations tracked in `PRAGMA user_version`.
//!
//! rusqlite_migration does not build with rusqlite 0.43 (it pins an older libsqlite3-sys),
//! so this is the small hand-rolled equivalent: migration N is applied when user_version is
//! below N, each in its own transaction together with the version bump.

use rusqlite::Connection;

use super::error::StoreError;

/// Every migration in order. Never edit or reorder a shipped entry; append.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_keys_and_audit",
        include_str!("../../migrations/0001_keys_and_audit.sql"),
    ),
    (
        "0002_applied_uuid_and_meta",
        include_str!("../../migrations/0002_applied_uuid_and_meta.sql"),
    ),
    (
        "0003_traffic",
        include_str!("../../migrations/0003_traffic.sql"),
    ),
    (
        "0004_audit_actors",
        include_str!("../../migrations/0004_audit_actors.sql"),
    ),
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

pub fn run(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if current > LATEST {
        return Err(StoreError::Schema(format!(
            "the database has schema version {current}, this veild knows only up to {LATEST}; \
             it was written by a newer veild"
        )));
    }
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Schema(format!("migration {name} failed: {e}")))?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(migration = name, version, "applied database migration");
    }
    Ok(())
}
