//! The node's background task. One LISTEN connection tells it when the registry changed;
//! it then takes the changes into the local copy and lets the applier settle them. Every
//! reconnect and a slow timer re-read the whole registry, so a notification lost while
//! the link was down never leaves drift. A faster timer exchanges traffic (and writes
//! what enforcement changed here while the registry was away).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::{broadcast, mpsc};
use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;
use veil_shared::api::{Actor, DaemonTask, Event, KeyEvent};

use super::pg::describe;
use super::registry::{Depth, Registry};
use crate::applier::{ApplierHandle, Status};
use crate::store::Store;

/// The registry's notification channel (see `daemon/fleet/0001_registry.sql`).
const CHANNEL: &str = "veil_registry";
/// The longest wait between two attempts to reach the registry.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Why a sync did not happen: the registry is away (reconnect), or something local.
enum Trouble {
    Link(String),
    Local(String),
}

impl std::fmt::Display for Trouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trouble::Link(e) | Trouble::Local(e) => f.write_str(e),
        }
    }
}

impl From<crate::store::StoreError> for Trouble {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Rejected {
                kind: crate::error::ErrorKind::RegistryUnavailable,
                message,
            } => Trouble::Link(message),
            other => Trouble::Local(other.to_string()),
        }
    }
}

pub struct FleetTask {
    pub registry: Arc<Registry>,
    pub store: Store,
    pub events: broadcast::Sender<Event>,
    pub applier: ApplierHandle,
    pub status: Arc<Status>,
    pub config: Arc<crate::config::Config>,
}

impl FleetTask {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(500);
        loop {
            match self.listen().await {
                Ok((client, notices)) => {
                    backoff = Duration::from_millis(500);
                    let why = self.serve(notices, &shutdown).await;
                    drop(client);
                    match why {
                        None => return,
                        Some(e) => self.registry.mark(Err(e)),
                    }
                }
                Err(e) => self.registry.mark(Err(e)),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Opens the LISTEN connection; its notifications arrive on the receiver, which
    /// closes when the connection does.
    async fn listen(&self) -> Result<(tokio_postgres::Client, mpsc::Receiver<()>), String> {
        let cfg = self.registry.pg_config()?;
        let (client, mut connection) = cfg
            .connect(self.registry.tls())
            .await
            .map_err(|e| describe(&e))?;
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let AsyncMessage::Notification(_) = message {
                    // One pending wake-up is enough: the sync reads everything new.
                    let _ = tx.try_send(());
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(|e| describe(&e))?;
        Ok((client, rx))
    }

    /// Serves one connection's life: None when stopping, else why the link ended.
    async fn serve(
        &self,
        mut notices: mpsc::Receiver<()>,
        shutdown: &CancellationToken,
    ) -> Option<String> {
        let config = self.registry.config();
        // Reachable again: the writer may connect (it does not try while the link is down).
        self.registry.mark(Ok(()));
        if let Err(e) = self.sync(Depth::Full).await {
            return Some(e.to_string());
        }
        let mut resync = tokio::time::interval(Duration::from_secs(config.resync_secs));
        let mut traffic = tokio::time::interval(Duration::from_secs(config.traffic_secs));
        resync.reset();
        loop {
            let step = tokio::select! {
                () = shutdown.cancelled() => return None,
                notice = notices.recv() => match notice {
                    Some(()) => self.sync(Depth::Changes).await,
                    None => return Some("the registry closed the connection".to_owned()),
                },
                _ = resync.tick() => self.sync(Depth::Full).await,
                _ = traffic.tick() => self.exchange().await,
            };
            match step {
                Ok(()) => {}
                Err(Trouble::Link(e)) => return Some(e),
                // A local failure: said, and tried again at the next wake-up.
                Err(Trouble::Local(e)) => {
                    tracing::warn!(error = %e, "syncing with the fleet registry failed");
                }
            }
        }
    }

    /// Takes the registry's changes into the local copy; watchers hear of each key and
    /// the applier settles them.
    async fn sync(&self, depth: Depth) -> Result<(), Trouble> {
        let registry = Arc::clone(&self.registry);
        let changed = self
            .store
            .write(move |sp| registry.sync(sp, depth))
            .await
            .map_err(Trouble::from)?;
        if changed.is_empty() {
            return Ok(());
        }
        tracing::info!(count = changed.len(), depth = ?depth, "keys changed on other nodes taken from the registry");
        self.applier.nudge();
        for (action, key) in changed {
            let _ = self.events.send(Event::Key(KeyEvent {
                action,
                key,
                actor: Some(Actor::Daemon {
                    task: DaemonTask::Fleet,
                }),
            }));
        }
        Ok(())
    }

    /// Writes local changes and this node's traffic, folds in the others'.
    async fn exchange(&self) -> Result<(), Trouble> {
        self.sync(Depth::Changes).await?;
        let registry = Arc::clone(&self.registry);
        let snapshot = self.status.snapshot();
        let heartbeat = serde_json::json!({
            "core": snapshot.core,
            "veild": env!("CARGO_PKG_VERSION"),
        });
        // The server this node's keys dial, as subscriptions list it (left as it was when
        // the core's config cannot be read now).
        let server = crate::share::endpoint(&self.config)
            .await
            .ok()
            .and_then(|endpoint| {
                serde_json::to_value(veil_shared::subscription::Server {
                    host: self.config.public.host.clone(),
                    endpoint,
                    label: None,
                })
                .ok()
            });
        let done = self
            .store
            .write(move |sp| registry.exchange_traffic(sp, &heartbeat, server.as_ref()))
            .await
            .map_err(Trouble::from)?;
        if done.folded > 0 {
            tracing::debug!(
                sent = done.sent,
                folded = done.folded,
                "fleet traffic exchanged"
            );
        }
        if done.enforced > 0 {
            tracing::info!(
                keys = done.enforced,
                "keys over their limit on the fleet's sum: disabled"
            );
            // Out of this core now, and to the registry now rather than at the next beat.
            self.applier.nudge();
            self.sync(Depth::Changes).await?;
        }
        Ok(())
    }
}

/// At start, in fleet mode: the registry, joined (first start of this database) and
/// caught up. Unreachable, a node that has joined before starts on its local copy (the
/// core keeps every key it had; changes arrive when the link returns); one that never
/// joined cannot start.
pub async fn open(
    config: Option<&crate::config::fleet::FleetConfig>,
    store: &Store,
) -> anyhow::Result<Option<Arc<Registry>>> {
    let Some(config) = config else {
        return Ok(None);
    };
    let registry = Registry::new(config.clone()).map_err(anyhow::Error::msg)?;
    let joining = Arc::clone(&registry);
    let joined = store.write(move |sp| joining.join(sp)).await;
    let Err(e) = joined else {
        tracing::info!(node = %config.node, "fleet node: caught up with the registry");
        return Ok(Some(registry));
    };
    let node = config.node.clone();
    let member = store
        .read(move |conn| crate::store::keys::meta_get(conn, "fleet.node"))
        .await
        .ok()
        .flatten();
    match (&e, member) {
        (
            crate::store::StoreError::Rejected {
                kind: crate::error::ErrorKind::RegistryUnavailable,
                ..
            },
            Some(name),
        ) if name == node => {
            tracing::warn!(node = %node, error = %e, "starting on the local copy of the registry; changes are refused until it returns");
            Ok(Some(registry))
        }
        _ => Err(anyhow::anyhow!("joining the fleet as node {node:?}: {e}")),
    }
}
