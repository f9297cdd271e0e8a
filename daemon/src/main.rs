//! `veild`: the Veil daemon. It alone owns the key database, the link to the core and the
//! core's config file, and serves clients on a Unix socket.
//!
//! Start-up reads top to bottom in [`run`]: config → access rule → store → socket → ready →
//! serve until SIGTERM/SIGINT → drain connections → close the store → remove the socket.

mod config;
#[allow(dead_code, unused_imports)] // the core link is wired into the applier by the next milestone
mod core;
mod ipc;
mod service;
mod store;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing_subscriber::EnvFilter;

/// How long in-flight requests may take to finish after a stop signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Parser)]
#[command(name = "veild", version, about = "Veil daemon: keys, core link and config file for an Xray VLESS server")]
struct Args {
    /// The config file.
    #[arg(long, short, default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    /// Log level or filter (e.g. `debug`, `veild=trace`); overrides RUST_LOG.
    #[arg(long)]
    log_level: Option<String>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Check the config file and exit.
    #[arg(long)]
    check: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(args: &Args) -> anyhow::Result<()> {
    let filter = match &args.log_level {
        Some(level) => EnvFilter::try_new(level).with_context(|| format!("--log-level '{level}'"))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match args.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = init_logging(&args) {
        eprintln!("veild: {e:#}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("veild: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("veild: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let config = Arc::new(config::Config::load(&args.config)?);
    if args.check {
        println!("{}: OK", args.config.display());
        println!("core test command: {}", config.test_command().join(" "));
        return Ok(());
    }
    let access = Arc::new(ipc::auth::Access::new(&config.socket_group).map_err(anyhow::Error::msg)?);
    let store = store::Store::open(&config.database)
        .with_context(|| format!("opening the database {}", config.database.display()))?;
    let service = Arc::new(service::KeyService::new(store.clone(), Arc::clone(&config)));
    let bound = match ipc::listener::bind(&config.socket, access.gid) {
        Ok(bound) => bound,
        Err(e) => {
            close_store(store).await;
            anyhow::bail!(e);
        }
    };

    let shutdown = CancellationToken::new();
    tokio::spawn(watch_signals(shutdown.clone()));
    tracing::info!(
        socket = %bound.path().display(),
        database = %config.database.display(),
        group = %access.group_name,
        version = veil_shared::VERSION,
        "veild ready"
    );
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        tracing::warn!(error = %e, "could not notify systemd of readiness");
    }

    let tracker = TaskTracker::new();
    ipc::serve_on(&bound, Arc::clone(&service), access, shutdown.clone(), tracker.clone()).await;

    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    tracker.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait()).await.is_err() {
        tracing::warn!(open = tracker.len(), "connections still busy after the drain timeout; closing anyway");
    }
    bound.close();
    drop(service);
    close_store(store).await;
    tracing::info!("veild stopped");
    Ok(())
}

async fn close_store(store: store::Store) {
    if let Err(e) = tokio::task::spawn_blocking(move || store.close()).await {
        tracing::error!(error = %e, "closing the database failed");
    }
}

/// Turns SIGTERM/SIGINT into the shutdown token. A second signal during the drain is logged
/// and ignored: the drain is bounded by [`DRAIN_TIMEOUT`].
async fn watch_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("could not install signal handlers; stop veild with SIGKILL");
        return;
    };
    loop {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        if shutdown.is_cancelled() {
            tracing::info!(signal = name, "already stopping");
        } else {
            tracing::info!(signal = name, "stopping: finishing in-flight requests");
            shutdown.cancel();
        }
    }
}
