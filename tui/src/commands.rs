//! Runs one command: connect, make the call, print the result (JSON or for people).
//!
//! Every call goes through [`Session::call`], which keeps the daemon's raw result for
//! `--json` (so scripts see exactly what veild sent, members this build does not know
//! included) and decodes it into the typed result for the human output.

use std::io::{self, Write};
use std::path::Path;

use serde_json::Value;
use veil_shared::api::{
    AuditList, HealthParams, KeyCreate, KeyCreateBulk, KeyDelete, KeyDisable, KeyEnable, KeyGet,
    KeyList, KeyRotate, KeyUpdate, Method, Request,
};
use veil_shared::client::{Client, ClientError};

use crate::cli::{AddArgs, AuditArgs, Command, KeyCommand, ListArgs};
use crate::failure::Failure;
use crate::humanize;
use crate::output::{self, Change};

/// How `veil` introduces itself in `hello`, for the daemon's log.
const CLIENT_NAME: &str = concat!("veil ", env!("CARGO_PKG_VERSION"));

/// A finished call: the result as sent, and the same result written for people.
pub(crate) struct Reply {
    pub(crate) raw: Value,
    pub(crate) human: String,
}

pub(crate) struct Session<'a> {
    client: Client,
    socket: &'a Path,
}

impl Session<'_> {
    fn fail(&self, err: ClientError) -> Failure {
        Failure::from_client(err, self.socket)
    }

    pub(crate) async fn call<M: Method>(
        &mut self,
        params: M,
    ) -> Result<(Value, M::Output), Failure> {
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
}

/// Connects to the daemon at `socket` and runs `command`, printing to `out`.
pub async fn execute(
    command: Command,
    socket: &Path,
    json: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    // `init` writes files and needs no daemon.
    if let Command::Init(args) = &command {
        let written = crate::init::run(args, socket)?;
        let text = if json {
            output::json(&serde_json::to_value(&written).unwrap_or_default())
        } else {
            crate::init::summary(&written)
        };
        return write(out, &text).map(|_| ());
    }
    let client = match Client::connect_checked(socket, CLIENT_NAME).await {
        Ok(client) => client,
        Err(e) => {
            if matches!(command, Command::Doctor) {
                eprint!("{}", crate::doctor::OFFLINE_HINT);
            }
            return Err(Failure::from_client(e, socket));
        }
    };
    let mut session = Session { client, socket };
    let reply = match command {
        Command::Key(cmd) => key(&mut session, cmd).await?,
        Command::Health => {
            let (raw, health) = session.call(HealthParams {}).await?;
            Reply {
                raw,
                human: output::health(&health),
            }
        }
        Command::Audit(args) => audit(&mut session, args).await?,
        Command::Traffic(args) => crate::traffic::run(&mut session, args).await?,
        Command::Watch => return watch(&mut session, json, out).await,
        Command::Doctor => return crate::doctor::run(&mut session, json, out).await,
        // Handled above, before connecting.
        Command::Init(_) => return Ok(()),
    };
    let text = if json {
        output::json(&reply.raw)
    } else {
        reply.human
    };
    write(out, &text).map(|_| ())
}

async fn key(session: &mut Session<'_>, cmd: KeyCommand) -> Result<Reply, Failure> {
    let (raw, key, change) = match cmd {
        KeyCommand::Add(args) => return add(session, args).await,
        KeyCommand::List(args) => return list(session, args).await,
        KeyCommand::Show(arg) => {
            let (raw, key) = session.call(KeyGet { key: arg.key }).await?;
            let human = output::key_block(&key);
            return Ok(Reply { raw, human });
        }
        KeyCommand::Rename { key, name } => {
            let params = KeyUpdate {
                key,
                name: Some(name),
                note: None,
                data_limit: None,
                expires_at: None,
                reset: None,
            };
            let (raw, key) = session.call(params).await?;
            (raw, key, Change::Renamed)
        }
        KeyCommand::Note { key, text } => {
            let params = KeyUpdate {
                key,
                name: None,
                note: Some(text),
                data_limit: None,
                expires_at: None,
                reset: None,
            };
            let (raw, key) = session.call(params).await?;
            // Judge by what the daemon stored: it trims, so "  " clears too.
            let change = if key.note.is_empty() {
                Change::NoteCleared
            } else {
                Change::NoteSet
            };
            (raw, key, change)
        }
        KeyCommand::Disable(arg) => {
            let (raw, key) = session.call(KeyDisable { key: arg.key }).await?;
            (raw, key, Change::Disabled)
        }
        KeyCommand::Enable(arg) => {
            let (raw, key) = session.call(KeyEnable { key: arg.key }).await?;
            (raw, key, Change::Enabled)
        }
        KeyCommand::Rm(arg) => {
            let (raw, key) = session.call(KeyDelete { key: arg.key }).await?;
            (raw, key, Change::Deleted)
        }
        KeyCommand::Link(arg) => return crate::share::link(session, arg).await,
        KeyCommand::Config(args) => return crate::share::config(session, args).await,
        KeyCommand::Qr(args) => return crate::share::qr(session, args).await,
        KeyCommand::Rotate(arg) => {
            let (raw, key) = session.call(KeyRotate { key: arg.key }).await?;
            (raw, key, Change::Rotated)
        }
        KeyCommand::Update(args) => {
            let (raw, key) = session.call(args.into_params()).await?;
            (raw, key, Change::Updated)
        }
    };
    let human = output::changed(change, &key);
    Ok(Reply { raw, human })
}

async fn add(session: &mut Session<'_>, args: AddArgs) -> Result<Reply, Failure> {
    match (args.name, args.count, args.prefix) {
        (Some(name), _, _) => {
            let params = KeyCreate {
                name,
                note: args.note,
                data_limit: args.limits.limit.and_then(|l| l.0),
                expires_at: args.limits.expires.and_then(|e| e.0),
                reset: args.limits.reset,
            };
            let (raw, key) = session.call(params).await?;
            let human = output::changed(Change::Created, &key);
            Ok(Reply { raw, human })
        }
        (None, Some(count), Some(prefix)) => {
            let params = KeyCreateBulk {
                count,
                prefix: prefix.clone(),
            };
            let (raw, bulk) = session.call(params).await?;
            let human = output::bulk(&prefix, &bulk);
            Ok(Reply { raw, human })
        }
        // clap's rules make this unreachable; say what is wanted rather than panic.
        _ => Err(Failure::Usage(
            "key add needs NAME, or --count N with --prefix P".into(),
        )),
    }
}

async fn list(session: &mut Session<'_>, args: ListArgs) -> Result<Reply, Failure> {
    let offset = args.offset.unwrap_or(0);
    let params = KeyList {
        state: args.state.map(Into::into),
        search: args.search,
        offset: args.offset,
        limit: args.limit,
    };
    let (raw, page) = session.call(params).await?;
    let human = output::key_page(&page, offset);
    Ok(Reply { raw, human })
}

async fn audit(session: &mut Session<'_>, args: AuditArgs) -> Result<Reply, Failure> {
    let params = AuditList {
        key: args.key,
        limit: args.limit,
    };
    let (raw, page) = session.call(params).await?;
    let human = output::audit(&page);
    Ok(Reply { raw, human })
}

/// Prints events until the daemon closes the connection (a failure: exit 3, since a
/// watcher that silently stops would look like a quiet server) or the user presses Ctrl-C.
async fn watch(session: &mut Session<'_>, json: bool, out: &mut impl Write) -> Result<(), Failure> {
    session.client.watch().await.map_err(|e| session.fail(e))?;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let event = tokio::select! {
            stop = &mut ctrl_c => {
                return stop.map_err(|e| Failure::Local(format!("cannot catch Ctrl-C: {e}")));
            }
            event = session.client.next_event() => event,
        };
        let event = match event {
            Ok(Some(event)) => event,
            Ok(None) => {
                return Err(Failure::Lost {
                    socket: session.socket.to_owned(),
                    detail: "veild closed the connection".into(),
                });
            }
            Err(e) => return Err(session.fail(e)),
        };
        let line = if json {
            output::event_json(&event).map_err(|e| Failure::Local(e.to_string()))?
        } else {
            output::event(&event, &humanize::utc_clock_now())
        };
        if !write(out, &line)? {
            return Ok(());
        }
    }
}

/// Writes and flushes. `Ok(false)` when the reader went away (`veil … | head`): that ends
/// the output quietly instead of failing.
pub(crate) fn write(out: &mut impl Write, text: &str) -> Result<bool, Failure> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(Failure::Local(format!("cannot write the output: {e}"))),
    }
}
