//! An async client for the daemon's socket: one connection, sequential calls, and after
//! `watch` a stream of events. Used by `veil`, the dashboard, tests and benchmarks.

use std::io;
use std::path::{Path, PathBuf};

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use serde_json::Value;
use thiserror::Error;
use tokio::io::{AsyncWriteExt, BufReader};

use crate::api::{Event, HelloParams, HelloResult, Method, Request, WatchParams};
use crate::framing::{self, Line};
use crate::rpc::{JSONRPC, RequestEnvelope, RpcError, ServerMessage};

/// The largest line the client accepts from the daemon. Results such as a 10,000-key list
/// are a few MiB; this only guards against a runaway peer.
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, Error)]
pub enum ClientError {
    /// The socket could not be reached (no daemon, wrong path, no permission).
    #[error("cannot connect to veild at {path}: {source}")]
    Connect { path: PathBuf, source: io::Error },
    /// The daemon answered with an error.
    #[error("{0}")]
    Rpc(#[from] RpcError),
    /// The connection broke or the daemon sent something unreadable.
    #[error("connection to veild failed: {0}")]
    Io(#[from] io::Error),
    #[error("veild sent an unreadable message: {0}")]
    Protocol(String),
    #[error("veild speaks protocol {daemon}, this client speaks {client}; upgrade the older one")]
    Version { daemon: u32, client: u32 },
}

pub struct Client {
    /// The stream; reads are buffered, writes go straight through `get_mut`.
    conn: BufReader<Stream>,
    next_id: u64,
    buf: Vec<u8>,
    /// Events that arrived while waiting for a response, handed out by `next_event`.
    queued: std::collections::VecDeque<Event>,
}

impl Client {
    pub async fn connect(path: impl AsRef<Path>) -> Result<Self, ClientError> {
        let path = path.as_ref();
        let connect_err = |source| ClientError::Connect {
            path: path.to_owned(),
            source,
        };
        let name = path.to_fs_name::<GenericFilePath>().map_err(connect_err)?;
        let stream = Stream::connect(name).await.map_err(connect_err)?;
        Ok(Self {
            conn: BufReader::new(stream),
            next_id: 1,
            buf: Vec::new(),
            queued: Default::default(),
        })
    }

    /// Connects and checks that the daemon speaks this client's protocol version.
    pub async fn connect_checked(
        path: impl AsRef<Path>,
        client: &str,
    ) -> Result<Self, ClientError> {
        let mut this = Self::connect(path).await?;
        let hello = HelloParams {
            client: Some(client.to_owned()),
            protocol: Some(crate::PROTOCOL_VERSION),
        };
        // A daemon that refuses our version answers `version_mismatch`, kept as `Rpc`.
        let res: HelloResult = this.call(hello).await?;
        if res.protocol != crate::PROTOCOL_VERSION {
            return Err(ClientError::Version {
                daemon: res.protocol,
                client: crate::PROTOCOL_VERSION,
            });
        }
        Ok(this)
    }

    /// Calls a method with typed params and decodes its typed result.
    pub async fn call<M: Method>(&mut self, params: M) -> Result<M::Output, ClientError> {
        let request: Request = params.into();
        let params = request
            .params()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let value = self.call_raw(request.name(), params).await?;
        serde_json::from_value(value).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Calls any method by name with raw JSON params; returns the raw result.
    pub async fn call_raw(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let envelope = RequestEnvelope {
            jsonrpc: JSONRPC.into(),
            id: Some(Value::from(id)),
            method: method.to_owned(),
            params: Some(params),
        };
        let mut line =
            serde_json::to_vec(&envelope).map_err(|e| ClientError::Protocol(e.to_string()))?;
        line.push(b'\n');
        self.conn.get_mut().write_all(&line).await?;
        loop {
            match self.read_message().await? {
                ServerMessage::Response(resp) if resp.id == id => {
                    return match (resp.result, resp.error) {
                        (_, Some(err)) => Err(ClientError::Rpc(err)),
                        (Some(result), None) => Ok(result),
                        (None, None) => {
                            Err(ClientError::Protocol("response without result".into()))
                        }
                    };
                }
                ServerMessage::Response(resp) => {
                    // An answer to an id this client never used: only an error for a line
                    // the daemon could not read carries id null.
                    if let Some(err) = resp.error {
                        return Err(ClientError::Rpc(err));
                    }
                    return Err(ClientError::Protocol(format!(
                        "response for unknown id {}",
                        resp.id
                    )));
                }
                ServerMessage::Notification(n) => {
                    if let Some(event) = Event::parse(&n.method, n.params)
                        .map_err(|e| ClientError::Protocol(e.to_string()))?
                    {
                        self.queued.push_back(event);
                    }
                }
            }
        }
    }

    /// Subscribes this connection to events.
    pub async fn watch(&mut self) -> Result<(), ClientError> {
        self.call(WatchParams {}).await.map(|_| ())
    }

    /// Waits for the next event after `watch`. `Ok(None)` when the daemon closed the connection.
    pub async fn next_event(&mut self) -> Result<Option<Event>, ClientError> {
        if let Some(event) = self.queued.pop_front() {
            return Ok(Some(event));
        }
        loop {
            let msg = match self.read_message().await {
                Ok(msg) => msg,
                Err(ClientError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            match msg {
                ServerMessage::Notification(n) => {
                    if let Some(event) = Event::parse(&n.method, n.params)
                        .map_err(|e| ClientError::Protocol(e.to_string()))?
                    {
                        return Ok(Some(event));
                    }
                }
                ServerMessage::Response(resp) => {
                    return Err(ClientError::Protocol(format!(
                        "unexpected response id {}",
                        resp.id
                    )));
                }
            }
        }
    }

    async fn read_message(&mut self) -> Result<ServerMessage, ClientError> {
        match framing::read_line(&mut self.conn, &mut self.buf, MAX_RESPONSE_BYTES).await? {
            Line::Complete => {
                serde_json::from_slice(&self.buf).map_err(|e| ClientError::Protocol(format!("{e}")))
            }
            Line::TooLong { bytes } => Err(ClientError::Protocol(format!(
                "a {bytes}-byte line from veild is over the limit"
            ))),
            Line::Eof => Err(ClientError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "veild closed the connection",
            ))),
        }
    }
}
