//! Webhooks: signed POSTs of key and core events to the receivers in `[[webhook]]`.
//!
//! Events are written to the outbox ([`crate::store::webhooks`]) in the transaction of the
//! change they report; this module only delivers them. One task: it wakes when something
//! may have been enqueued (any event on the bus, a core transition), at the earliest next
//! attempt, and at least every [`IDLE`]; it sends at most [`MAX_IN_FLIGHT`] requests at once,
//! each with its webhook's timeout, records every attempt, and retries failures with
//! backoff ([`backoff`]) until a delivery succeeds (2xx) or is given up on. Redirects are
//! not followed. A stop cancels the requests in flight; they are tried again at the next
//! start (receivers drop duplicates by the event id).
//!
//! - [`sign`]: the `X-Veil-Signature` header.
//! - [`backoff`]: retry delays.

pub mod backoff;
pub mod sign;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, broadcast};
use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;
use veil_shared::api::Event;

use crate::config::webhook::Webhook;
use crate::metrics::Metrics;
use crate::store::webhooks::{self as outbox, Due, Outcome};
use crate::store::{Store, StoreError};

/// Requests in flight at once, over every webhook.
pub const MAX_IN_FLIGHT: usize = 16;
/// The longest the task sleeps without looking at the queue (expiry warnings are found by
/// the traffic poller, which tells nobody).
pub const IDLE: Duration = Duration::from_secs(30);
/// Finished deliveries are kept this long, then pruned.
pub const KEEP_DONE: Duration = Duration::from_secs(7 * 86_400);
/// How often finished deliveries are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);
/// After a database error, look again this soon.
const ERROR_RETRY: Duration = Duration::from_secs(5);

/// Wakes the delivery task after something outside a key change was enqueued.
#[derive(Clone, Debug, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Mirrors the configured webhooks in the database (removed ones lose their queue, which
/// is logged).
pub async fn sync(store: &Store, hooks: &[Webhook]) -> Result<(), StoreError> {
    let hooks = hooks.to_vec();
    let removed = store
        .write(move |sp| {
            let receivers: Vec<outbox::Receiver<'_>> = hooks
                .iter()
                .map(|h| outbox::Receiver {
                    name: &h.name,
                    events: &h.events,
                    usage_shares: &h.usage_shares,
                    expiry_warning: h.expiry_warning.map(|d| d.as_secs() as i64),
                })
                .collect();
            outbox::sync(sp, &receivers)
        })
        .await?;
    for (name, pending) in removed {
        tracing::warn!(webhook = %name, dropped = pending, "a webhook left the config; its queued deliveries were dropped");
    }
    Ok(())
}

/// Starts the delivery task when any webhook is configured.
pub fn spawn(
    store: Store,
    metrics: Arc<Metrics>,
    hooks: &[Webhook],
    events: broadcast::Receiver<Event>,
    wake: Wake,
    shutdown: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    if hooks.is_empty() {
        return None;
    }
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("veild/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "webhooks: cannot build the HTTP client; nothing is delivered");
            return None;
        }
    };
    for hook in hooks {
        tracing::info!(webhook = %hook.name, url = %hook.shown_url, events = ?hook.events, "webhook configured");
    }
    let task = Deliverer {
        store,
        metrics,
        hooks: hooks
            .iter()
            .map(|h| (h.name.clone(), Arc::new(h.clone())))
            .collect(),
        client,
        running: JoinSet::new(),
        busy: HashMap::new(),
        next_prune: Instant::now(),
    };
    Some(tokio::spawn(task.run(events, wake, shutdown)))
}

struct Deliverer {
    store: Store,
    metrics: Arc<Metrics>,
    hooks: HashMap<String, Arc<Webhook>>,
    client: reqwest::Client,
    running: JoinSet<Attempted>,
    /// The delivery each running request is for.
    busy: HashMap<Id, (String, i64)>,
    next_prune: Instant,
}

/// One attempt's result, as the request task hands it back.
struct Attempted {
    due: Due,
    result: Result<u16, (Option<u16>, String)>,
}

impl Deliverer {
    async fn run(
        mut self,
        mut events: broadcast::Receiver<Event>,
        wake: Wake,
        shutdown: CancellationToken,
    ) {
        let mut bus_open = true;
        loop {
            let next = self.fill().await;
            self.prune().await;
            let sleep = next.map_or(IDLE, |d| d.min(IDLE));
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(joined) = self.running.join_next_with_id(), if !self.running.is_empty() => {
                    self.finish(joined).await;
                }
                () = wake.0.notified() => {}
                got = events.recv(), if bus_open => {
                    if matches!(got, Err(broadcast::error::RecvError::Closed)) {
                        bus_open = false;
                    }
                    // One look at the queue for a whole burst of events.
                    while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = events.try_recv() {}
                }
                () = tokio::time::sleep(sleep) => {}
            }
        }
        let cut = self.running.len();
        self.running.abort_all();
        tracing::debug!(cut, "webhook deliveries stopped");
    }

    /// Starts the due deliveries there is room for; returns how long until the next one
    /// waiting (`None`: nothing waits).
    async fn fill(&mut self) -> Option<Duration> {
        let now = now_ms();
        let room = MAX_IN_FLIGHT.saturating_sub(self.running.len());
        if room > 0 {
            let want = room + self.busy.len();
            match self.store.read(move |c| outbox::due(c, now, want)).await {
                Ok(rows) => {
                    let fresh: Vec<Due> = rows
                        .into_iter()
                        .filter(|r| !self.is_busy(r))
                        .take(room)
                        .collect();
                    for row in fresh {
                        self.start(row).await;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "webhooks: reading the queue failed");
                    return Some(ERROR_RETRY);
                }
            }
        }
        match self
            .store
            .read(move |c| outbox::next_due_after(c, now))
            .await
        {
            Ok(next) => next.map(|ms| Duration::from_millis((ms - now).max(1) as u64)),
            Err(e) => {
                tracing::error!(error = %e, "webhooks: reading the queue failed");
                Some(ERROR_RETRY)
            }
        }
    }

    fn is_busy(&self, row: &Due) -> bool {
        self.busy
            .values()
            .any(|(name, seq)| *name == row.webhook && *seq == row.event_seq)
    }

    async fn start(&mut self, due: Due) {
        let Some(hook) = self.hooks.get(&due.webhook).map(Arc::clone) else {
            // Cannot happen after `sync`; never leave a row due forever.
            let outcome = Outcome::Failed {
                status: None,
                error: "the webhook is no longer configured".into(),
            };
            self.record(&due, &outcome).await;
            return;
        };
        let key = (due.webhook.clone(), due.event_seq);
        let client = self.client.clone();
        let handle = self.running.spawn(async move {
            let result = send(&client, &hook, &due).await;
            Attempted { due, result }
        });
        self.busy.insert(handle.id(), key);
    }

    async fn finish(&mut self, joined: Result<(Id, Attempted), tokio::task::JoinError>) {
        let attempted = match joined {
            Ok((id, attempted)) => {
                self.busy.remove(&id);
                attempted
            }
            Err(e) => {
                self.busy.remove(&e.id());
                tracing::error!(error = %e, "webhooks: a delivery task failed; it is tried again");
                return;
            }
        };
        let Some(hook) = self.hooks.get(&attempted.due.webhook).map(Arc::clone) else {
            return;
        };
        let outcome = outcome(&hook, &attempted, now_ms());
        log_attempt(&hook, &attempted.due, &outcome);
        let counted = match outcome {
            Outcome::Delivered { .. } => "delivered",
            Outcome::Retry { .. } => "retry",
            Outcome::Failed { .. } => "failed",
        };
        self.metrics.webhook_attempt(counted);
        self.record(&attempted.due, &outcome).await;
    }

    async fn record(&self, due: &Due, outcome: &Outcome) {
        let (webhook, seq, outcome) = (due.webhook.clone(), due.event_seq, outcome.clone());
        let now = crate::store::now();
        if let Err(e) = self
            .store
            .write(move |sp| outbox::record(sp, &webhook, seq, now, &outcome))
            .await
        {
            tracing::error!(error = %e, "webhooks: recording an attempt failed");
        }
    }

    /// Deletes finished deliveries older than [`KEEP_DONE`], at most once per
    /// [`PRUNE_EVERY`], in bounded batches.
    async fn prune(&mut self) {
        if Instant::now() < self.next_prune {
            return;
        }
        self.next_prune = Instant::now() + PRUNE_EVERY;
        let before = crate::store::now() - KEEP_DONE.as_secs() as i64;
        const BATCH: u32 = 1_000;
        loop {
            match self
                .store
                .write(move |sp| outbox::prune(sp, before, BATCH))
                .await
            {
                Ok(n) if n >= u64::from(BATCH) => {}
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = %e, "webhooks: pruning old deliveries failed");
                    break;
                }
            }
        }
    }
}

/// What an attempt's result means for its delivery.
fn outcome(hook: &Webhook, attempted: &Attempted, now_ms: i64) -> Outcome {
    let (status, error) = match &attempted.result {
        Ok(status) => return Outcome::Delivered { status: *status },
        Err((status, error)) => (*status, error.clone()),
    };
    let tried = attempted.due.attempts.saturating_add(1);
    let age = (now_ms / 1000).saturating_sub(attempted.due.created_at);
    if tried >= hook.max_attempts || age >= hook.give_up_after.as_secs() as i64 {
        return Outcome::Failed { status, error };
    }
    let wait = backoff::delay(tried, hook.retry_initial, hook.retry_max, backoff::unit());
    Outcome::Retry {
        status,
        error,
        next_ms: now_ms.saturating_add(wait.as_millis() as i64),
    }
}

fn log_attempt(hook: &Webhook, due: &Due, outcome: &Outcome) {
    let attempt = due.attempts.saturating_add(1);
    match outcome {
        Outcome::Delivered { status } => tracing::debug!(
            webhook = %hook.name, event = %due.id, kind = %due.kind, attempt, status, "webhook delivered"
        ),
        Outcome::Retry { error, next_ms, .. } => tracing::warn!(
            webhook = %hook.name, url = %hook.shown_url, event = %due.id, kind = %due.kind,
            attempt, error = %error, retry_in_ms = next_ms - now_ms(), "webhook delivery failed; retrying"
        ),
        Outcome::Failed { error, .. } => tracing::error!(
            webhook = %hook.name, url = %hook.shown_url, event = %due.id, kind = %due.kind,
            attempt, error = %error, "webhook delivery failed; giving up on it"
        ),
    }
}

/// One POST: the stored body, signed now.
async fn send(
    client: &reqwest::Client,
    hook: &Webhook,
    due: &Due,
) -> Result<u16, (Option<u16>, String)> {
    let t = crate::store::now();
    let signature = sign::header(hook.secret.expose(), t, due.body.as_bytes());
    let sent = client
        .post(hook.url.clone())
        .timeout(hook.timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Veil-Event", &due.kind)
        .header("X-Veil-Delivery", &due.id)
        .header("X-Veil-Signature", signature)
        .body(due.body.clone())
        .send()
        .await;
    match sent {
        Ok(answer) if answer.status().is_success() => Ok(answer.status().as_u16()),
        Ok(answer) => {
            let status = answer.status();
            Err((Some(status.as_u16()), format!("HTTP {status}")))
        }
        Err(e) => Err((None, describe(e))),
    }
}

/// A request error without its URL (which may carry secrets), with its causes.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
