//! A bounded HTTP/1 accept loop for an axum router, shared by the `/metrics` listener and
//! the HTTP API: at most [`Bounds::max_connections`] connections are served at once (more
//! wait in the kernel's backlog), each request head must arrive within
//! [`Bounds::head_timeout`], and a connection is closed after
//! [`Bounds::connection_timeout`] whatever it is doing. Every request carries its TCP peer
//! as axum's `ConnectInfo<SocketAddr>`. With a TLS acceptor ([`serve_tls`]) each connection
//! is TLS, its handshake bounded like a request head.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// The limits of one listener.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Connections served at once.
    pub max_connections: usize,
    /// A client must send each request head within this long.
    pub head_timeout: Duration,
    /// A connection is closed after this long, answered or not.
    pub connection_timeout: Duration,
    /// More than one request per connection.
    pub keep_alive: bool,
    /// The largest request head (and read buffer) in bytes.
    pub max_buf: usize,
    /// Names the listener in log lines (`metrics`, `http`).
    pub name: &'static str,
}

/// Serves `app` on `listener` until `shutdown`; connections in progress are cut at the stop.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    bounds: Bounds,
    shutdown: CancellationToken,
) {
    serve_tls(listener, app, bounds, None, shutdown).await;
}

/// [`serve`], over TLS when `tls` is given: each connection's handshake runs in its own
/// task, holding its connection slot, and must finish within [`Bounds::head_timeout`].
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    bounds: Bounds,
    tls: Option<TlsAcceptor>,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(bounds.max_connections));
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends pass: log, breathe, keep serving.
                    tracing::warn!(listener = bounds.name, error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let app = app.clone().map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        );
        let service = TowerToHyperService::new(app);
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let connection = async {
                let Some(io) = handshake(stream, tls.as_ref(), &bounds).await else {
                    return Ok(());
                };
                hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(bounds.head_timeout)
                    .keep_alive(bounds.keep_alive)
                    .max_buf_size(bounds.max_buf)
                    .serve_connection(TokioIo::new(io), service)
                    .await
            };
            tokio::select! {
                served = tokio::time::timeout(bounds.connection_timeout, connection) => {
                    if let Ok(Err(e)) = served {
                        tracing::debug!(listener = bounds.name, error = %e, "connection ended with an error");
                    }
                }
                () = shutdown.cancelled() => {}
            }
            drop(permit);
        });
    }
    tracing::debug!(listener = bounds.name, "listener stopped");
}

/// The connection as it is served: the TCP stream itself, or TLS over it once the
/// handshake is done (`None`: it failed or took over [`Bounds::head_timeout`]).
async fn handshake(
    stream: TcpStream,
    tls: Option<&TlsAcceptor>,
    bounds: &Bounds,
) -> Option<Either<TcpStream, TlsStream<TcpStream>>> {
    let Some(tls) = tls else {
        return Some(Either::Left(stream));
    };
    match tokio::time::timeout(bounds.head_timeout, tls.accept(stream)).await {
        Ok(Ok(stream)) => Some(Either::Right(stream)),
        Ok(Err(e)) => {
            tracing::debug!(listener = bounds.name, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(listener = bounds.name, "TLS handshake timed out");
            None
        }
    }
}

/// The peer of a request served by [`serve`] (`None` for one built by hand, in tests).
pub fn peer_of<B>(request: &axum::http::Request<B>) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr)
}
