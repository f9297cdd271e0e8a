//! The Unix socket front end: binding safely ([`listener`]), deciding who may talk
//! ([`auth`]) and serving JSON-RPC lines on each connection ([`conn`]).

pub mod auth;
pub mod conn;
pub mod listener;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use interprocess::local_socket::traits::tokio::Listener as _;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::service::KeyService;

/// Open connections at once; past this a new one is told so and closed, so a runaway
/// script cannot exhaust the daemon's file descriptors.
const MAX_CONNECTIONS: usize = 1024;

/// Accepts connections until `shutdown`, serving each on its own task tracked by `tracker`.
pub async fn serve_on(
    bound: &listener::Bound,
    service: Arc<KeyService>,
    access: Arc<auth::Access>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let next_id = AtomicU64::new(1);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = bound.listener.accept() => match accepted {
                Ok(stream) => stream,
                Err(e) => {
                    // EMFILE and friends are transient: log, breathe, keep serving.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let permit = Arc::clone(&slots).try_acquire_owned().ok();
        let ctx = conn::Context {
            id,
            service: Arc::clone(&service),
            access: Arc::clone(&access),
            shutdown: shutdown.clone(),
        };
        tracker.spawn(async move {
            conn::serve(stream, ctx, permit.is_some()).await;
            drop(permit);
        });
    }
    tracing::info!("stopped accepting connections");
}
