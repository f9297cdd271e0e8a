//! The registry as the database writer sees it: one synchronous PostgreSQL connection,
//! used only from inside write jobs (so a key change, its catch-up and its registry write
//! are one step on one thread), reconnected on demand.

use std::sync::{Arc, Mutex, MutexGuard};

use postgres::{Client, Transaction};
use rusqlite::Connection;
use tokio_postgres_rustls::MakeRustlsConnect;
use veil_shared::api::KeyAction;
use veil_shared::model::Key;

use super::admin::SCHEMA_VERSION;
pub use super::fail::Depth;
use super::fail::Fail;
use super::mirror;
use super::nodes;
use super::pg::{describe, link_failed};
use super::traffic;

/// The registry's one advisory lock: every key change of the fleet holds it for the
/// length of one transaction, so versions commit in order and a node's catch-up before a
/// change sees every earlier change.
const LOCK_KEY: i64 = 0x7665_696c; // "veil"
use crate::config::fleet::FleetConfig;
use crate::error::ErrorKind;
use crate::store::StoreError;

/// The link to the registry as `health` and the dashboard show it.
pub use veil_shared::fleet::FleetHealth as LinkReport;

pub struct Registry {
    config: FleetConfig,
    tls: MakeRustlsConnect,
    client: Mutex<Option<Client>>,
    report: Mutex<LinkReport>,
}

impl Registry {
    pub fn new(config: FleetConfig) -> Result<Arc<Self>, String> {
        let tls = super::tls::connector(config.ca_file.as_deref())?;
        let report = LinkReport {
            node: config.node.clone(),
            ..LinkReport::default()
        };
        Ok(Arc::new(Self {
            config,
            tls,
            client: Mutex::new(None),
            report: Mutex::new(report),
        }))
    }

    pub fn config(&self) -> &FleetConfig {
        &self.config
    }

    pub fn node(&self) -> &str {
        &self.config.node
    }

    pub(super) fn tls(&self) -> MakeRustlsConnect {
        self.tls.clone()
    }

    /// The connection settings every connection of this node uses.
    pub(super) fn pg_config(&self) -> Result<tokio_postgres::Config, String> {
        let mut cfg: tokio_postgres::Config = self
            .config
            .database
            .expose()
            .parse()
            .map_err(|e| format!("fleet.database: {e}"))?;
        let timeout = self.config.timeout();
        cfg.connect_timeout(timeout)
            .tcp_user_timeout(timeout)
            .keepalives(true)
            .keepalives_idle(std::time::Duration::from_secs(15))
            .application_name(format!("veild {}", self.config.node))
            .options(format!(
                "-c statement_timeout={ms} -c lock_timeout={ms}",
                ms = self.config.timeout_ms
            ));
        Ok(cfg)
    }

    pub fn report(&self) -> LinkReport {
        lock(&self.report).clone()
    }

    /// Records the outcome of a use of the registry.
    pub(super) fn mark(&self, outcome: Result<(), String>) {
        let mut report = lock(&self.report);
        let now = crate::store::now();
        let up = outcome.is_ok();
        if report.up != up || report.since.is_none() {
            report.since = Some(now);
            match &outcome {
                Ok(()) => tracing::info!(node = %report.node, "the fleet registry is reachable"),
                Err(e) => {
                    tracing::warn!(node = %report.node, error = %e, "the fleet registry is unreachable");
                }
            }
        }
        report.up = up;
        match outcome {
            Ok(()) => report.last_sync = Some(now),
            Err(e) => report.last_error = Some(e),
        }
    }

    fn count(&self, pulled: usize, pushed: usize) {
        let mut report = lock(&self.report);
        report.pulled += pulled as u64;
        report.pushed += pushed as u64;
    }

    /// The writer's connection, made now if there is none. Refused at once while the
    /// background task knows the registry is down (a connect attempt could hold the
    /// writer for `fleet.timeout_ms`); it brings the link back.
    fn connected(&self) -> Result<MutexGuard<'_, Option<Client>>, String> {
        let mut slot = lock(&self.client);
        if slot.is_none() {
            let report = self.report();
            if !report.up && report.since.is_some() {
                return Err(report
                    .last_error
                    .unwrap_or_else(|| "not connected".to_owned()));
            }
            let cfg = self.pg_config()?;
            let client = postgres::Config::from(cfg)
                .connect(self.tls.clone())
                .map_err(|e| describe(&e))?;
            *slot = Some(client);
        }
        Ok(slot)
    }

    /// Runs `step` in one registry transaction holding the fleet's lock. A connection
    /// found dead before anything ran is replaced once; a failure of the link drops the
    /// connection (the next use makes a new one) and marks the link.
    fn transact<T>(
        &self,
        step: impl FnOnce(&mut Transaction<'_>) -> Result<T, Fail>,
    ) -> Result<T, Fail> {
        let mut step = Some(step);
        for attempt in 0..2 {
            let mut slot = self.connected().map_err(|e| {
                self.mark(Err(e.clone()));
                Fail::Store(StoreError::rejected(
                    ErrorKind::RegistryUnavailable,
                    refusal(&e),
                ))
            })?;
            let Some(client) = slot.as_mut() else {
                return Err(Fail::Store(StoreError::Closed));
            };
            match run_step(client, &mut step) {
                Ran::NotBegun(e) if link_failed(&e) => {
                    *slot = None;
                    if attempt == 0 {
                        continue;
                    }
                    self.mark(Err(describe(&e)));
                    return Err(Fail::Pg(e));
                }
                Ran::NotBegun(e) => return Err(Fail::Pg(e)),
                Ran::Done(result) => {
                    if let Err(Fail::Pg(e)) = &result
                        && link_failed(e)
                    {
                        *slot = None;
                        self.mark(Err(describe(e)));
                    }
                    return result;
                }
            }
        }
        Err(Fail::Store(StoreError::Closed))
    }

    /// A key change of this node, made against an up-to-date copy and written to the
    /// registry before the local commit: catch up, change, write, commit the registry.
    pub fn around<T>(
        &self,
        conn: &Connection,
        change: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let node = self.config.node.clone();
        let outcome = self.transact(|tx| {
            let mut pushed = mirror::push(tx, conn, &node)?;
            let pulled = mirror::pull(tx, conn, Depth::Changes)?;
            let value = change(conn).map_err(Fail::Change)?;
            pushed += mirror::push(tx, conn, &node)?;
            Ok((value, pulled.len(), pushed))
        });
        match outcome {
            Ok((value, pulled, pushed)) => {
                self.count(pulled, pushed);
                Ok(value)
            }
            Err(fail) => Err(self.to_store_error(fail)),
        }
    }

    /// Writes what this node changed on its own (enforcement while the registry was away),
    /// then takes what changed elsewhere. Returns the keys it changed here.
    pub fn sync(
        &self,
        conn: &Connection,
        depth: Depth,
    ) -> Result<Vec<(KeyAction, Key)>, StoreError> {
        let node = self.config.node.clone();
        let outcome = self.transact(|tx| {
            let pushed = mirror::push(tx, conn, &node)?;
            let pulled = mirror::pull(tx, conn, depth)?;
            Ok((pulled, pushed))
        });
        match outcome {
            Ok((pulled, pushed)) => {
                self.count(pulled.len(), pushed);
                self.mark(Ok(()));
                Ok(mirror::events(conn, pulled)?)
            }
            Err(fail) => Err(self.to_store_error(fail)),
        }
    }

    /// This node's traffic out, the others' in, its beat (health, its server, the time)
    /// and every node's row back.
    pub fn exchange_traffic(
        &self,
        conn: &Connection,
        heartbeat: &serde_json::Value,
        server: Option<&serde_json::Value>,
    ) -> Result<traffic::Exchanged, StoreError> {
        let node = self.config.node.clone();
        let counts = crate::store::keys::counts(conn)?;
        let mut heartbeat = heartbeat.clone();
        heartbeat["keys"] = serde_json::json!({
            "active": counts.active,
            "disabled": counts.disabled,
            "pending": crate::store::keys::pending_count(conn)?,
        });
        self.transact(|tx| {
            let done = traffic::exchange(tx, conn, &node)?;
            nodes::publish(tx, &node, &heartbeat, server)?;
            nodes::pull(tx, conn)?;
            Ok(done)
        })
        .map_err(|fail| self.to_store_error(fail))
    }

    /// Drains `node` (or, `undo`, puts it back) for the whole fleet.
    pub fn drain(
        &self,
        conn: &Connection,
        node: &str,
        by: &str,
        undo: bool,
    ) -> Result<(), StoreError> {
        self.transact(|tx| nodes::drain(tx, conn, node, by, undo))
            .map_err(|fail| self.to_store_error(fail))
    }

    /// First contact of this database with the registry: checks who this node is, and
    /// brings the local copy in (or, for the fleet's first node, the local keys out).
    pub fn join(&self, conn: &Connection) -> Result<(), StoreError> {
        let node = self.config.node.clone();
        self.transact(|tx| {
            check_identity(tx, &node)?;
            mirror::join(tx, conn, &node)?;
            mirror::push(tx, conn, &node)?;
            mirror::pull(tx, conn, Depth::Full)?;
            Ok(())
        })
        .map_err(|fail| self.to_store_error(fail))?;
        self.mark(Ok(()));
        Ok(())
    }

    fn to_store_error(&self, fail: Fail) -> StoreError {
        match fail {
            Fail::Change(e) | Fail::Store(e) => e,
            Fail::Pg(e) => match e.as_db_error() {
                Some(db) if db.code() == &postgres::error::SqlState::UNIQUE_VIOLATION => {
                    StoreError::rejected(
                        ErrorKind::Conflict,
                        format!(
                            "another node made a clashing change at the same moment ({}); try again",
                            db.message()
                        ),
                    )
                }
                _ if link_failed(&e) => {
                    StoreError::rejected(ErrorKind::RegistryUnavailable, refusal(&describe(&e)))
                }
                Some(db) => {
                    StoreError::Sqlite(format!("the fleet registry refused: {}", db.message()))
                }
                None => StoreError::Sqlite(format!("the fleet registry: {}", describe(&e))),
            },
        }
    }
}

/// The answer to a change refused because the registry is away.
fn refusal(cause: &str) -> String {
    format!(
        "the fleet registry is unreachable ({cause}); key changes are refused until it \
         returns, every key keeps working on every node"
    )
}

/// How a step went: the transaction could not begin (nothing ran), or it ran.
enum Ran<T> {
    NotBegun(postgres::Error),
    Done(Result<T, Fail>),
}

/// Begins the transaction, takes the fleet's lock, runs the step (taken out of `step`
/// only once the transaction has begun) and commits.
fn run_step<T, F>(client: &mut Client, step: &mut Option<F>) -> Ran<T>
where
    F: FnOnce(&mut Transaction<'_>) -> Result<T, Fail>,
{
    let begun = client.transaction().and_then(|mut tx| {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
        Ok(tx)
    });
    let mut tx = match begun {
        Ok(tx) => tx,
        Err(e) => return Ran::NotBegun(e),
    };
    let Some(step) = step.take() else {
        return Ran::Done(Err(Fail::Store(StoreError::Closed)));
    };
    Ran::Done(step(&mut tx).and_then(|value| {
        tx.commit()?;
        Ok(value)
    }))
}

/// The registry's schema is the one this build knows, and the role this node logs in as
/// is the one registered for its name.
fn check_identity(tx: &mut Transaction<'_>, node: &str) -> Result<(), Fail> {
    let version: Option<i64> = tx
        .query_opt("SELECT max(version) FROM fleet_migrations", &[])?
        .and_then(|row| row.get(0));
    if version != Some(SCHEMA_VERSION) {
        return Err(Fail::Store(StoreError::Schema(format!(
            "the registry's schema is version {}, this veild needs {SCHEMA_VERSION}: run `veild fleet init` with this veild",
            version.map_or_else(|| "none".to_owned(), |v| v.to_string())
        ))));
    }
    let registered: Option<String> = tx
        .query_opt(
            "SELECT name FROM fleet_nodes WHERE role = current_user",
            &[],
        )?
        .map(|row| row.get(0));
    match registered {
        Some(name) if name == node => Ok(()),
        Some(name) => Err(Fail::Store(StoreError::Schema(format!(
            "this role is registered for node {name:?}, not {node:?} (fleet.node)"
        )))),
        None => Err(Fail::Store(StoreError::Schema(format!(
            "this role is no registered node; run `veild fleet add-node {node}` as the registry's owner"
        )))),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
