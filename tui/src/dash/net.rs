//! The socket worker: keeps two connections to veild (one `watch`ing, one for calls),
//! runs the [`Cmd`]s `update` asks for in order, and turns everything it hears into
//! [`Msg`]s. When veild goes away it says so and reconnects by itself.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use veil_shared::api::AuditList;
use veil_shared::api::{
    HealthParams, HelloParams, HelloResult, KeyDelete, KeyDisable, KeyEnable, KeyLink, KeyList,
    KeySub, Method, TrafficGet, TrafficHistory, TrafficList, TrafficResetParams,
};
use veil_shared::client::{Client, ClientError};
use veil_shared::model::KeyRef;
use veil_shared::rpc::ErrorCode;
use veil_shared::traffic::Resolution;

use super::event::{Action, CallError, Cmd, LinkPurpose, Msg, Reply, TodaySum};

/// How `veil` introduces itself in `hello`.
const CLIENT_NAME: &str = concat!("veil dashboard ", env!("CARGO_PKG_VERSION"));
/// The first wait before reconnecting, doubled up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// How many audit entries fill the event log on connect.
const AUDIT_ON_CONNECT: u32 = 200;

/// Starts the worker. Dropping the returned sender ends it.
pub fn spawn(
    socket: PathBuf,
    tx: mpsc::Sender<Msg>,
) -> (mpsc::UnboundedSender<Cmd>, JoinHandle<()>) {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(socket, tx, cmd_rx));
    (cmd_tx, task)
}

async fn run(socket: PathBuf, tx: mpsc::Sender<Msg>, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
    let mut delay = RETRY_FIRST;
    loop {
        let (outcome, was_up) = session(&socket, &tx, &mut cmds).await;
        match outcome {
            Ok(()) => return,
            Err(error) => {
                if was_up {
                    delay = RETRY_FIRST;
                }
                tracing::warn!(%error, retry_ms = delay.as_millis(), "no connection to veild");
                if tx.send(Msg::Disconnected { error }).await.is_err() {
                    return;
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(RETRY_MAX);
        // Calls queued for the lost connection are stale; `update` asks again on connect.
        while cmds.try_recv().is_ok() {}
    }
}

/// Aborts the event reader when the session ends, however it ends.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One connected stretch. `Ok` when the dashboard is closing; the bool says whether the
/// connection was made at all.
async fn session(
    socket: &Path,
    tx: &mpsc::Sender<Msg>,
    cmds: &mut mpsc::UnboundedReceiver<Cmd>,
) -> (Result<(), String>, bool) {
    let connect = async {
        let mut watcher = Client::connect_checked(socket, CLIENT_NAME).await?;
        watcher.watch().await?;
        let mut caller = Client::connect(socket).await?;
        let hello: HelloResult = caller
            .call(HelloParams {
                client: Some(CLIENT_NAME.to_owned()),
                protocol: Some(veil_shared::PROTOCOL_VERSION),
            })
            .await?;
        Ok::<_, ClientError>((watcher, caller, hello.version))
    };
    let (mut watcher, mut caller, version) = match connect.await {
        Ok(parts) => parts,
        Err(e) => return (Err(e.to_string()), false),
    };
    tracing::info!(socket = %socket.display(), %version, "connected to veild");
    if tx.send(Msg::Connected { version }).await.is_err() {
        return (Ok(()), true);
    }
    let (dead_tx, mut dead_rx) = oneshot::channel::<String>();
    let events = tx.clone();
    let _reader = AbortOnDrop(tokio::spawn(async move {
        let why = loop {
            match watcher.next_event().await {
                Ok(Some(event)) => {
                    if events.send(Msg::Daemon(Box::new(event))).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break "veild closed the connection".to_owned(),
                Err(e) => break e.to_string(),
            }
        };
        let _ = dead_tx.send(why);
    }));
    loop {
        tokio::select! {
            why = &mut dead_rx => {
                let why = why.unwrap_or_else(|_| "the event stream stopped".to_owned());
                return (Err(why), true);
            }
            cmd = cmds.recv() => {
                let Some(cmd) = cmd else { return (Ok(()), true) };
                let (reply, broken) = perform(&mut caller, cmd).await;
                if tx.send(Msg::Reply(Box::new(reply))).await.is_err() {
                    return (Ok(()), true);
                }
                if let Some(why) = broken {
                    return (Err(why), true);
                }
            }
        }
    }
}

/// A failed call as the dashboard shows it, and whether the connection is gone with it.
fn call_error(e: ClientError, broken: &mut Option<String>) -> CallError {
    match e {
        ClientError::Rpc(rpc) => CallError {
            unsupported: rpc.kind() == ErrorCode::UnknownMethod,
            message: rpc.message,
        },
        ClientError::Io(io) => {
            let message = format!("connection to veild failed: {io}");
            *broken = Some(message.clone());
            CallError::new(message)
        }
        other => CallError::new(other.to_string()),
    }
}

async fn call<M: Method>(
    client: &mut Client,
    params: M,
    broken: &mut Option<String>,
) -> Result<M::Output, CallError> {
    let started = std::time::Instant::now();
    let result = client.call(params).await.map_err(|e| call_error(e, broken));
    let ms = started.elapsed().as_millis();
    match &result {
        Ok(_) => tracing::debug!(method = M::NAME, ms, "call"),
        Err(e) => tracing::warn!(method = M::NAME, ms, error = %e.message, "call failed"),
    }
    result
}

/// Makes one call. Long on purpose: one short arm per [`Cmd`], each mapping a call to its
/// reply, so every call the dashboard can make is readable in one place.
#[allow(
    clippy::too_many_lines,
    reason = "one short arm per case; see the doc comment"
)]
async fn perform(client: &mut Client, cmd: Cmd) -> (Reply, Option<String>) {
    let mut broken = None;
    let b = &mut broken;
    let reply = match cmd {
        Cmd::Health => Reply::Health(call(client, HealthParams {}, b).await),
        Cmd::Nodes => Reply::Nodes(call(client, veil_shared::fleet::NodeListParams {}, b).await),
        Cmd::Keys => Reply::Keys(call(client, KeyList::default(), b).await),
        Cmd::Traffic => Reply::Traffic(call(client, TrafficList::default(), b).await),
        Cmd::Audit => {
            let params = AuditList {
                key: None,
                limit: Some(AUDIT_ON_CONNECT),
            };
            Reply::Audit(call(client, params, b).await)
        }
        Cmd::Today { ids, since } => Reply::Today(today(client, &ids, since, b).await),
        Cmd::TrafficDetail { id } => Reply::TrafficDetail {
            id,
            result: call(
                client,
                TrafficGet {
                    key: KeyRef::Id(id),
                },
                b,
            )
            .await,
        },
        Cmd::History { id, resolution } => {
            let params = TrafficHistory {
                key: KeyRef::Id(id),
                resolution: Some(resolution),
                since: None,
                until: None,
            };
            Reply::History {
                id,
                resolution,
                result: call(client, params, b).await,
            }
        }
        Cmd::Link {
            id,
            purpose: LinkPurpose::SubQr,
        } => Reply::Link {
            id,
            purpose: LinkPurpose::SubQr,
            result: call(
                client,
                KeySub {
                    key: KeyRef::Id(id),
                    rotate: false,
                    revoke: false,
                },
                b,
            )
            .await
            .map(|r| r.url.unwrap_or_default()),
        },
        Cmd::Link { id, purpose } => Reply::Link {
            id,
            purpose,
            result: call(
                client,
                KeyLink {
                    key: KeyRef::Id(id),
                },
                b,
            )
            .await
            .map(|r| r.link),
        },
        Cmd::Create(create) => {
            let name = create.name.clone();
            Reply::Changed {
                action: Action::Created,
                name,
                result: call(client, create, b).await,
            }
        }
        Cmd::Update { update, what } => {
            let name = update
                .name
                .clone()
                .unwrap_or_else(|| update.key.to_string());
            Reply::Changed {
                action: what,
                name,
                result: call(client, update, b).await,
            }
        }
        Cmd::Disable { id } => Reply::Changed {
            action: Action::Disabled,
            name: id.to_string(),
            result: call(
                client,
                KeyDisable {
                    key: KeyRef::Id(id),
                },
                b,
            )
            .await,
        },
        Cmd::Enable { id } => Reply::Changed {
            action: Action::Enabled,
            name: id.to_string(),
            result: call(
                client,
                KeyEnable {
                    key: KeyRef::Id(id),
                },
                b,
            )
            .await,
        },
        Cmd::Delete { id } => Reply::Changed {
            action: Action::Deleted,
            name: id.to_string(),
            result: call(
                client,
                KeyDelete {
                    key: KeyRef::Id(id),
                },
                b,
            )
            .await,
        },
        Cmd::ResetTraffic { id } => {
            let result = call(
                client,
                TrafficResetParams {
                    key: KeyRef::Id(id),
                },
                b,
            )
            .await;
            Reply::TrafficReset {
                id,
                name: result
                    .as_ref()
                    .map_or_else(|_| id.to_string(), |t| t.name.clone()),
                result,
            }
        }
    };
    (reply, broken)
}

/// Sums the daily buckets since `since` of each key. Stops at the first failure.
async fn today(
    client: &mut Client,
    ids: &[i64],
    since: i64,
    broken: &mut Option<String>,
) -> Result<TodaySum, CallError> {
    let mut sum = TodaySum {
        since,
        ..Default::default()
    };
    for &id in ids {
        let params = TrafficHistory {
            key: KeyRef::Id(id),
            resolution: Some(Resolution::Day),
            since: Some(since),
            until: None,
        };
        let page = match call(client, params, broken).await {
            Ok(page) => page,
            // A key deleted meanwhile has no history to add.
            Err(e) if !e.unsupported && broken.is_none() && e.message.contains("not found") => {
                continue;
            }
            Err(e) => return Err(e),
        };
        for bucket in page.buckets.iter().filter(|b| b.at >= since) {
            sum.uplink = sum.uplink.saturating_add(bucket.uplink);
            sum.downlink = sum.downlink.saturating_add(bucket.downlink);
        }
    }
    Ok(sum)
}
