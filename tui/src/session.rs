//! One conversation with veild: connect and say hello, make calls, follow events.
//!
//! Every call goes through [`Session::call`], which keeps the daemon's raw result for
//! `--json` (so scripts see exactly what veild sent, members this build does not know
//! included) and decodes it into the typed result for the human output.

use std::path::Path;

use serde_json::Value;
use veil_shared::api::{Event, Method, Request};
use veil_shared::client::{Client, ClientError};

use crate::failure::Failure;

/// How `veil` introduces itself in `hello`, for the daemon's log.
const CLIENT_NAME: &str = concat!("veil ", env!("CARGO_PKG_VERSION"));

/// A finished call: the result as sent, and the same result written for people.
pub struct Reply {
    pub raw: Value,
    pub human: String,
}

pub struct Session<'a> {
    client: Client,
    socket: &'a Path,
}

impl<'a> Session<'a> {
    /// Connects to `socket` and checks that veild speaks this protocol.
    pub async fn connect(socket: &'a Path) -> Result<Session<'a>, Failure> {
        match Client::connect_checked(socket, CLIENT_NAME).await {
            Ok(client) => Ok(Session { client, socket }),
            Err(e) => Err(Failure::from_client(e, socket)),
        }
    }

    fn fail(&self, err: ClientError) -> Failure {
        Failure::from_client(err, self.socket)
    }

    /// Makes one call: the raw result (for `--json`) and the typed one.
    pub async fn call<M: Method>(&mut self, params: M) -> Result<(Value, M::Output), Failure> {
        let request: Request = params.into();
        let params = request
            .params()
            .map_err(|e| self.fail(ClientError::Protocol(e.to_string())))?;
        let raw = match self.client.call_raw(request.name(), params).await {
            Ok(raw) => raw,
            Err(e) => return Err(self.fail(e)),
        };
        let typed = serde_json::from_value(raw.clone())
            .map_err(|e| Failure::Protocol(format!("veild sent an unreadable result: {e}")))?;
        Ok((raw, typed))
    }

    /// Asks for events; they then come from [`Session::next_event`].
    pub async fn watch(&mut self) -> Result<(), Failure> {
        self.client.watch().await.map_err(|e| self.fail(e))
    }

    /// The next event. A connection veild closed is a failure (exit 3): a watcher that
    /// silently stops would look like a quiet server.
    pub async fn next_event(&mut self) -> Result<Event, Failure> {
        match self.client.next_event().await {
            Ok(Some(event)) => Ok(event),
            Ok(None) => Err(Failure::Lost {
                socket: self.socket.to_owned(),
                detail: "veild closed the connection".into(),
            }),
            Err(e) => Err(self.fail(e)),
        }
    }
}
