//! API tokens (`api_tokens`, migration 7): a name, the SHA-256 digest of the secret (hex),
//! read-only or not, and its times. Secrets never reach the database.

use rusqlite::{Connection, OptionalExtension, Row, params};
use veil_shared::api::TokenInfo;

use super::{StoreError, now};
use crate::error::ErrorKind;

/// A token row with its digest, for authentication only.
pub struct Stored {
    pub info: TokenInfo,
    /// Lower-case hex of SHA-256 of the secret.
    pub hash: String,
}

const COLUMNS: &str = "name, read_only, created_at, expires_at, revoked_at, last_used_at, hash";

fn stored(row: &Row<'_>) -> rusqlite::Result<Stored> {
    Ok(Stored {
        info: TokenInfo {
            name: row.get(0)?,
            read_only: row.get(1)?,
            created_at: row.get(2)?,
            expires_at: row.get(3)?,
            revoked_at: row.get(4)?,
            last_used_at: row.get(5)?,
        },
        hash: row.get(6)?,
    })
}

/// Adds a token; a name already taken (revoked tokens keep theirs) is a conflict.
pub fn insert(
    conn: &Connection,
    name: &str,
    hash: &str,
    read_only: bool,
    expires_at: Option<i64>,
) -> Result<TokenInfo, StoreError> {
    let taken: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM api_tokens WHERE name = ?1)")?
        .query_row([name], |r| r.get(0))?;
    if taken {
        return Err(StoreError::rejected(
            ErrorKind::Conflict,
            format!("a token named '{name}' exists already (revoked tokens keep their name)"),
        ));
    }
    let created_at = now();
    conn.prepare_cached(
        "INSERT INTO api_tokens (name, hash, read_only, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![name, hash, read_only, created_at, expires_at])?;
    Ok(TokenInfo {
        name: name.to_owned(),
        read_only,
        created_at,
        expires_at,
        revoked_at: None,
        last_used_at: None,
    })
}

/// Every token by name, digests left out.
pub fn list(conn: &Connection) -> Result<Vec<TokenInfo>, StoreError> {
    let rows = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY name"))?
        .query_map([], stored)?
        .map(|r| r.map(|s| s.info))
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Every token that may still authenticate (not revoked), digests included.
pub fn usable(conn: &Connection) -> Result<Vec<Stored>, StoreError> {
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE revoked_at IS NULL ORDER BY id"
        ))?
        .query_map([], stored)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Revokes a token by name; an unknown name is not found, a revoked one a conflict.
pub fn revoke(conn: &Connection, name: &str) -> Result<TokenInfo, StoreError> {
    let found = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM api_tokens WHERE name = ?1"))?
        .query_row([name], stored)
        .optional()?;
    let Some(mut token) = found else {
        return Err(StoreError::rejected(
            ErrorKind::NotFound,
            format!("no token named '{name}'"),
        ));
    };
    if token.info.revoked_at.is_some() {
        return Err(StoreError::rejected(
            ErrorKind::Conflict,
            format!("the token '{name}' is revoked already"),
        ));
    }
    let at = now();
    conn.prepare_cached("UPDATE api_tokens SET revoked_at = ?1 WHERE name = ?2")?
        .execute(params![at, name])?;
    token.info.revoked_at = Some(at);
    Ok(token.info)
}

/// Notes that a token authenticated a request at `at`.
pub fn touch(conn: &Connection, name: &str, at: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE api_tokens SET last_used_at = ?1 WHERE name = ?2")?
        .execute(params![at, name])?;
    Ok(())
}
