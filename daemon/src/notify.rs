//! What veild tells systemd (`Type=notify`): `READY=1` once it serves, `STATUS=` lines with
//! the keys, pending work and the core's state, `STOPPING=1` on shutdown, and — when the
//! unit sets `WatchdogSec=` — `WATCHDOG=1` at half the period, sent only after a heartbeat
//! proved that the store's writer and the applier's loop still turn. A veild stuck in either
//! stops pinging and systemd restarts it. Without `NOTIFY_SOCKET` all of this is silent.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use crate::service::Service;

/// How often the state line is refreshed when no watchdog asks for more.
const STATUS_EVERY: Duration = Duration::from_secs(30);

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "could not notify systemd");
    }
}

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// Runs until `shutdown`: a heartbeat every half watchdog period (or every 30 s without a
/// watchdog), a `STATUS=` line after each, and `WATCHDOG=1` only after a good one.
pub async fn run(service: Arc<Service>, shutdown: CancellationToken) {
    let watchdog = sd_notify::watchdog_enabled();
    let every = watchdog.map_or(STATUS_EVERY, |period| period / 2);
    if let Some(period) = watchdog {
        tracing::info!(?period, "systemd watchdog enabled");
    }
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        match service.heartbeat(every).await {
            Ok(status) if watchdog.is_some() => {
                send(&[NotifyState::Watchdog, NotifyState::Status(&status)]);
            }
            Ok(status) => send(&[NotifyState::Status(&status)]),
            Err(why) => {
                tracing::error!(error = %why, "heartbeat failed; not telling systemd all is well");
                send(&[NotifyState::Status(&format!("stuck: {why}"))]);
            }
        }
    }
}
