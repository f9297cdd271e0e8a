//! Start-up and shutdown, in order: config → access rule → metrics and HTTP listeners (if set) →
//! store → core config file → adoption → applier and health watcher → socket → ready →
//! serve until SIGTERM/SIGINT → drain connections → finish the applier's pass → remove the
//! socket → close the store.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::applier::{Applier, Status};
use crate::config::Config;
use crate::corefile::CoreFile;
use crate::corelink::{CoreLink, LinkOptions};
use crate::disconnect::Disconnector;
use crate::metrics::Metrics;
use crate::service::{EVENT_BUFFER, Service};
use crate::store::Store;
use crate::traffic::{Shared as TrafficShared, Traffic};
use crate::watcher::Watcher;
use crate::{adopt, ipc};

/// How long in-flight requests may take to finish after a stop signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs the daemon until a stop signal, then shuts down cleanly.
pub async fn run(config_path: &Path) -> anyhow::Result<()> {
    let config = load_checked(config_path)?;
    // The group is resolved first: a missing one stops the daemon before it touches state.
    let access =
        Arc::new(ipc::auth::Access::new(&config.socket_group).map_err(anyhow::Error::msg)?);
    warn_if_root();
    // Before anything opens a file: the descriptor budget is derived from the limit.
    let fd_limit = ipc::limits::raise_fd_limit();
    let metrics_listener = bind_metrics(&config).await?;
    let http_listener = crate::http::bind(config.http.as_ref()).await?;
    let running = Running::start(config).await?;
    let fair = ipc::Fairness {
        budget: ipc::limits::Budget::new(&running.config.connections, fd_limit),
        idle_timeout: running.config.connections.idle_timeout(),
    };
    tracing::info!(
        fd_limit,
        max = fair.budget.max,
        per_uid = fair.budget.per_uid,
        root_reserve = fair.budget.root_reserve,
        "socket connection budget"
    );
    let bound = match ipc::listener::bind(&running.config.socket, access.gid) {
        Ok(bound) => bound,
        Err(e) => {
            running.stop().await;
            anyhow::bail!(e);
        }
    };

    tokio::spawn(watch_signals(running.shutdown.clone()));
    tracing::info!(
        socket = %bound.path().display(),
        database = %running.config.database.display(),
        group = %access.group_name,
        version = veil_shared::VERSION,
        "veild ready"
    );
    let status = running
        .service
        .heartbeat(Duration::from_secs(30))
        .await
        .unwrap_or_else(|why| format!("stuck: {why}"));
    running.serve_metrics(metrics_listener);
    let http_task = running.serve_http(http_listener);
    crate::notify::ready(&status);
    tokio::spawn(crate::notify::run(
        Arc::clone(&running.service),
        running.shutdown.clone(),
    ));
    tokio::spawn(crate::service::backup::scheduled(
        Arc::clone(&running.service),
        running.shutdown.clone(),
    ));

    let tracker = TaskTracker::new();
    ipc::serve_on(
        &bound,
        Arc::clone(&running.service),
        access,
        fair,
        running.shutdown.clone(),
        tracker.clone(),
    )
    .await;

    crate::notify::stopping();
    stop_http(http_task).await;
    tracker.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = tracker.len(),
            "connections still busy after the drain timeout; closing anyway"
        );
    }
    bound.close();
    running.stop().await;
    tracing::info!("veild stopped");
    Ok(())
}

/// The `/metrics` listener when `[metrics] listen` is set; an address that cannot be bound
/// stops the start, naming the setting.
async fn bind_metrics(config: &Config) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    let Some(metrics) = &config.metrics else {
        return Ok(None);
    };
    let addr = metrics
        .listen_addr()
        .map_err(|problem| anyhow::anyhow!("metrics.listen = {:?}: {problem}", metrics.listen))?;
    let listener = crate::metrics::http::bind(addr)
        .await
        .with_context(|| format!("metrics.listen = {:?}: cannot listen", metrics.listen))?;
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "the metrics endpoint has no authentication and listens beyond loopback");
    }
    tracing::info!(%addr, "serving metrics on GET /metrics");
    Ok(Some(listener))
}

fn warn_if_root() {
    if nix::unistd::geteuid().is_root() {
        tracing::warn!(
            "veild runs as root, which it does not need: run it as its own user (the unit in \
             scripts/systemd runs it as `veil`, with the core's config group)"
        );
    }
}

/// Waits for the HTTP listener to stop (it stops taking connections at the stop signal).
async fn stop_http(task: Option<tokio::task::JoinHandle<()>>) {
    if let Some(task) = task
        && tokio::time::timeout(DRAIN_TIMEOUT, task).await.is_err()
    {
        tracing::warn!("the HTTP listener did not stop in time");
    }
}

/// `veild.toml`, and everything checked before serving (see [`crate::startup`]).
fn load_checked(config_path: &Path) -> anyhow::Result<Config> {
    let config = Config::load(config_path)?;
    let core_bytes = std::fs::read(&config.core.config).with_context(|| {
        format!(
            "reading the core config (core.config = {})",
            config.core.config.display()
        )
    })?;
    let core_root = crate::corefile::parse_json(&config.core.config, &core_bytes)?;
    crate::startup::check(&config, config_path, &core_root).map_err(anyhow::Error::msg)?;
    Ok(config)
}

/// The daemon without its front ends: the store, the core side and the service they
/// serve. `run` puts the socket in front of it; tests and other front ends call
/// [`Running::service`] directly.
pub struct Running {
    pub service: Arc<Service>,
    pub config: Arc<Config>,
    store: Store,
    shutdown: CancellationToken,
    applier_task: tokio::task::JoinHandle<()>,
    traffic_task: tokio::task::JoinHandle<()>,
    webhook_task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Opens the store, reads the core config, adopts, and starts the applier, the traffic
    /// poller and the health watcher (whose first pass resyncs the core).
    pub async fn start(config: Config) -> anyhow::Result<Running> {
        let config = Arc::new(config);
        let store = Store::open(&config.database)
            .with_context(|| format!("opening the database {}", config.database.display()))?;
        let shutdown = CancellationToken::new();
        let metrics = Arc::new(Metrics::new());
        if let Err(e) = crate::webhook::sync(&store, &config.webhooks).await {
            close_store(store).await;
            return Err(anyhow::Error::new(e)
                .context("bringing the webhooks' queue in line with [[webhook]]"));
        }
        let fleet = match crate::fleet::open(config.fleet.as_ref(), &store).await {
            Ok(fleet) => fleet,
            Err(e) => {
                close_store(store).await;
                return Err(e);
            }
        };
        let core = match start_core(&config, &store, &metrics, shutdown.clone()).await {
            Ok(core) => core,
            Err(e) => {
                close_store(store).await;
                return Err(e);
            }
        };
        let webhook_task = crate::webhook::spawn(
            store.clone(),
            Arc::clone(&metrics),
            &config.webhooks,
            core.events.subscribe(),
            core.wake,
            shutdown.clone(),
        );
        if let Some(registry) = &fleet {
            let task = crate::fleet::FleetTask {
                registry: Arc::clone(registry),
                store: store.clone(),
                events: core.events.clone(),
                applier: core.applier.clone(),
                status: Arc::clone(&core.status),
                config: Arc::clone(&config),
            };
            tokio::spawn(task.run(shutdown.clone()));
        }
        let service = Arc::new(
            Service::new(
                store.clone(),
                Arc::clone(&config),
                core.events,
                core.applier,
                core.status,
                core.traffic,
                metrics,
            )
            .with_fleet(fleet),
        );
        Ok(Running {
            service,
            config,
            store,
            shutdown,
            applier_task: core.applier_task,
            traffic_task: core.traffic_task,
            webhook_task,
        })
    }

    /// Serves `/metrics` on `listener` (when `[metrics]` is set) until the stop.
    fn serve_metrics(&self, listener: Option<tokio::net::TcpListener>) {
        if let Some(listener) = listener {
            tokio::spawn(crate::metrics::http::serve(
                listener,
                Arc::clone(self.service.metrics()),
                Arc::clone(&self.service),
                self.shutdown.clone(),
            ));
        }
    }

    /// Serves the HTTP API on `bound` (when `[http] listen` is set) until the stop.
    fn serve_http(&self, bound: Option<crate::http::Bound>) -> Option<tokio::task::JoinHandle<()>> {
        bound.map(|bound| {
            tokio::spawn(crate::http::serve(
                bound,
                Arc::clone(&self.service),
                self.shutdown.clone(),
            ))
        })
    }

    /// Stops the background tasks (each finishes what it is in, for at most 15 s) and
    /// closes the store. Front ends must have stopped calling.
    pub async fn stop(self) {
        self.shutdown.cancel();
        // The applier finishes the pass it is in (its changes are idempotent, so cutting it
        // short would also be safe, but a finished pass leaves fewer pending rows).
        if tokio::time::timeout(DRAIN_TIMEOUT, self.applier_task)
            .await
            .is_err()
        {
            tracing::warn!(
                "the applier did not finish its pass in time; pending rows resume at next start"
            );
        }
        // A traffic cycle under way commits or not as a whole; either is exact.
        if tokio::time::timeout(DRAIN_TIMEOUT, self.traffic_task)
            .await
            .is_err()
        {
            tracing::warn!("the traffic poller did not finish its cycle in time");
        }
        // Requests in flight are cut; their deliveries stay queued for the next start.
        if let Some(task) = self.webhook_task
            && tokio::time::timeout(DRAIN_TIMEOUT, task).await.is_err()
        {
            tracing::warn!("the webhook deliveries did not stop in time");
        }
        drop(self.service);
        close_store(self.store).await;
    }
}

/// The core side: what `start_core` hands the rest of start-up.
struct CoreParts {
    events: tokio::sync::broadcast::Sender<veil_shared::api::Event>,
    applier: crate::applier::ApplierHandle,
    applier_task: tokio::task::JoinHandle<()>,
    status: Arc<Status>,
    traffic: Traffic,
    /// The poller; it finishes the cycle it is in when told to stop.
    traffic_task: tokio::task::JoinHandle<()>,
    /// Wakes the webhooks' delivery task (the watcher queues core transitions).
    wake: crate::webhook::Wake,
}

/// Turns the clients already in the core's config into keys (first start only).
async fn adopt_existing(
    store: &Store,
    inbound: &veil_shared::coreconfig::ManagedInbound,
    link: &CoreLink,
) -> anyhow::Result<()> {
    let adopted = adopt::run(store, inbound, link)
        .await
        .context("adopting the core's existing clients")?;
    if adopted > 0 {
        tracing::info!(adopted, "adopted the clients already in the core config");
    }
    Ok(())
}

/// Decides whether removed keys' connections can be cut (a probe on blocking netlink) and
/// puts the answer in `health`.
async fn disconnector(
    core: &crate::config::CoreConfig,
    port: Option<u16>,
    status: &Status,
) -> anyhow::Result<Arc<Disconnector>> {
    let (mode, flavor) = (core.disconnect, core.flavor);
    let made = tokio::task::spawn_blocking(move || Disconnector::new(mode, flavor, port))
        .await
        .context("probing whether connections can be cut")?;
    status.update(|s| {
        s.disconnect = Some(veil_shared::api::DisconnectHealth {
            status: made.status().clone(),
            connections_cut: 0,
            last: None,
        });
    });
    Ok(Arc::new(made))
}

/// Reads the core's config file (refusing to start without a managed inbound), adopts its
/// clients on first start, and starts the applier and the health watcher.
/// The core's config file as `[core]` names it.
fn core_file(config: &Config) -> CoreFile {
    let core = &config.core;
    CoreFile::new(
        core.config.clone(),
        core.inbound_tag.clone(),
        config.test_command(),
        core.backups,
    )
}

async fn start_core(
    config: &Config,
    store: &Store,
    metrics: &Arc<Metrics>,
    shutdown: CancellationToken,
) -> anyhow::Result<CoreParts> {
    let core = &config.core;
    let file = core_file(config);
    let inbound = file.load().await.with_context(|| {
        format!(
            "reading the core config (core.config = {})",
            core.config.display()
        )
    })?;
    // Vision needs the same flow on the user as on the client; v2fly has no flow at all.
    let flow = inbound.key_flow(core.flavor).to_owned();
    let call_timeout = Duration::from_millis(core.call_timeout_ms);
    let link = CoreLink::new(LinkOptions {
        flavor: core.flavor,
        api: core.api.clone(),
        call_timeout,
    })
    .map_err(|e| anyhow::anyhow!("core.api = {:?}: {e}", core.api))?
    .with_observer(Arc::clone(metrics) as Arc<dyn crate::corelink::CallObserver>);
    // A fleet node's keys come from the registry; its core's own clients are not adopted.
    if config.fleet.is_none() {
        adopt_existing(store, &inbound, &link).await?;
    }
    let status = Arc::new(Status::new(core.config.display().to_string()));
    let disconnect = disconnector(core, inbound.port, &status).await?;
    let (events, _) = tokio::sync::broadcast::channel(EVENT_BUFFER);
    let wake = crate::webhook::Wake::default();
    let applier = Applier {
        store: store.clone(),
        link: link.clone(),
        file: Arc::new(file),
        inbound_tag: core.inbound_tag.clone(),
        flow,
        status: Arc::clone(&status),
        events: events.clone(),
        retry: config.retry_policy(),
        metrics: Arc::clone(metrics),
        disconnect,
        file_delay: Duration::from_millis(core.file_delay_ms),
    };
    // A reply waits this long for the applier before it says "pending".
    let settle_timeout = call_timeout * 2 + Duration::from_secs(30);
    let (handle, applier_task) = applier.spawn(settle_timeout, shutdown.clone());
    let (traffic, traffic_task) = Traffic::start(
        TrafficShared {
            store: store.clone(),
            link: link.clone(),
            events: events.clone(),
            applier: handle.clone(),
            config: config.traffic.clone(),
            core_config: core.config.clone(),
            live: std::sync::Mutex::default(),
            metrics: Arc::clone(metrics),
        },
        shutdown.clone(),
    );
    let watcher = Watcher {
        link,
        status: Arc::clone(&status),
        applier: handle.clone(),
        store: store.clone(),
        inbound_tag: core.inbound_tag.clone(),
        interval: Duration::from_millis(core.health_interval_ms),
        drift_interval: Duration::from_millis(core.drift_interval_ms),
        metrics: Arc::clone(metrics),
        webhooks: wake.clone(),
    };
    tokio::spawn(watcher.run(shutdown));
    Ok(CoreParts {
        events,
        applier: handle,
        applier_task,
        status,
        traffic,
        traffic_task,
        wake,
    })
}

async fn close_store(store: Store) {
    if let Err(e) = tokio::task::spawn_blocking(move || store.close()).await {
        tracing::error!(error = %e, "closing the database failed");
    }
}

/// Turns SIGTERM/SIGINT into the shutdown token. A second signal during the drain is logged
/// and ignored: the drain is bounded by [`DRAIN_TIMEOUT`]. SIGHUP (`systemctl reload`) does
/// not stop veild: the HTTP API's TLS certificate, if any, reloads on it (`http::tls`).
async fn watch_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("could not install signal handlers; stop veild with SIGKILL");
        return;
    };
    loop {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = hup.recv() => {
                tracing::info!(signal = "SIGHUP", "reloading what reloads (the HTTP API's TLS certificate)");
                continue;
            }
        };
        if shutdown.is_cancelled() {
            tracing::info!(signal = name, "already stopping");
        } else {
            tracing::info!(signal = name, "stopping: finishing in-flight requests");
            shutdown.cancel();
        }
    }
}
