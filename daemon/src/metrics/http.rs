//! The `/metrics` listener: `GET /metrics` answers the registry as Prometheus text;
//! anything else is a 404.
//!
//! Bounded for a greedy local user: at most [`MAX_CONNECTIONS`] connections are served
//! at once (more wait in the kernel's backlog), one request each (no keep-alive), the
//! request head must arrive within [`HEAD_TIMEOUT`] and the whole exchange end within
//! [`CONNECTION_TIMEOUT`]. The database is read by one scrape at a time.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::Metrics;

/// The `Content-Type` of what `/metrics` answers: the Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 16;
/// A client must send its request head within this long.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection is closed after this long, answered or not.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a scrape waits for the figures read from the database before it answers
/// with the previous ones.
const COLLECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Sets what a scrape reads at that moment (keys by state, pending keys, the core's
/// state) before the text is written.
pub trait Collect: Send + Sync + 'static {
    fn collect(&self, metrics: &Metrics) -> impl Future<Output = ()> + Send;
}

/// Binds the listener (at start, so a bad address stops veild before it serves).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

struct Scrape<C> {
    metrics: Arc<Metrics>,
    source: Arc<C>,
    /// One collect at a time, whatever the number of scrapers.
    collecting: Mutex<()>,
}

/// Serves `/metrics` on `listener` until `shutdown`.
pub async fn serve<C: Collect>(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    source: Arc<C>,
    shutdown: CancellationToken,
) {
    let app = router(Arc::new(Scrape {
        metrics,
        source,
        collecting: Mutex::new(()),
    }));
    crate::httpserve::serve(
        listener,
        app,
        crate::httpserve::Bounds {
            max_connections: MAX_CONNECTIONS,
            head_timeout: HEAD_TIMEOUT,
            connection_timeout: CONNECTION_TIMEOUT,
            keep_alive: false,
            max_buf: 16 * 1024,
            name: "metrics",
        },
        shutdown,
    )
    .await;
}

fn router<C: Collect>(scrape: Arc<Scrape<C>>) -> Router {
    Router::new()
        // `get` alone would answer HEAD too.
        .route("/metrics", get(get_metrics::<C>).head(not_found))
        .method_not_allowed_fallback(not_found)
        .fallback(not_found)
        .with_state(scrape)
}

async fn get_metrics<C: Collect>(State(scrape): State<Arc<Scrape<C>>>) -> Response {
    {
        let _one = scrape.collecting.lock().await;
        let collect = scrape.source.collect(&scrape.metrics);
        if tokio::time::timeout(COLLECT_TIMEOUT, collect)
            .await
            .is_err()
        {
            tracing::warn!(
                "metrics: reading the key counts took too long; answering the last ones"
            );
        }
    }
    match scrape.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics: encoding failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "encoding the metrics failed\n",
            )
                .into_response()
        }
    }
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found: try GET /metrics\n").into_response()
}
