//! The optional HTTP API (`[http] listen`): the seed's REST routes for an external admin
//! server, each one call into the typed service, behind API tokens and rate limits.
//!
//! - `config`'s [`crate::config::http::HttpConfig`] holds the settings.
//! - `state`: what handlers share (the service, limits, figures for `health`).
//! - `guard`: middleware: client address, limits, CORS, timeout, headers, tokens.
//! - `routes`: one handler per route; `openapi`: the OpenAPI 3.1 document of them;
//!   `extract`: path, query and body readers;
//!   `error`: the one error shape; `limit`: rate limiters; `client`: `X-Forwarded-For`;
//!   `tls`: the certificate (`tls_cert`, `tls_key`), reloaded on SIGHUP and file change.
//!
//! Connections are served by [`crate::httpserve`] (the loop `/metrics` uses too), over TLS
//! when `tls_cert` and `tls_key` are set.

mod client;
mod error;
mod extract;
mod guard;
mod limit;
mod openapi;
mod routes;
mod state;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::http::HttpConfig;
use crate::httpserve::Bounds;
use crate::service::Service;
use state::AppState;

/// A request head must arrive within this long (also the idle time of a kept-alive
/// connection between requests).
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection is closed after this long, however busy.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(300);
/// How often limiters forget clients whose allowance is full again.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// A bound listener and its settings, ready to serve.
pub struct Bound {
    listener: TcpListener,
    addr: SocketAddr,
    config: HttpConfig,
    tls: Option<tls::Tls>,
}

impl Bound {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Binds `[http] listen` and reads `tls_cert`/`tls_key` (at start, so a bad or busy
/// address or an unusable certificate stops veild before it serves); `None` when the
/// listener is off.
pub async fn bind(config: Option<&HttpConfig>) -> anyhow::Result<Option<Bound>> {
    let Some(config) = config else {
        return Ok(None);
    };
    let addr = config.listen_addr().map_err(|p| {
        anyhow::anyhow!(
            "http.listen = {:?}: {p}",
            config.listen.as_deref().unwrap_or_default()
        )
    })?;
    let Some(addr) = addr else {
        return Ok(None);
    };
    let tls = tls::Files::of(config).map(tls::Tls::start).transpose()?;
    let listener = TcpListener::bind(addr).await.with_context(|| {
        format!(
            "http.listen = {:?}: cannot listen",
            config.listen.as_deref().unwrap_or_default()
        )
    })?;
    let addr = listener.local_addr().unwrap_or(addr);
    if !addr.ip().is_loopback() && tls.is_none() {
        tracing::warn!(%addr, "the HTTP API listens beyond loopback without TLS (allow_plaintext)");
    }
    tracing::info!(%addr, tls = tls.is_some(), "serving the HTTP API");
    Ok(Some(Bound {
        listener,
        addr,
        config: config.clone(),
        tls,
    }))
}

/// Serves the API until `shutdown`.
pub async fn serve(bound: Bound, service: Arc<Service>, shutdown: CancellationToken) {
    let Bound {
        listener,
        addr,
        config,
        tls,
    } = bound;
    let stats = Arc::new(state::Stats::new(
        addr.to_string(),
        tls.as_ref().map(|tls| Arc::clone(&tls.resolver)),
    ));
    service.attach_http(Arc::clone(&stats) as Arc<dyn crate::service::HttpReport>);
    let state = Arc::new(state::AppState {
        service,
        limits: limit::Limits::new(
            config.rate_per_minute,
            config.create_delete_per_minute,
            config.token_rate_per_minute,
            config.auth_failures_per_minute,
        ),
        stats,
        proxies: config.proxies(),
        cors_origins: config.cors_origins.clone(),
        request_timeout: config.request_timeout(),
        max_body_bytes: usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX),
    });
    tokio::spawn(prune(Arc::clone(&state), shutdown.clone()));
    let bounds = Bounds {
        max_connections: usize::try_from(config.max_connections).unwrap_or(256),
        head_timeout: HEAD_TIMEOUT,
        connection_timeout: CONNECTION_TIMEOUT,
        keep_alive: true,
        max_buf: 64 * 1024,
        name: "http",
    };
    let app = router(state, config.sub_rate_per_minute, tls.is_some());
    let acceptor = tls.map(|tls| {
        let acceptor = tls.acceptor.clone();
        tokio::spawn(tls.watch(shutdown.clone()));
        acceptor
    });
    crate::httpserve::serve_tls(listener, app, bounds, acceptor, shutdown).await;
}

/// Every route with its middleware: `/health`, the OpenAPI document, `/api/*` behind
/// tokens, and the subscriptions (`GET /sub/{token}`, no API token: the subscription token
/// is the secret; its own per-address limit, `sub_per_minute`, on top of the listener's;
/// `tls`: the listener serves TLS, so the page's own URL is `https://`).
fn router(state: Arc<AppState>, sub_per_minute: u32, tls: bool) -> Router {
    let api = routes::api().route_layer(axum::middleware::from_fn_with_state(
        Arc::clone(&state),
        guard::auth,
    ));
    Router::new()
        .route("/health", axum::routing::get(routes::health))
        .route(
            "/api/openapi.json",
            axum::routing::get(|| async { axum::Json(openapi::document()) }),
        )
        .merge(api)
        .with_state(Arc::clone(&state))
        .merge(crate::subscribe::http::routes_per_minute(
            Arc::clone(&state.service),
            sub_per_minute,
            tls,
        ))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            guard::front,
        ))
}

async fn prune(state: Arc<AppState>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(PRUNE_EVERY) => state.limits.prune(),
        }
    }
}
