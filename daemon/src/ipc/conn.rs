//! One socket connection: newline-delimited JSON-RPC 2.0, answered in order.
//!
//! A reader task turns bytes into lines (capped at 1 MiB) and hands them over a channel of
//! one; the connection task answers them one at a time and, after `watch`, interleaves event
//! notifications. On shutdown the reader stops at once, and a request already being handled
//! is finished and answered before the connection closes.

use std::sync::Arc;
use std::time::Duration;

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::StreamCommon as _;
use serde_json::Value;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufReader, ReadHalf};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use veil_shared::MAX_LINE_BYTES;
use veil_shared::api::{Actor, Event, HelloParams, HelloResult, LaggedEvent, Request, WatchResult};
use veil_shared::framing::{self, Line};
use veil_shared::rpc::{
    ErrorCode, JSONRPC, NotificationEnvelope, RequestEnvelope, ResponseEnvelope, RpcError,
};

use super::auth::{Access, Peer};
use super::dispatch;
use super::limits::{Budget, Refusal, RefusalLog};
use crate::metrics::UNKNOWN_METHOD;
use crate::service::Service;

pub struct Context {
    pub id: u64,
    pub service: Arc<Service>,
    pub access: Arc<Access>,
    pub budget: Arc<Budget>,
    pub refusals: Arc<RefusalLog>,
    pub idle_timeout: Duration,
    pub shutdown: CancellationToken,
}

/// What the reader hands the connection task.
enum Incoming {
    Line(Vec<u8>),
    TooLong(usize),
}

pub async fn serve(stream: Stream, ctx: Context) {
    let _open = ctx.service.metrics().socket_connection();
    let peer = match stream.peer_creds() {
        Ok(creds) => Peer {
            uid: creds.euid().unwrap_or(u32::MAX),
            gid: creds.egid().unwrap_or(u32::MAX),
            pid: creds.pid(),
        },
        Err(e) => {
            tracing::warn!(conn = ctx.id, error = %e, "could not read peer credentials; closing");
            return;
        }
    };
    let span = tracing::info_span!("conn", id = ctx.id, uid = peer.uid, pid = peer.pid);
    let actor = peer.actor();
    async move {
        let (read, mut write) = tokio::io::split(stream);
        if !ctx.access.allows(&peer) {
            if let Some(suppressed) = ctx.refusals.should_record(peer.uid) {
                tracing::warn!(group = %ctx.access.group_name, suppressed, "refused a peer that is neither root nor in the socket group");
                let mut detail = "peer is neither root nor in the socket group".to_owned();
                if suppressed > 0 {
                    detail.push_str(&format!("; {suppressed} more refused since the last record"));
                }
                ctx.service.record_refusal(&actor, "connect", detail).await;
            }
            let err = RpcError::new(
                ErrorCode::Forbidden,
                format!("permission denied: uid {} is neither root nor in group '{}'", peer.uid, ctx.access.group_name),
            );
            let _ = send(&mut write, &ResponseEnvelope::err(Value::Null, err)).await;
            return;
        }
        let _slot = match ctx.budget.admit(peer.uid, ctx.access.privileged(&peer)) {
            Ok(slot) => slot,
            Err(why) => {
                let message = match why {
                    Refusal::PerUid => format!(
                        "uid {} has {} connections open, its limit; close idle ones and try again",
                        peer.uid, ctx.budget.per_uid
                    ),
                    Refusal::Full => "every connection slot is taken; try again later".to_owned(),
                };
                tracing::debug!(reason = ?why, "refused a connection over the limit");
                let err = RpcError::new(ErrorCode::TooManyConnections, message);
                let _ = send(&mut write, &ResponseEnvelope::err(Value::Null, err)).await;
                return;
            }
        };
        tracing::debug!("connected");
        run(read, write, &actor, &ctx).await;
        tracing::debug!("disconnected");
    }
    .instrument(span)
    .await;
}

async fn run<W: AsyncWrite + Unpin>(
    read: ReadHalf<Stream>,
    mut write: W,
    actor: &Actor,
    ctx: &Context,
) {
    let (tx, mut incoming) = mpsc::channel(1);
    let reader = tokio::spawn(read_lines(read, tx, ctx.shutdown.clone()));
    let mut events: Option<broadcast::Receiver<Event>> = None;
    let idle = tokio::time::sleep(ctx.idle_timeout);
    tokio::pin!(idle);
    loop {
        let result = tokio::select! {
            biased;
            msg = incoming.recv() => match msg {
                Some(msg) => {
                    let done = handle(msg, actor, ctx, &mut events, &mut write).await;
                    idle.as_mut().reset(tokio::time::Instant::now() + ctx.idle_timeout);
                    done
                }
                None => break,
            },
            event = next_event(&mut events) => match event {
                Some(event) => notify(&mut write, &event).await,
                None => { events = None; Ok(()) }
            },
            // A watcher waits for events by design; anything else silent this long goes.
            () = &mut idle, if events.is_none() => {
                tracing::debug!("closing an idle connection");
                break;
            }
            () = ctx.shutdown.cancelled() => break,
        };
        if result.is_err() {
            break; // the peer went away
        }
    }
    reader.abort();
    let _ = write.shutdown().await;
}

/// The next event for a watcher; pending forever when not watching. A watcher that fell
/// behind gets `event.lagged` and carries on; `None` when the bus closed.
async fn next_event(events: &mut Option<broadcast::Receiver<Event>>) -> Option<Event> {
    let Some(rx) = events else {
        return std::future::pending().await;
    };
    match rx.recv().await {
        Ok(event) => Some(event),
        Err(broadcast::error::RecvError::Lagged(missed)) => {
            Some(Event::Lagged(LaggedEvent { missed }))
        }
        Err(broadcast::error::RecvError::Closed) => None,
    }
}

async fn read_lines(
    read: ReadHalf<Stream>,
    tx: mpsc::Sender<Incoming>,
    shutdown: CancellationToken,
) {
    let mut reader = BufReader::new(read);
    let mut buf = Vec::new();
    loop {
        let line = tokio::select! {
            () = shutdown.cancelled() => return,
            line = framing::read_line(&mut reader, &mut buf, MAX_LINE_BYTES) => line,
        };
        let msg = match line {
            Ok(Line::Complete) if buf.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(Line::Complete) => Incoming::Line(std::mem::take(&mut buf)),
            Ok(Line::TooLong { bytes }) => Incoming::TooLong(bytes),
            Ok(Line::Eof) => return,
            Err(e) => {
                tracing::debug!(error = %e, "read failed");
                return;
            }
        };
        if tx.send(msg).await.is_err() {
            return;
        }
    }
}

async fn handle<W: AsyncWrite + Unpin>(
    msg: Incoming,
    actor: &Actor,
    ctx: &Context,
    events: &mut Option<broadcast::Receiver<Event>>,
    write: &mut W,
) -> std::io::Result<()> {
    let started = std::time::Instant::now();
    let metrics = ctx.service.metrics();
    let line = match msg {
        Incoming::Line(line) => line,
        Incoming::TooLong(bytes) => {
            tracing::warn!(bytes, "refused an oversize request line");
            metrics.socket_request(UNKNOWN_METHOD, false, started.elapsed());
            let err = RpcError::invalid_request(format!(
                "request line of {bytes} bytes is over the {MAX_LINE_BYTES}-byte limit"
            ));
            return send(write, &ResponseEnvelope::err(Value::Null, err)).await;
        }
    };
    let (envelope, id) = match parse_envelope(&line) {
        Ok(parsed) => parsed,
        Err((id, err)) => {
            metrics.socket_request(UNKNOWN_METHOD, false, started.elapsed());
            return send(write, &ResponseEnvelope::err(id, err)).await;
        }
    };
    let req = crate::logging::request::next();
    let span = tracing::info_span!("request", req, id = %id.as_ref().map_or_else(|| "-".to_owned(), std::string::ToString::to_string), method = %envelope.method);
    let outcome = async {
        match Request::parse(&envelope.method, envelope.params)? {
            Request::Hello(p) => encode(hello(p)?),
            Request::Watch(_) => {
                // Subscribe before answering, so no event after the answer is missed.
                events.get_or_insert_with(|| ctx.service.subscribe());
                encode(WatchResult { subscribed: true })
            }
            request => {
                crate::logging::request::scope(req, dispatch::call(&ctx.service, actor, request))
                    .await
            }
        }
    }
    .instrument(span)
    .await;
    metrics.socket_request(&envelope.method, outcome.is_ok(), started.elapsed());
    let Some(id) = id else {
        return Ok(()); // a notification: executed, never answered
    };
    let response = match outcome {
        Ok(result) => ResponseEnvelope::ok(id, result),
        Err(err) => ResponseEnvelope::err(id, err),
    };
    send(write, &response).await
}

/// Checks the envelope and returns it with its id (`None` for a notification, which has no
/// id member at all; an explicit `"id": null` is answered with null). On failure returns
/// the id to answer with.
pub fn parse_envelope(line: &[u8]) -> Result<(RequestEnvelope, Option<Value>), (Value, RpcError)> {
    let value: Value = serde_json::from_slice(line).map_err(|e| {
        (
            Value::Null,
            RpcError::parse_error(format!("not valid JSON: {e}")),
        )
    })?;
    let raw_id = value.get("id").cloned();
    let id = raw_id.clone().unwrap_or(Value::Null);
    if !matches!(id, Value::Null | Value::String(_) | Value::Number(_)) {
        return Err((
            Value::Null,
            RpcError::invalid_request("id must be a string, a number or null"),
        ));
    }
    // An id is echoed exactly or not at all: a number JSON would read back as another
    // (past 64 bits, or with a fraction or exponent) is refused, not rounded.
    if let Value::Number(n) = &id
        && n.is_f64()
    {
        return Err((
            Value::Null,
            RpcError::invalid_request(
                "a numeric id must be an integer from -2^63 to 2^64-1; use a string for others",
            ),
        ));
    }
    if value.is_array() {
        return Err((
            Value::Null,
            RpcError::invalid_request("batch requests are not supported; send one object per line"),
        ));
    }
    if !value.is_object() {
        return Err((
            Value::Null,
            RpcError::invalid_request("a request must be a JSON object"),
        ));
    }
    let envelope: RequestEnvelope = serde_json::from_value(value).map_err(|e| {
        (
            id.clone(),
            RpcError::invalid_request(format!("not a JSON-RPC request: {e}")),
        )
    })?;
    if envelope.jsonrpc != JSONRPC {
        return Err((id, RpcError::invalid_request("jsonrpc must be \"2.0\"")));
    }
    Ok((envelope, raw_id))
}

async fn notify<W: AsyncWrite + Unpin>(write: &mut W, event: &Event) -> std::io::Result<()> {
    let params = match event.params() {
        Ok(params) => params,
        Err(e) => {
            tracing::error!(error = %e, "could not encode an event");
            return Ok(());
        }
    };
    let note = NotificationEnvelope {
        jsonrpc: JSONRPC.into(),
        method: event.method().into(),
        params,
    };
    send(write, &note).await
}

async fn send<W: AsyncWrite + Unpin, T: serde::Serialize>(
    write: &mut W,
    msg: &T,
) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    write.flush().await
}

fn encode<T: serde::Serialize>(value: T) -> Result<Value, RpcError> {
    serde_json::to_value(value)
        .map_err(|e| RpcError::new(ErrorCode::Internal, format!("encoding the result: {e}")))
}

/// The version handshake: a client that speaks another protocol is refused, clearly.
fn hello(p: HelloParams) -> Result<HelloResult, RpcError> {
    if let Some(theirs) = p.protocol
        && theirs != veil_shared::PROTOCOL_VERSION
    {
        return Err(RpcError::new(
            ErrorCode::VersionMismatch,
            format!(
                "veild {} speaks protocol {}, the client speaks {theirs}; upgrade the older one",
                veil_shared::VERSION,
                veil_shared::PROTOCOL_VERSION
            ),
        ));
    }
    Ok(HelloResult {
        protocol: veil_shared::PROTOCOL_VERSION,
        protocol_minor: veil_shared::PROTOCOL_MINOR,
        version: veil_shared::VERSION.into(),
    })
}
