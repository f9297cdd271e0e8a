//! The socket's method table: each JSON-RPC method is one call into the typed service, and
//! each service error kind one JSON-RPC error code. Nothing else lives here; `hello` and
//! `watch` concern the connection and are answered by [`super::conn`].

use serde::Serialize;
use serde_json::Value;
use veil_shared::api::{Actor, Request};
use veil_shared::rpc::{ErrorCode, RpcError};

use crate::service::{ErrorKind, Service, ServiceError};

/// Calls the service for one parsed request.
pub async fn call(service: &Service, actor: &Actor, request: Request) -> Result<Value, RpcError> {
    match request {
        Request::KeyCreate(p) => reply(service.create(actor, p).await),
        Request::KeyCreateBulk(p) => reply(service.create_bulk(actor, p).await),
        Request::KeyGet(p) => reply(service.get(p.key).await),
        Request::KeyList(p) => reply(service.list(p).await),
        Request::KeyUpdate(p) => reply(service.update(actor, p).await),
        Request::KeyDisable(p) => reply(service.disable(actor, p.key).await),
        Request::KeyEnable(p) => reply(service.enable(actor, p.key).await),
        Request::KeyDelete(p) => reply(service.delete(actor, p.key).await),
        Request::KeyRotate(p) => reply(service.rotate(actor, p.key).await),
        Request::KeyLink(p) => reply(service.link(p).await),
        Request::KeyConfig(p) => reply(service.config(p).await),
        Request::KeySub(p) => reply(service.key_sub(actor, p).await),
        Request::Doctor(_) => reply(Ok(service.doctor().await)),
        Request::Health(_) => reply(Ok(service.health().await)),
        Request::AuditList(p) => reply(service.audit(p).await),
        Request::TrafficGet(p) => reply(service.traffic_get(p).await),
        Request::TrafficList(p) => reply(service.traffic_list(p).await),
        Request::TrafficSync(_) => reply(service.traffic_sync().await),
        Request::TrafficReset(p) => reply(service.traffic_reset(actor, p).await),
        Request::TrafficHistory(p) => reply(service.traffic_history(p).await),
        Request::Backup(p) => reply(service.backup(actor, p).await),
        Request::TokenAdd(p) => reply(service.token_add(actor, p).await),
        Request::TokenList(_) => reply(service.token_list().await),
        Request::TokenRevoke(p) => reply(service.token_revoke(actor, p).await),
        Request::WebhookList(_) => reply(service.webhook_list().await),
        Request::NodeList(_) => reply(service.node_list().await),
        Request::NodeDrain(p) => reply(service.node_drain(actor, p).await),
        Request::Hello(_) | Request::Watch(_) => Err(RpcError::new(
            ErrorCode::Internal,
            "hello and watch are answered by the connection",
        )),
    }
}

fn reply<T: Serialize>(result: Result<T, ServiceError>) -> Result<Value, RpcError> {
    let value = result.map_err(wire_error)?;
    serde_json::to_value(value)
        .map_err(|e| RpcError::new(ErrorCode::Internal, format!("encoding the result: {e}")))
}

/// A service error as the socket reports it.
pub fn wire_error(e: ServiceError) -> RpcError {
    let code = match e.kind {
        ErrorKind::InvalidInput => ErrorCode::InvalidInput,
        ErrorKind::NotFound => ErrorCode::NotFound,
        ErrorKind::Conflict => ErrorCode::Conflict,
        ErrorKind::CoreUnavailable => ErrorCode::CoreUnavailable,
        // Only the HTTP API authenticates; the socket has no such error of its own.
        ErrorKind::Unauthorized => ErrorCode::Forbidden,
        ErrorKind::Internal => ErrorCode::Internal,
        ErrorKind::RegistryUnavailable => ErrorCode::RegistryUnavailable,
    };
    RpcError::new(code, e.message)
}
