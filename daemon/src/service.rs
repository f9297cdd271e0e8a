//! The one service layer behind every front end (socket now, HTTP later): validates through
//! `veil-shared`, writes through the store, records the audit trail and publishes events.
//! Front ends convert wire requests into calls here and results back, nothing more.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;
use veil_shared::api::{
    Actor, AuditList, AuditPage, BULK_MAX, CoreHealth, DatabaseHealth, Event, Health, HelloParams,
    HelloResult, KeyAction, KeyBulk, KeyEvent, KeyList, KeyPage, Request,
};
use veil_shared::model::{DisableReason, Key, KeyRef, KeyState};
use veil_shared::rpc::{ErrorCode, RpcError};

use crate::applier::{ApplierHandle, Status};
use crate::config::Config;
use crate::store::{Store, StoreError, audit, keys};

/// How many events a slow watcher may fall behind before it is told it lagged.
pub const EVENT_BUFFER: usize = 4096;
/// Audit entries returned when the caller does not say.
const AUDIT_DEFAULT_LIMIT: u32 = 100;
const AUDIT_MAX_LIMIT: u32 = 10_000;

pub struct KeyService {
    store: Store,
    events: broadcast::Sender<Event>,
    config: Arc<Config>,
    applier: ApplierHandle,
    status: Arc<Status>,
    started: Instant,
    traffic: crate::traffic::Traffic,
}

fn internal(e: StoreError) -> RpcError {
    match e {
        StoreError::Rejected(rpc) => rpc,
        other => {
            tracing::error!(error = %other, "request failed inside the daemon");
            RpcError::new(ErrorCode::Internal, format!("internal error: {other}"))
        }
    }
}

fn to_value<T: Serialize>(value: T) -> Result<Value, RpcError> {
    serde_json::to_value(value)
        .map_err(|e| RpcError::new(ErrorCode::Internal, format!("encoding the result: {e}")))
}

/// Masks a UUID for logs (S15): the first 8 characters, then "...".
pub fn mask(uuid: &uuid::Uuid) -> String {
    let text = uuid.to_string();
    format!("{}...", &text[..8])
}

/// What a mutation did, for the audit row and the events.
struct Done {
    changed: Vec<Key>,
    detail: Option<String>,
}

impl Done {
    fn one(key: Key) -> Self {
        Done {
            changed: vec![key],
            detail: None,
        }
    }
}

impl KeyService {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        events: broadcast::Sender<Event>,
        applier: ApplierHandle,
        status: Arc<Status>,
        traffic: crate::traffic::Traffic,
    ) -> Self {
        Self {
            store,
            events,
            config,
            applier,
            status,
            started: Instant::now(),
            traffic,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Executes one request for `actor`. `hello` and `watch` are the front end's business
    /// (they concern the connection) but are answered here too for a uniform result.
    pub async fn handle(&self, actor: Actor, request: Request) -> Result<Value, RpcError> {
        match request {
            Request::Hello(p) => to_value(hello(p)?),
            Request::Watch(_) => to_value(veil_shared::api::WatchResult { subscribed: true }),
            Request::Health(_) => to_value(self.health().await),
            Request::KeyLink(p) => {
                to_value(crate::share::key_link(&self.store, &self.config, p).await?)
            }
            Request::KeyConfig(p) => {
                to_value(crate::share::key_config(&self.store, &self.config, p).await?)
            }
            Request::Doctor(_) => to_value(
                crate::doctor::run(&self.config, crate::doctor::Db::Live(&self.store)).await,
            ),
            Request::KeyGet(p) => {
                let key = p.key;
                to_value(
                    self.store
                        .read(move |c| keys::get(c, &key))
                        .await
                        .map_err(internal)?,
                )
            }
            Request::KeyList(p) => to_value(self.list(p).await?),
            Request::AuditList(p) => to_value(self.audit(p).await?),
            Request::KeyCreate(p) => {
                let settings = crate::traffic::settings::KeySettings::for_create(
                    p.data_limit,
                    p.expires_at,
                    p.reset,
                );
                let made = self
                    .mutate(
                        actor,
                        "key.create",
                        Some(p.name.clone()),
                        KeyAction::Created,
                        move |c| {
                            let key = keys::create(c, &p.name, p.note.as_deref())?;
                            if settings.is_empty() {
                                return Ok(Done::one(key));
                            }
                            let applied = crate::traffic::settings::apply(c, key.id, &settings)?;
                            Ok(Done {
                                changed: vec![keys::get(c, &KeyRef::Id(key.id))?],
                                detail: Some(applied.describe().join(", ")),
                            })
                        },
                    )
                    .await?;
                one(made)
            }
            Request::KeyCreateBulk(p) => {
                if p.count == 0 || p.count > BULK_MAX {
                    return Err(RpcError::new(
                        ErrorCode::InvalidInput,
                        format!("count must be from 1 to {BULK_MAX}, got {}", p.count),
                    ));
                }
                let made = self
                    .mutate(
                        actor,
                        "key.create_bulk",
                        Some(p.prefix.clone()),
                        KeyAction::Created,
                        move |c| {
                            let made = keys::create_bulk(c, &p.prefix, p.count)?;
                            let detail = match (made.first(), made.last()) {
                                (Some(a), Some(b)) => {
                                    Some(format!("{} keys, ids {}..={}", made.len(), a.id, b.id))
                                }
                                _ => None,
                            };
                            Ok(Done {
                                changed: made,
                                detail,
                            })
                        },
                    )
                    .await?;
                to_value(KeyBulk { keys: made })
            }
            Request::KeyUpdate(p) => {
                let key_ref = p.key.to_string();
                let made = self
                    .mutate(
                        actor,
                        "key.update",
                        Some(key_ref),
                        KeyAction::Updated,
                        move |c| {
                            let mut key = keys::get_live(c, &p.key)?;
                            let mut what = Vec::new();
                            if let Some(name) = &p.name {
                                key = keys::rename(c, &KeyRef::Id(key.id), name)?;
                                what.push("name");
                            }
                            if let Some(note) = &p.note {
                                key = keys::set_note(c, &KeyRef::Id(key.id), note)?;
                                what.push("note");
                            }
                            let settings = crate::traffic::settings::KeySettings {
                                data_limit: p.data_limit,
                                expires_at: p.expires_at,
                                reset: p.reset,
                            };
                            let applied = crate::traffic::settings::apply(c, key.id, &settings)?;
                            let described = applied.describe();
                            what.extend(described.iter().map(String::as_str));
                            if !settings.is_empty() {
                                key = keys::get(c, &KeyRef::Id(key.id))?;
                            }
                            let detail = Some(if what.is_empty() {
                                "nothing to change".into()
                            } else {
                                what.join(", ")
                            });
                            Ok(Done {
                                changed: vec![key],
                                detail,
                            })
                        },
                    )
                    .await?;
                one(made)
            }
            Request::KeyRotate(p) => {
                let made = self
                    .mutate(
                        actor,
                        "key.rotate",
                        Some(p.key.to_string()),
                        KeyAction::Rotated,
                        move |c| Ok(Done::one(keys::rotate(c, &p.key)?)),
                    )
                    .await?;
                one(made)
            }
            Request::KeyDisable(p) => {
                self.set_state(
                    actor,
                    "key.disable",
                    p.key,
                    KeyState::Disabled,
                    KeyAction::Disabled,
                )
                .await
            }
            Request::KeyEnable(p) => {
                self.set_state(
                    actor,
                    "key.enable",
                    p.key,
                    KeyState::Active,
                    KeyAction::Enabled,
                )
                .await
            }
            Request::KeyDelete(p) => {
                self.set_state(
                    actor,
                    "key.delete",
                    p.key,
                    KeyState::Deleted,
                    KeyAction::Deleted,
                )
                .await
            }
            Request::TrafficGet(p) => to_value(self.traffic.get(p).await?),
            Request::TrafficList(p) => to_value(self.traffic.list(p).await?),
            Request::TrafficSync(_) => to_value(self.traffic.sync().await?),
            Request::TrafficReset(p) => to_value(self.traffic.reset(actor, p).await?),
            Request::TrafficHistory(p) => to_value(self.traffic.history(p).await?),
        }
    }

    async fn set_state(
        &self,
        actor: Actor,
        method: &'static str,
        key: KeyRef,
        state: KeyState,
        action: KeyAction,
    ) -> Result<Value, RpcError> {
        let reason = (state == KeyState::Disabled).then_some(DisableReason::Manual);
        let made = self
            .mutate(actor, method, Some(key.to_string()), action, move |c| {
                Ok(Done::one(keys::set_state(c, &key, state, reason)?))
            })
            .await?;
        one(made)
    }

    /// Runs a mutation in the writer, records its audit row whatever the outcome (the
    /// mutation in its own savepoint, so a refused change leaves only the audit row),
    /// publishes events, lets the applier settle, and returns the changed keys as they are
    /// now: applied (live) or still pending (S10).
    async fn mutate<F>(
        &self,
        actor: Actor,
        method: &'static str,
        key_ref: Option<String>,
        action: KeyAction,
        f: F,
    ) -> Result<Vec<Key>, RpcError>
    where
        F: FnOnce(&rusqlite::Connection) -> Result<Done, StoreError> + Send + 'static,
    {
        let outcome = self
            .store
            .write(move |sp| {
                let inner = sp.savepoint()?;
                let result = f(&inner);
                match &result {
                    Ok(_) => inner.commit()?,
                    Err(_) => drop(inner), // rolls the savepoint back
                }
                let (outcome, detail, key_id) = match &result {
                    Ok(done) => (
                        "ok".to_owned(),
                        done.detail.clone(),
                        done.changed.first().map(|k| k.id),
                    ),
                    Err(StoreError::Rejected(e)) => {
                        (e.kind().to_string(), Some(e.message.clone()), None)
                    }
                    Err(other) => (
                        ErrorCode::Internal.to_string(),
                        Some(other.to_string()),
                        None,
                    ),
                };
                audit::insert(
                    sp,
                    &audit::Record {
                        actor,
                        method,
                        key_id,
                        key_ref: key_ref.as_deref(),
                        outcome: &outcome,
                        detail: detail.as_deref(),
                    },
                )?;
                Ok(result)
            })
            .await
            .map_err(internal)?;
        match outcome {
            Ok(done) => {
                // One line per key, but one summary for a bulk call: 10,000 log lines would
                // cost more than the change itself (each key is in the audit detail range).
                match done.changed.as_slice() {
                    [key] => tracing::info!(
                        method, uid = actor.uid, pid = actor.pid, key_id = key.id,
                        uuid = %mask(&key.uuid), state = %key.state, "key changed"
                    ),
                    [first, .., last] => tracing::info!(
                        method,
                        uid = actor.uid,
                        pid = actor.pid,
                        count = done.changed.len(),
                        first_id = first.id,
                        last_id = last.id,
                        "keys changed"
                    ),
                    [] => {}
                }
                let ids: Vec<i64> = done.changed.iter().map(|k| k.id).collect();
                for key in done.changed {
                    // No watcher is not an error.
                    let _ = self.events.send(Event::Key(KeyEvent {
                        action,
                        key,
                        actor: Some(actor),
                    }));
                }
                self.applier.settle().await;
                self.store
                    .read(move |c| keys::by_ids(c, &ids))
                    .await
                    .map_err(internal)
            }
            Err(e) => {
                let e = internal(e);
                tracing::info!(method, uid = actor.uid, pid = actor.pid, code = %e.kind(), error = %e.message, "change refused");
                Err(e)
            }
        }
    }

    async fn list(&self, p: KeyList) -> Result<KeyPage, RpcError> {
        self.store
            .read(move |c| {
                let (keys, total) = keys::list(
                    c,
                    &keys::ListQuery {
                        state: p.state,
                        search: p.search.as_deref(),
                        offset: p.offset.unwrap_or(0),
                        limit: p.limit,
                    },
                )?;
                Ok(KeyPage { keys, total })
            })
            .await
            .map_err(internal)
    }

    async fn audit(&self, p: AuditList) -> Result<AuditPage, RpcError> {
        let limit = p
            .limit
            .unwrap_or(AUDIT_DEFAULT_LIMIT)
            .clamp(1, AUDIT_MAX_LIMIT);
        self.store
            .read(move |c| {
                let key_id = match &p.key {
                    Some(key) => Some(keys::get(c, key)?.id),
                    None => None,
                };
                Ok(AuditPage {
                    entries: audit::list(c, key_id, limit)?,
                })
            })
            .await
            .map_err(internal)
    }

    /// Records a refused connection (not root, not in the socket group) in the audit trail.
    pub async fn record_forbidden(&self, actor: Actor) {
        let result = self
            .store
            .write(move |sp| {
                audit::insert(
                    sp,
                    &audit::Record {
                        actor,
                        method: "connect",
                        key_id: None,
                        key_ref: None,
                        outcome: ErrorCode::Forbidden.as_str(),
                        detail: Some("peer is neither root nor in the socket group"),
                    },
                )
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "could not record a refused connection");
        }
    }

    pub async fn health(&self) -> Health {
        let db = self
            .store
            .read(|c| Ok((keys::counts(c)?, keys::pending_count(c)?)))
            .await;
        let (database, pending) = match db {
            Ok((counts, pending)) => (
                DatabaseHealth {
                    ok: true,
                    path: self.store.path().display().to_string(),
                    keys: counts,
                    error: None,
                },
                pending,
            ),
            Err(e) => (
                DatabaseHealth {
                    ok: false,
                    path: self.store.path().display().to_string(),
                    keys: Default::default(),
                    error: Some(e.to_string()),
                },
                0,
            ),
        };
        let status = self.status.snapshot();
        Health {
            version: veil_shared::VERSION.into(),
            protocol: veil_shared::PROTOCOL_VERSION,
            pid: std::process::id(),
            uptime_secs: self.started.elapsed().as_secs(),
            database,
            core: CoreHealth {
                status: status.core,
                flavor: flavor_name(self.config.core.flavor).into(),
                api: self.config.core.api.clone(),
                uptime_secs: status.uptime_secs,
                memory_bytes: status.memory_bytes,
                last_error: status.last_error,
                last_resync: status.last_resync,
                drift: status.drift,
            },
            pending,
            config: Some(status.config),
        }
    }
}

fn one(keys: Vec<Key>) -> Result<Value, RpcError> {
    match keys.into_iter().next() {
        Some(key) => to_value(key),
        None => Err(RpcError::new(
            ErrorCode::Internal,
            "the changed key vanished",
        )),
    }
}

fn hello(p: HelloParams) -> Result<HelloResult, RpcError> {
    if let Some(theirs) = p.protocol
        && theirs != veil_shared::PROTOCOL_VERSION
    {
        return Err(RpcError::new(
            ErrorCode::VersionMismatch,
            format!(
                "veild {} speaks protocol {}, the client speaks {theirs}; upgrade the older one",
                veil_shared::VERSION,
                veil_shared::PROTOCOL_VERSION
            ),
        ));
    }
    Ok(HelloResult {
        protocol: veil_shared::PROTOCOL_VERSION,
        version: veil_shared::VERSION.into(),
    })
}

fn flavor_name(flavor: crate::corelink::Flavor) -> &'static str {
    match flavor {
        crate::corelink::Flavor::Xray => "xray",
        crate::corelink::Flavor::V2fly => "v2fly",
    }
}
