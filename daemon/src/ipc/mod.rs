//! The Unix socket front end: binding safely ([`listener`]), deciding who may talk
//! ([`auth`]), serving JSON-RPC lines on each connection ([`conn`]) and the method table
//! into the service ([`dispatch`]).

pub mod auth;
pub mod conn;
pub mod dispatch;
pub mod limits;
pub mod listener;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use interprocess::local_socket::traits::tokio::Listener as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::service::Service;

/// The socket's fairness rules: the connection budget and the idle timeout.
pub struct Fairness {
    pub budget: Arc<limits::Budget>,
    pub idle_timeout: std::time::Duration,
}

/// Accepts connections until `shutdown`, serving each on its own task tracked by `tracker`.
pub async fn serve_on(
    bound: &listener::Bound,
    service: Arc<Service>,
    access: Arc<auth::Access>,
    fair: Fairness,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let next_id = AtomicU64::new(1);
    let refusals = Arc::new(limits::RefusalLog::default());
    loop {
        // A descriptor for the next socket first: past the budget (and a little headroom
        // to refuse politely) new connections wait in the kernel's backlog.
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = fair.budget.socket_permit() => match permit {
                Some(permit) => permit,
                None => break,
            },
        };
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
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
        let ctx = conn::Context {
            id,
            service: Arc::clone(&service),
            access: Arc::clone(&access),
            budget: Arc::clone(&fair.budget),
            refusals: Arc::clone(&refusals),
            idle_timeout: fair.idle_timeout,
            shutdown: shutdown.clone(),
        };
        tracker.spawn(async move {
            conn::serve(stream, ctx).await;
            drop(permit);
        });
    }
    tracing::info!("stopped accepting connections");
}
