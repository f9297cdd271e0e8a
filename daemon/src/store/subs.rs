//! Subscription tokens in the database: per key a generation, the SHA-256 of the live
//! token, and when it was revoked. The token itself is never stored (the service derives
//! it from a server secret, the key id and the generation).

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, now};

/// A key's subscription row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubRow {
    pub key_id: i64,
    pub generation: i64,
    /// SHA-256 of the live token; `None` once revoked.
    pub token_hash: Option<Vec<u8>>,
    pub created_at: i64,
    /// Set when revoked; a revoked row has no token hash.
    pub revoked_at: Option<i64>,
}

impl SubRow {
    pub fn live(&self) -> bool {
        self.revoked_at.is_none()
    }
}

pub fn get(conn: &Connection, key_id: i64) -> Result<Option<SubRow>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT key_id, generation, token_hash, created_at, revoked_at FROM subscriptions
             WHERE key_id = ?1",
        )?
        .query_row([key_id], |r| {
            Ok(SubRow {
                key_id: r.get(0)?,
                generation: r.get(1)?,
                token_hash: r.get(2)?,
                created_at: r.get(3)?,
                revoked_at: r.get(4)?,
            })
        })
        .optional()?)
}

/// Makes the key's live token the one of `generation`, whose SHA-256 is `hash`.
pub fn set_live(
    conn: &Connection,
    key_id: i64,
    generation: i64,
    hash: &[u8],
) -> Result<SubRow, StoreError> {
    let at = now();
    conn.prepare_cached(
        "INSERT INTO subscriptions (key_id, generation, token_hash, created_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, NULL)
         ON CONFLICT (key_id) DO UPDATE SET generation = excluded.generation,
             token_hash = excluded.token_hash, created_at = excluded.created_at,
             revoked_at = NULL",
    )?
    .execute(params![key_id, generation, hash, at])?;
    Ok(SubRow {
        key_id,
        generation,
        token_hash: Some(hash.to_vec()),
        created_at: at,
        revoked_at: None,
    })
}

/// Revokes the key's token (its generation stays, so the next token is a new one).
/// Whether there was a live token.
pub fn revoke(conn: &Connection, key_id: i64) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE subscriptions SET token_hash = NULL, revoked_at = ?2
             WHERE key_id = ?1 AND revoked_at IS NULL",
        )?
        .execute(params![key_id, now()])?;
    Ok(changed > 0)
}

/// The key whose live token hashes to `hash`.
pub fn lookup(conn: &Connection, hash: &[u8]) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT key_id FROM subscriptions WHERE token_hash = ?1 AND revoked_at IS NULL",
        )?
        .query_row([hash], |r| r.get(0))
        .optional()?)
}
