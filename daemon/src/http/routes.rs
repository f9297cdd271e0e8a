//! The routes of the HTTP API: each one call into the typed service, its answer as JSON.
//!
//! Changes answer `200` when the core already has them and `202 Accepted` when they are
//! written but still pending (the core is down or busy): the body is the key either way,
//! with `"pending": true` in the second case. A create answers `201` (or `202`) with
//! `Location: /api/keys/{id}`.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use veil_shared::api::CoreStatus;
use veil_shared::api::{
    AuditList, KeyConfig, KeyCreate, KeyCreateBulk, KeyLink, KeyList, KeyUpdate, TrafficGet,
    TrafficList, TrafficResetParams,
};
use veil_shared::model::{Key, KeyRef};

use super::error::ApiError;
use super::extract::{Body, KeyPath, Params, params};
use super::guard::{Caller, Client};
use super::limit::retry_after_secs;
use super::state::AppState;

type Shared = State<Arc<AppState>>;
type Answer = Result<Response, ApiError>;

/// The routes under `/api`, every one behind the token check (added by the caller).
pub fn api() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/keys", get(list_keys).post(create_keys))
        .route(
            "/api/keys/{ref}",
            get(get_key).patch(update_key).delete(delete_key),
        )
        .route("/api/keys/{ref}/disable", post(disable_key))
        .route("/api/keys/{ref}/enable", post(enable_key))
        .route("/api/keys/{ref}/rotate", post(rotate_key))
        .route("/api/keys/{ref}/reset", post(reset_key))
        .route("/api/keys/{ref}/link", get(key_link))
        .route("/api/keys/{ref}/config", get(key_config))
        .route("/api/keys/{ref}/traffic", get(key_traffic))
        .route("/api/traffic", get(list_traffic))
        .route("/api/traffic/sync", post(sync_traffic))
        .route("/api/audit", get(audit))
}

/// An answer of `200 OK` with `value` as JSON.
fn ok<T: Serialize>(value: &T) -> Response {
    Json(value).into_response()
}

/// A changed key: `200`, or `202` while the core does not have the change yet.
fn changed(key: &Key) -> Response {
    let status = if key.pending {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    (status, Json(key)).into_response()
}

/// The body of `GET /health`: enough for a load balancer or an admin server, no secrets.
#[derive(Serialize, JsonSchema)]
pub struct HealthBody {
    /// `ok`: database and core up; `degraded`: the core is down (changes stay pending);
    /// `down`: the database fails.
    status: HealthStatus,
    version: String,
    database: HealthDatabase,
    core: HealthCore,
    /// Keys whose change the core does not have yet.
    pending: u64,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum HealthStatus {
    Ok,
    Degraded,
    Down,
}

#[derive(Serialize, JsonSchema)]
struct HealthDatabase {
    ok: bool,
}

#[derive(Serialize, JsonSchema)]
struct HealthCore {
    status: CoreStatus,
}

/// `GET /health`: no token, no secrets; `503` when the database fails.
pub async fn health(State(state): Shared) -> Response {
    let h = state.service.health().await;
    let core_up = h.core.status == CoreStatus::Up;
    let status = match (h.database.ok, core_up) {
        (true, true) => HealthStatus::Ok,
        (true, false) => HealthStatus::Degraded,
        (false, _) => HealthStatus::Down,
    };
    let body = HealthBody {
        status,
        version: h.version,
        database: HealthDatabase { ok: h.database.ok },
        core: HealthCore {
            status: h.core.status,
        },
        pending: h.pending,
    };
    let code = if h.database.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// Anything else: `404` in the API's error shape.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route (the README's \"HTTP API\" lists them)")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

async fn list_keys(State(s): Shared, Params(p): Params<KeyList>) -> Answer {
    Ok(ok(&s.service.list(p).await?))
}

/// One key, or `count` keys named `PREFIX-N` when the body has `count`.
async fn create_keys(
    State(s): Shared,
    Extension(caller): Extension<Caller>,
    Extension(Client(ip)): Extension<Client>,
    Body(body): Body,
) -> Answer {
    if let Err(wait) = s.create_delete_check(ip) {
        return Err(ApiError::rate_limited(
            "key creations and deletions",
            retry_after_secs(wait),
        ));
    }
    let actor = caller.actor();
    if body.contains_key("count") {
        let bulk = s
            .service
            .create_bulk(&actor, params::<KeyCreateBulk>(body)?)
            .await?;
        let status = if bulk.keys.iter().any(|k| k.pending) {
            StatusCode::ACCEPTED
        } else {
            StatusCode::CREATED
        };
        return Ok((status, Json(bulk)).into_response());
    }
    let key = s.service.create(&actor, params::<KeyCreate>(body)?).await?;
    let status = if key.pending {
        StatusCode::ACCEPTED
    } else {
        StatusCode::CREATED
    };
    let mut response = (status, Json(&key)).into_response();
    if let Ok(location) = HeaderValue::try_from(format!("/api/keys/{}", key.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn get_key(State(s): Shared, KeyPath(key): KeyPath) -> Answer {
    Ok(ok(&s.service.get_present(key).await?))
}

/// The body holds what changes (the members of the socket's `key.update` but `key`).
async fn update_key(
    State(s): Shared,
    Extension(caller): Extension<Caller>,
    KeyPath(key): KeyPath,
    Body(mut body): Body,
) -> Answer {
    if body.contains_key("key") {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "the key is named by the path, not the body",
        ));
    }
    body.insert("key".into(), key_value(&key));
    let p: KeyUpdate = params(body)?;
    Ok(changed(&s.service.update(&caller.actor(), p).await?))
}

async fn delete_key(
    State(s): Shared,
    Extension(caller): Extension<Caller>,
    KeyPath(key): KeyPath,
) -> Answer {
    if let Err(wait) = s.create_delete_check(caller.ip) {
        return Err(ApiError::rate_limited(
            "key creations and deletions",
            retry_after_secs(wait),
        ));
    }
    Ok(changed(&s.service.delete(&caller.actor(), key).await?))
}

async fn disable_key(
    State(s): Shared,
    Extension(caller): Extension<Caller>,
    KeyPath(key): KeyPath,
) -> Answer {
    Ok(changed(&s.service.disable(&caller.actor(), key).await?))
}

async fn enable_key(
    State(s): Shared,
    Extension(caller): Extension<Caller>,
    KeyPath(key): KeyPath,
) -> Answer {
    Ok(changed(&s.service.enable(&caller.actor(), key).await?))
}

async fn rotate_key(
    State(s): Shared,
    Extension(caller): Extension<Caller>,
    KeyPath(key): KeyPath,
) -> Answer {
    Ok(changed(&s.service.rotate(&caller.actor(), key).await?))
}

/// Sets the key's traffic totals to zero.
async fn reset_key(
    State(s): Shared,
    Extension(caller): Extension<Caller>,
    KeyPath(key): KeyPath,
) -> Answer {
    let p = TrafficResetParams { key };
    Ok(ok(&s.service.traffic_reset(&caller.actor(), p).await?))
}

async fn key_link(State(s): Shared, KeyPath(key): KeyPath) -> Answer {
    Ok(ok(&s.service.link(KeyLink { key }).await?))
}

/// Query: `socks_port`, `http_port` (the client's local proxies).
async fn key_config(
    State(s): Shared,
    KeyPath(key): KeyPath,
    Params(ports): Params<Ports>,
) -> Answer {
    let p = KeyConfig {
        key,
        socks_port: ports.socks_port,
        http_port: ports.http_port,
    };
    Ok(ok(&s.service.config(p).await?))
}

/// The client's local proxies (on 127.0.0.1).
#[derive(serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ports {
    /// The local SOCKS5 port; default 10808. Must differ from the HTTP port (422).
    #[schemars(range(min = 1))]
    socks_port: Option<u16>,
    /// The local HTTP proxy port; default 10809.
    #[schemars(range(min = 1))]
    http_port: Option<u16>,
}

async fn key_traffic(State(s): Shared, KeyPath(key): KeyPath) -> Answer {
    Ok(ok(&s.service.traffic_get(TrafficGet { key }).await?))
}

async fn list_traffic(State(s): Shared, Params(p): Params<TrafficList>) -> Answer {
    Ok(ok(&s.service.traffic_list(p).await?))
}

async fn sync_traffic(State(s): Shared, Extension(_caller): Extension<Caller>) -> Answer {
    Ok(ok(&s.service.traffic_sync().await?))
}

/// Query: `key` (id, UUID or name), `limit`.
async fn audit(State(s): Shared, Params(q): Params<AuditQuery>) -> Answer {
    let key = match q.key.as_deref() {
        Some(raw) => Some(
            veil_shared::validate::key_ref(raw)
                .map_err(|e| ApiError::not_found(format!("no key is named by `key`: {e}")))?,
        ),
        None => None,
    };
    let p = AuditList {
        key,
        limit: q.limit,
    };
    Ok(ok(&s.service.audit(p).await?))
}

#[derive(serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this key's entries: its id, UUID or name.
    key: Option<String>,
    /// Newest first; default 100, taken as 1 to 10,000.
    limit: Option<u32>,
}

/// A key reference as the socket's parameters carry it.
fn key_value(key: &KeyRef) -> Value {
    serde_json::to_value(key).unwrap_or(Value::Null)
}
