//! The fleet's nodes: each node publishes its health and the server its keys dial (host
//! and endpoint, never a private key) with every beat, and keeps a local copy of every
//! node's row for `node.list`, the dashboard and subscriptions, also while the registry
//! is away. Draining is the fleet's decision (any node may drain any node); the rest of a
//! node's row only the node itself may write (row-level security).

use postgres::Transaction;
use rusqlite::{Connection, params};
use veil_shared::fleet::NodeInfo;
use veil_shared::subscription::Server;

use super::fail::Fail;
use crate::error::ErrorKind;
use crate::store::StoreError;

/// Writes this node's beat: health, its server (when known) and the time.
pub(super) fn publish(
    tx: &mut Transaction<'_>,
    node: &str,
    health: &serde_json::Value,
    server: Option<&serde_json::Value>,
) -> Result<(), Fail> {
    let server = server.map(ToString::to_string);
    tx.execute(
        "UPDATE fleet_nodes SET health = $2::text::jsonb,
                server = coalesce($3::text::jsonb, server), last_seen = now()
          WHERE name = $1",
        &[&node, &health.to_string(), &server],
    )?;
    Ok(())
}

/// Replaces the local copy of every node's row.
pub(super) fn pull(tx: &mut Transaction<'_>, conn: &Connection) -> Result<usize, Fail> {
    let rows = tx.query(
        "SELECT n.name, d.node IS NOT NULL, extract(epoch FROM n.last_seen)::int8,
                n.health::text, n.server::text,
                coalesce(t.up, 0)::int8, coalesce(t.down, 0)::int8
           FROM fleet_nodes n
           LEFT JOIN node_drain d ON d.node = n.name
           LEFT JOIN (SELECT node, sum(uplink) AS up, sum(downlink) AS down
                        FROM node_traffic GROUP BY node) t ON t.node = n.name",
        &[],
    )?;
    conn.prepare_cached("DELETE FROM fleet_nodes")?
        .execute([])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO fleet_nodes (name, draining, last_seen, health, server, uplink, downlink)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for row in &rows {
        insert.execute(params![
            row.get::<_, String>(0),
            row.get::<_, bool>(1),
            row.get::<_, Option<i64>>(2),
            row.get::<_, Option<String>>(3),
            row.get::<_, Option<String>>(4),
            row.get::<_, i64>(5),
            row.get::<_, i64>(6),
        ])?;
    }
    Ok(rows.len())
}

/// Drains `node` (or, `undo`, restores it), as `by`.
pub(super) fn drain(
    tx: &mut Transaction<'_>,
    conn: &Connection,
    node: &str,
    by: &str,
    undo: bool,
) -> Result<(), Fail> {
    let known = tx
        .query_opt("SELECT 1 FROM fleet_nodes WHERE name = $1", &[&node])?
        .is_some();
    if !known {
        return Err(Fail::Change(StoreError::rejected(
            ErrorKind::NotFound,
            format!("no node {node:?} in the fleet (`veil node list` lists them)"),
        )));
    }
    if undo {
        tx.execute("DELETE FROM node_drain WHERE node = $1", &[&node])?;
    } else {
        tx.execute(
            "INSERT INTO node_drain (node, drained_at, drained_by) VALUES ($1, $2, $3)
             ON CONFLICT (node) DO NOTHING",
            &[&node, &crate::store::now(), &by],
        )?;
    }
    pull(tx, conn)?;
    Ok(())
}

/// Every node as last read, by name.
pub fn list(conn: &Connection) -> Result<Vec<NodeInfo>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, draining, last_seen, health, server, uplink, downlink
           FROM fleet_nodes ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| {
        let health: Option<String> = r.get(3)?;
        let server: Option<String> = r.get(4)?;
        let health: serde_json::Value = health
            .and_then(|h| serde_json::from_str(&h).ok())
            .unwrap_or_default();
        let host = server
            .and_then(|s| serde_json::from_str::<Server>(&s).ok())
            .map(|s| s.host);
        Ok(NodeInfo {
            name: r.get(0)?,
            draining: r.get(1)?,
            last_seen: r.get(2)?,
            core: health["core"].as_str().map(ToOwned::to_owned),
            keys_active: health["keys"]["active"].as_u64(),
            keys_pending: health["keys"]["pending"].as_u64(),
            veild: health["veild"].as_str().map(ToOwned::to_owned),
            host,
            uplink: r.get::<_, i64>(5)?.max(0) as u64,
            downlink: r.get::<_, i64>(6)?.max(0) as u64,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The servers a fleet key's subscription dials: every node not drained that published
/// its server, each labelled with its name.
pub fn servers(conn: &Connection) -> Result<Vec<Server>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, server FROM fleet_nodes
          WHERE draining = 0 AND server IS NOT NULL ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (name, server) = row?;
        match serde_json::from_str::<Server>(&server) {
            Ok(mut server) => {
                server.label = Some(name);
                out.push(server);
            }
            Err(e) => {
                tracing::warn!(node = %name, error = %e, "a node's published server does not read; left out");
            }
        }
    }
    Ok(out)
}
