//! Append-only schema migrations tracked in `PRAGMA user_version`.
//!
//! rusqlite_migration does not build with rusqlite 0.43 (it pins an older libsqlite3-sys),
//! so this is the small hand-rolled equivalent: migration N is applied when user_version is
//! below N, each in its own transaction together with the version bump.

use rusqlite::Connection;

use super::error::StoreError;

/// One migration: SQL, or a Rust step for what SQL cannot compute (Unicode folding).
enum Step {
    Sql(&'static str),
    Rust(fn(&rusqlite::Transaction<'_>) -> Result<(), StoreError>),
}

use Step::{Rust, Sql};

/// Every migration in order. Never edit or reorder a shipped entry; append.
const MIGRATIONS: &[(&str, Step)] = &[
    (
        "0001_keys_and_audit",
        Sql(include_str!("../../migrations/0001_keys_and_audit.sql")),
    ),
    (
        "0002_applied_uuid_and_meta",
        Sql(include_str!(
            "../../migrations/0002_applied_uuid_and_meta.sql"
        )),
    ),
    (
        "0003_traffic",
        Sql(include_str!("../../migrations/0003_traffic.sql")),
    ),
    (
        "0004_audit_actors",
        Sql(include_str!("../../migrations/0004_audit_actors.sql")),
    ),
    ("0005_refold_names", Rust(refold_names)),
    (
        "0006_apply_error",
        Sql(include_str!("../../migrations/0006_apply_error.sql")),
    ),
    (
        "0007_api_tokens",
        Sql(include_str!("../../migrations/0007_api_tokens.sql")),
    ),
    (
        "0008_subscriptions",
        Sql(include_str!("../../migrations/0008_subscriptions.sql")),
    ),
    (
        "0009_webhooks",
        Sql(include_str!("../../migrations/0009_webhooks.sql")),
    ),
    (
        "0010_fleet",
        Sql(include_str!("../../migrations/0010_fleet.sql")),
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
    for (index, (name, step)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction()?;
        match step {
            Sql(sql) => tx
                .execute_batch(sql)
                .map_err(|e| StoreError::Schema(format!("migration {name} failed: {e}")))?,
            Rust(step) => step(&tx)
                .map_err(|e| StoreError::Schema(format!("migration {name} failed: {e}")))?,
        }
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(migration = name, version, "applied database migration");
    }
    Ok(())
}

/// Migration 5: names are compared in a new folded form (`validate::name_fold`: NFKC,
/// full case folding, NFKC). Every row's fold is recomputed. Two live keys whose names now
/// fold alike (`Straße` and `STRASSE`) both stay: the younger keeps its name but its fold
/// gets U+0001 and its id appended (a name cannot hold a control character, so no name
/// folds to that), so lookups by name find the older one; it stays reachable by id
/// and UUID, and a warning names it so the operator can rename it.
fn refold_names(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    let rows: Vec<(i64, String, bool)> = tx
        .prepare("SELECT id, name, state <> 'deleted' FROM keys ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    // First out of the way (unique placeholders), then the new folds: no transient clash.
    tx.execute("UPDATE keys SET name_fold = char(1) || id", [])?;
    let mut taken = std::collections::HashSet::new();
    let mut set = tx.prepare("UPDATE keys SET name_fold = ?1 WHERE id = ?2")?;
    for (id, name, live) in rows {
        let mut fold = veil_shared::validate::name_fold(&name);
        if live && !taken.insert(fold.clone()) {
            tracing::warn!(
                key_id = id,
                "key's name now equals an older key's name up to case or width; rename it \
                 (`veil key update {id} --name …`): until then its name finds the older key"
            );
            fold = format!("{fold}\u{1}{id}");
        }
        set.execute(rusqlite::params![fold, id])?;
    }
    Ok(())
}
