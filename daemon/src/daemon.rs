//! Start-up and shutdown, in order: config → access rule → store → socket → ready → serve
//! until SIGTERM/SIGINT → drain connections → remove the socket → close the store.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::ipc;
use crate::service::KeyService;
use crate::store::Store;

/// How long in-flight requests may take to finish after a stop signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs the daemon until a stop signal, then shuts down cleanly.
pub async fn run(config_path: &Path) -> anyhow::Result<()> {
    let config = Arc::new(Config::load(config_path)?);
    let access =
        Arc::new(ipc::auth::Access::new(&config.socket_group).map_err(anyhow::Error::msg)?);
    let store = Store::open(&config.database)
        .with_context(|| format!("opening the database {}", config.database.display()))?;
    let service = Arc::new(KeyService::new(store.clone(), Arc::clone(&config)));
    let bound = match ipc::listener::bind(&config.socket, access.gid) {
        Ok(bound) => bound,
        Err(e) => {
            close_store(store).await;
            anyhow::bail!(e);
        }
    };

    let shutdown = CancellationToken::new();
    tokio::spawn(watch_signals(shutdown.clone()));
    tracing::info!(
        socket = %bound.path().display(),
        database = %config.database.display(),
        group = %access.group_name,
        version = veil_shared::VERSION,
        "veild ready"
    );
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        tracing::warn!(error = %e, "could not notify systemd of readiness");
    }

    let tracker = TaskTracker::new();
    ipc::serve_on(
        &bound,
        Arc::clone(&service),
        access,
        shutdown.clone(),
        tracker.clone(),
    )
    .await;

    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    tracker.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = tracker.len(),
            "connections still busy after the drain timeout; closing anyway"
        );
    }
    bound.close();
    drop(service);
    close_store(store).await;
    tracing::info!("veild stopped");
    Ok(())
}

async fn close_store(store: Store) {
    if let Err(e) = tokio::task::spawn_blocking(move || store.close()).await {
        tracing::error!(error = %e, "closing the database failed");
    }
}

/// Turns SIGTERM/SIGINT into the shutdown token. A second signal during the drain is logged
/// and ignored: the drain is bounded by [`DRAIN_TIMEOUT`].
async fn watch_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("could not install signal handlers; stop veild with SIGKILL");
        return;
    };
    loop {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        if shutdown.is_cancelled() {
            tracing::info!(signal = name, "already stopping");
        } else {
            tracing::info!(signal = name, "stopping: finishing in-flight requests");
            shutdown.cancel();
        }
    }
}
