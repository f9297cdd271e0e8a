//! A key's data limit, expiry and reset schedule, as `key.create` and `key.update` set
//! them, in the mutation's own transaction. A change that lifts the reason a key was
//! disabled for enables it at once; one that puts the key over its limit or past its
//! expiry disables it at once.

use rusqlite::{Connection, params};
use veil_shared::model::{KeyRef, KeyState};
use veil_shared::traffic::ResetSchedule;

use super::limits::{self, Enforced, Scope};
use crate::store::{StoreError, keys, now};

/// What a request asks to change; `None` leaves a setting as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeySettings {
    /// `Some(None)` clears the limit.
    pub data_limit: Option<Option<u64>>,
    /// `Some(None)` clears the expiry.
    pub expires_at: Option<Option<i64>>,
    pub reset: Option<ResetSchedule>,
}

impl KeySettings {
    pub fn is_empty(&self) -> bool {
        self.data_limit.is_none() && self.expires_at.is_none() && self.reset.is_none()
    }

    /// The settings a new key starts with (absent and null both mean "none").
    pub fn for_create(
        data_limit: Option<u64>,
        expires_at: Option<i64>,
        reset: Option<ResetSchedule>,
    ) -> Self {
        KeySettings {
            data_limit: data_limit.map(Some),
            expires_at: expires_at.map(Some),
            reset: reset.filter(|r| *r != ResetSchedule::None),
        }
    }
}

/// What [`apply`] did, for the audit detail.
#[derive(Debug, Default)]
pub struct Applied {
    pub changed: Vec<&'static str>,
    pub enforced: Vec<Enforced>,
}

impl Applied {
    /// e.g. `data_limit, enabled again` for the audit detail.
    pub fn describe(&self) -> Vec<String> {
        let mut out: Vec<String> = self.changed.iter().map(|s| (*s).to_owned()).collect();
        for e in &self.enforced {
            out.push(match (e.state, e.reason) {
                (KeyState::Active, _) => "enabled again".to_owned(),
                (_, Some(reason)) => format!("disabled ({reason})"),
                (state, None) => state.to_string(),
            });
        }
        out
    }
}

fn invalid(message: String) -> StoreError {
    StoreError::rejected(crate::error::ErrorKind::InvalidInput, message)
}

/// Applies `s` to key `key_id` (which must be live) and enforces its limit and expiry.
pub fn apply(conn: &Connection, key_id: i64, s: &KeySettings) -> Result<Applied, StoreError> {
    let mut applied = Applied::default();
    if s.is_empty() {
        return Ok(applied);
    }
    keys::get_live(conn, &KeyRef::Id(key_id))?;
    let at = now();
    limits::ensure_row(conn, key_id)?;
    if let Some(limit) = s.data_limit {
        let limit = match limit {
            Some(bytes) => Some(i64::try_from(bytes).map_err(|_| {
                invalid(format!(
                    "data_limit {bytes} is too large; the most is {}",
                    i64::MAX
                ))
            })?),
            None => None,
        };
        conn.prepare_cached("UPDATE keys SET data_limit = ?1, updated_at = ?2 WHERE id = ?3")?
            .execute(params![limit, at, key_id])?;
        applied.changed.push("data_limit");
    }
    if let Some(expires) = s.expires_at {
        if let Some(secs) = expires {
            veil_shared::validate::expires_at(secs).map_err(|e| invalid(e.to_string()))?;
        }
        conn.prepare_cached("UPDATE keys SET expires_at = ?1, updated_at = ?2 WHERE id = ?3")?
            .execute(params![expires, at, key_id])?;
        applied.changed.push("expires_at");
    }
    if let Some(schedule) = s.reset {
        conn.prepare_cached(
            "UPDATE traffic SET reset_period = ?1, reset_day = ?2, next_reset_at = ?3
             WHERE key_id = ?4",
        )?
        .execute(params![
            schedule.period(),
            schedule.day(),
            limits::next_reset(schedule, at),
            key_id
        ])?;
        conn.prepare_cached("UPDATE keys SET updated_at = ?1 WHERE id = ?2")?
            .execute(params![at, key_id])?;
        applied.changed.push("reset");
    }
    applied.enforced = limits::enforce(conn, at, Scope::One(key_id))?;
    Ok(applied)
}
