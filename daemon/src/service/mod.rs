//! The typed service every front end calls: the socket now, the HTTP API and subscriptions
//! next. One method per operation, typed parameters in, a typed result or a
//! [`ServiceError`] out; no wire format in here. Front ends translate a wire request into a
//! call and the answer back, nothing more.
//!
//! - `pipeline`: the one path every mutation takes (validate → one transaction with its
//!   audit row → events → settle with the applier).
//! - `keys`: key operations (create, bulk, get, list, update, state changes, rotate).
//! - `traffic`: traffic reads, on-demand sync and resets.
//! - `info`: health, doctor, audit, share links and client configs.
//! - [`subs`]: subscription tokens (`key.sub`) and the lookup behind `GET /sub/{token}`.
//! - [`backup`]: database backups, on demand and scheduled.
//! - `metrics`: what a scrape of `/metrics` reads at that moment (keys by state, the core).
//! - `tokens`: API tokens of the HTTP API (add, list, revoke, authenticate).
//! - `webhooks`: the webhooks' delivery status (`webhook.list`, `health`).

pub mod backup;
mod info;
mod keys;
mod metrics;
mod nodes;
mod pipeline;
pub mod subs;
mod token_cache;
mod tokens;
mod traffic;
mod webhooks;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::broadcast;
use veil_shared::api::Event;

use crate::applier::{ApplierHandle, Status};
use crate::config::Config;
pub use crate::error::{ErrorKind, ServiceError};
use crate::metrics::Metrics;
use crate::store::Store;

/// How many events a slow watcher may fall behind before it is told it lagged.
pub const EVENT_BUFFER: usize = 4096;

/// What a service call returns.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// The daemon's one service. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Service {
    store: Store,
    events: broadcast::Sender<Event>,
    config: Arc<Config>,
    applier: ApplierHandle,
    status: Arc<Status>,
    started: Instant,
    traffic: crate::traffic::Traffic,
    metrics: Arc<Metrics>,
    /// The HTTP API's figures for `health`, once its listener runs.
    http_report: std::sync::OnceLock<Arc<dyn HttpReport>>,
    /// The usable API tokens, kept so a request's authentication reads no database.
    tokens: token_cache::TokenCache,
    /// The fleet's registry, on a fleet node: key changes go through it.
    fleet: Option<Arc<crate::fleet::Registry>>,
}

/// What a front end other than the socket tells `health` about itself (the HTTP API's
/// listener). Defined here so the service never depends on a front end.
pub trait HttpReport: Send + Sync {
    fn http(&self) -> veil_shared::api::HttpHealth;
}

impl Service {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        events: broadcast::Sender<Event>,
        applier: ApplierHandle,
        status: Arc<Status>,
        traffic: crate::traffic::Traffic,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            events,
            config,
            applier,
            status,
            started: Instant::now(),
            traffic,
            metrics,
            http_report: std::sync::OnceLock::new(),
            tokens: token_cache::TokenCache::default(),
            fleet: None,
        }
    }

    /// Makes this service a fleet node's: key changes go through the registry.
    #[must_use]
    pub fn with_fleet(mut self, fleet: Option<Arc<crate::fleet::Registry>>) -> Self {
        self.fleet = fleet;
        self
    }

    /// The fleet's registry link, on a fleet node.
    pub fn fleet(&self) -> Option<&Arc<crate::fleet::Registry>> {
        self.fleet.as_ref()
    }

    /// Lets `health` report the HTTP listener (called once, when it starts).
    pub fn attach_http(&self, report: Arc<dyn HttpReport>) {
        if self.http_report.set(report).is_err() {
            tracing::warn!("an HTTP listener was attached twice; keeping the first");
        }
    }

    /// The daemon's metrics, for front ends to count their requests in.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// A feed of every event from now on (key changes, traffic, lag notices).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}

/// Masks a UUID for logs: the first 8 characters, then "..." (the seed's rule: a full UUID
/// is a credential and never reaches a log).
pub fn mask(uuid: &uuid::Uuid) -> String {
    let text = uuid.to_string();
    format!("{}...", &text[..8])
}
