//! The middleware of the HTTP API, outermost first:
//! - [`front`]: every request: its client address (also handed on as `ConnectInfo`), the
//!   per-address limit, CORS (a preflight
//!   from an origin not listed gets no `Access-Control-Allow-*` header), the request
//!   timeout, and the headers every answer carries (`Cache-Control: no-store`,
//!   `X-Content-Type-Options: nosniff`).
//! - [`auth`]: `/api/*` only: the API token (`Authorization: Bearer …` or `X-API-Key: …`),
//!   failed attempts limited per address, the per-token limit, read-only tokens kept to
//!   reads. The caller lands in the request as a [`Caller`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use veil_shared::api::{Actor, TokenInfo};

use super::client::client_ip;
use super::error::ApiError;
use super::limit::{client_key, retry_after_secs};
use super::state::AppState;

/// The client's address, as [`front`] decided it.
#[derive(Clone, Copy, Debug)]
pub struct Client(pub IpAddr);

/// An authenticated caller: its token and address.
#[derive(Clone, Debug)]
pub struct Caller {
    pub token: TokenInfo,
    pub ip: IpAddr,
}

impl Caller {
    /// The actor the audit trail records for this caller's changes.
    pub fn actor(&self) -> Actor {
        Actor::Token {
            name: self.token.name.clone(),
            remote: self.ip.to_string(),
        }
    }
}

const ALLOW_METHODS: &str = "GET, POST, PATCH, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "authorization, x-api-key, content-type";

pub async fn front(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    state.stats.request();
    let peer = crate::httpserve::peer_of(&request)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let ip = client_ip(peer.ip(), request.headers(), &state.proxies);
    request.extensions_mut().insert(Client(ip));
    // Routes that read the peer (the subscriptions' own limit) see the client behind a
    // trusted proxy, not the proxy.
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(SocketAddr::new(ip, peer.port())));
    let origin = allowed_origin(&state, request.headers());
    let mut response = if let Err(wait) = state.per_ip_check(ip) {
        ApiError::rate_limited("requests", retry_after_secs(wait)).into_response()
    } else if request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        preflight(origin.is_some())
    } else {
        // On its own task: neither the timeout nor a client that hangs up cuts a change
        // between its commit and the applier's settle.
        let handler = tokio::spawn(next.run(request));
        match tokio::time::timeout(state.request_timeout, handler).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "HTTP API: a request handler failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the request failed inside veild",
                )
                .into_response()
            }
            Err(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took too long; a change may still complete (check the key)",
            )
            .into_response(),
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// The request's `Origin` when it is one of `cors_origins`.
fn allowed_origin(state: &AppState, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    state
        .cors_origins
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(text))
        .then(|| origin.clone())
}

/// The answer to a CORS preflight: the allowed methods and headers for a listed origin;
/// nothing that allows anything for another.
fn preflight(allowed: bool) -> Response {
    if !allowed {
        return ApiError::forbidden("this origin is not allowed (http.cors_origins)")
            .into_response();
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

pub async fn auth(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let ip = request
        .extensions()
        .get::<Client>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0);
    match authenticate(&state, ip, request.headers(), request.method()).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

async fn authenticate(
    state: &AppState,
    ip: IpAddr,
    headers: &HeaderMap,
    method: &Method,
) -> Result<Caller, ApiError> {
    let limited = client_key(ip);
    if let Some(wait) = state.limits.boxed_for(limited) {
        return Err(ApiError::rate_limited(
            "failed authentications",
            retry_after_secs(wait),
        ));
    }
    let token = match presented(headers) {
        Some(secret) => state.service.authenticate(secret).await,
        None => Err(crate::service::ServiceError::new(
            crate::service::ErrorKind::Unauthorized,
            "an API token is needed: Authorization: Bearer TOKEN, or X-API-Key: TOKEN",
        )),
    };
    let token = match token {
        Ok(token) => token,
        Err(e) if e.kind == crate::service::ErrorKind::Unauthorized => {
            state.stats.auth_failed(ip);
            tracing::warn!(remote = %ip, reason = %e.message, "HTTP API: authentication refused");
            if let Some(wait) = state.limits.failed(limited) {
                return Err(ApiError::rate_limited(
                    "failed authentications",
                    retry_after_secs(wait),
                ));
            }
            return Err(ApiError::unauthorized(e.message));
        }
        Err(e) => return Err(e.into()),
    };
    if let Err(wait) = state.limits.per_token.check(&token.name) {
        return Err(ApiError::rate_limited(
            "requests with this token",
            retry_after_secs(wait),
        ));
    }
    if token.read_only && !matches!(*method, Method::GET | Method::HEAD) {
        return Err(ApiError::forbidden(
            "this API token is read-only: it cannot change anything",
        ));
    }
    Ok(Caller { token, ip })
}

/// The secret from `Authorization: Bearer …` or `X-API-Key: …` (never logged).
fn presented(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().ok()?.trim();
        let (scheme, secret) = text.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| secret.trim())
            .filter(|s| !s.is_empty());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}
