//! Traffic across the fleet. Each node counts its own core exactly as a single server
//! does; the local `traffic` totals of a key are the fleet's: this node's bytes plus the
//! others' as last read from the registry (`fleet_traffic`). Limits, usage, webhooks and
//! every reader therefore see the sum without knowing about the fleet.
//!
//! Each node writes its own share as absolute figures (`node_traffic`, one row per node
//! and key, only this node may write its rows): writing them again after a crash or an
//! outage never counts twice.

use postgres::Transaction;
use rusqlite::{Connection, OptionalExtension, params};

use super::fail::Fail;
use crate::store::StoreError;
use crate::traffic::limits::{self, Scope};

/// What one exchange did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Exchanged {
    /// Keys whose own figures were written.
    pub sent: usize,
    /// Keys whose total moved because another node's did.
    pub folded: usize,
    /// Keys the fleet's sum put over their limit (disabled here, then everywhere).
    pub enforced: usize,
}

/// This node's share of each key: its totals less the others' part.
const OWN: &str = "SELECT t.key_id,
        max(t.uplink - coalesce(f.uplink, 0), 0), max(t.downlink - coalesce(f.downlink, 0), 0)
   FROM traffic t LEFT JOIN fleet_traffic f ON f.key_id = t.key_id
   LEFT JOIN fleet_traffic_sent s ON s.key_id = t.key_id
  WHERE s.key_id IS NULL
     OR s.uplink <> max(t.uplink - coalesce(f.uplink, 0), 0)
     OR s.downlink <> max(t.downlink - coalesce(f.downlink, 0), 0)";

pub(super) fn exchange(
    tx: &mut Transaction<'_>,
    conn: &Connection,
    node: &str,
) -> Result<Exchanged, Fail> {
    let sent = send(tx, conn, node)?;
    let folded = fold(tx, conn, node)?;
    // The sum moved without this node's core moving: its limits are checked here, as the
    // poller checks the keys that moved in its cycle. A key disabled here goes to the
    // registry with the next sync, and from there to every node.
    let ids = serde_json::to_string(&folded)
        .map_err(|e| Fail::Store(StoreError::Sqlite(e.to_string())))?;
    let enforced = limits::enforce(conn, crate::store::now(), Scope::Moved(&ids))?;
    limits::audit_enforced(conn, &enforced)?;
    Ok(Exchanged {
        sent,
        folded: folded.len(),
        enforced: enforced.len(),
    })
}

/// Writes this node's figures of the keys that moved since the last exchange.
fn send(tx: &mut Transaction<'_>, conn: &Connection, node: &str) -> Result<usize, Fail> {
    let own = conn
        .prepare_cached(OWN)?
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    if own.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = own.iter().map(|r| r.0).collect();
    let up: Vec<i64> = own.iter().map(|r| r.1).collect();
    let down: Vec<i64> = own.iter().map(|r| r.2).collect();
    tx.execute(
        "INSERT INTO node_traffic (node, key_id, uplink, downlink)
         SELECT $1, k, u, d FROM unnest($2::int8[], $3::int8[], $4::int8[]) AS x(k, u, d)
         ON CONFLICT (node, key_id) DO UPDATE SET
             uplink = EXCLUDED.uplink, downlink = EXCLUDED.downlink, updated_at = now()",
        &[&node, &ids, &up, &down],
    )?;
    let mut mark = conn.prepare_cached(
        "INSERT INTO fleet_traffic_sent (key_id, uplink, downlink) VALUES (?1, ?2, ?3)
         ON CONFLICT (key_id) DO UPDATE SET uplink = excluded.uplink, downlink = excluded.downlink",
    )?;
    for (id, u, d) in &own {
        mark.execute(params![id, u, d])?;
    }
    Ok(own.len())
}

/// Reads the other nodes' figures and moves each key's total by what changed in them.
/// Returns the keys whose total moved.
fn fold(tx: &mut Transaction<'_>, conn: &Connection, node: &str) -> Result<Vec<i64>, Fail> {
    let others = tx.query(
        "SELECT key_id, sum(uplink)::int8, sum(downlink)::int8 FROM node_traffic
          WHERE node <> $1 GROUP BY key_id",
        &[&node],
    )?;
    let mut before =
        conn.prepare_cached("SELECT uplink, downlink FROM fleet_traffic WHERE key_id = ?1")?;
    let mut has_key = conn.prepare_cached("SELECT 1 FROM keys WHERE id = ?1")?;
    let mut total = conn.prepare_cached(
        "UPDATE traffic SET uplink = max(uplink + ?2, 0), downlink = max(downlink + ?3, 0)
          WHERE key_id = ?1",
    )?;
    let mut remember = conn.prepare_cached(
        "INSERT INTO fleet_traffic (key_id, uplink, downlink) VALUES (?1, ?2, ?3)
         ON CONFLICT (key_id) DO UPDATE SET uplink = excluded.uplink, downlink = excluded.downlink",
    )?;
    let mut folded = Vec::new();
    for row in &others {
        let (id, up, down): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        let (old_up, old_down) = before
            .query_row([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .optional()?
            .unwrap_or((0, 0));
        if (old_up, old_down) == (up, down) {
            continue;
        }
        // A key this copy does not have yet: its figures wait for the key.
        if has_key.query_row([id], |_| Ok(())).optional()?.is_none() {
            continue;
        }
        crate::traffic::limits::ensure_row(conn, id)?;
        total.execute(params![id, up - old_up, down - old_down])?;
        remember.execute(params![id, up, down])?;
        folded.push(id);
    }
    Ok(folded)
}
