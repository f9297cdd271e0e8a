//! `update`: one message in, state changed, effects out. No IO and no waiting happens
//! here, so every behaviour is testable by feeding messages and reading the state.
//!
//! - this file: the entry point, the connection's ups and downs, the clock, messages.
//! - `daemon`: notifications from `watch` and the answers to calls.
//! - `input`: keys, popups and the actions they start.
//! - `table`: the key table's order, filter, cursor and scrolling.
//! - `outcome`: what a message did, and the toast, log and rate helpers all of them use.

mod daemon;
mod input;
mod outcome;
mod table;

use super::app::{App, Conn, LogKind, Popup, SortBy, View};
use super::event::{Cmd, Effect, Msg};
use super::ui;
use crate::format;

use self::input::reload;
pub use self::outcome::Outcome;
use self::outcome::{log, push_rate};
pub use self::table::reorder;

/// How often `health` is asked for while connected.
pub const HEALTH_EVERY_SECS: i64 = 2;
/// How often every key's traffic is re-read (events keep it current in between).
pub const TRAFFIC_EVERY_SECS: i64 = 300;
pub fn update(app: &mut App, msg: Msg) -> Outcome {
    let mut out = Outcome::default();
    // Anything but the operator's keys may change what the overview counts.
    if !matches!(msg, Msg::Input(_)) {
        app.counts_cache.set(None);
    }
    match msg {
        Msg::Input(event) => input::input(app, event, &mut out),
        Msg::Tick { now } => tick(app, now, &mut out),
        Msg::Connected { version } => connected(app, version, &mut out),
        Msg::Disconnected { error } => disconnected(app, error, &mut out),
        Msg::Daemon(event) => daemon::daemon_event(app, *event, &mut out),
        Msg::Reply(reply) => daemon::reply(app, *reply, &mut out),
        Msg::Quit => out.effects.push(Effect::Quit),
    }
    out
}

// ---- Connection -------------------------------------------------------------------------

pub(super) fn connected(app: &mut App, version: String, out: &mut Outcome) {
    let again = matches!(app.conn, Conn::Down { .. });
    app.conn = Conn::Up {
        version: version.clone(),
    };
    if again {
        log(
            app,
            LogKind::Info,
            format!("reconnected to veild {version}"),
        );
    }
    app.inflight = Default::default();
    // Bytes moved while away are only in the daemon's history: ask for today again.
    if let Some(today) = &mut app.today {
        today.complete = false;
    }
    reload(app, out);
    out.call(Cmd::Audit);
    out.redraw = true;
}

pub(super) fn disconnected(app: &mut App, error: String, out: &mut Outcome) {
    match &app.conn {
        // Retries while down say the same thing: one log line per outage.
        Conn::Down { error: old, .. } if *old == error => return,
        Conn::Down { since, .. } => {
            app.conn = Conn::Down {
                error,
                since: *since,
            };
        }
        Conn::Up { .. } | Conn::Connecting => {
            log(app, LogKind::Error, format!("lost veild: {error}"));
            app.conn = Conn::Down {
                error,
                since: app.now,
            };
        }
    }
    app.inflight = Default::default();
    stop_rates(app);
    if let Some(Popup::Form(form)) = &mut app.popup {
        form.busy = false;
    }
    out.redraw = true;
}

// ---- Clock ------------------------------------------------------------------------------

pub(super) fn tick(app: &mut App, now: i64, out: &mut Outcome) {
    let before = ui::clock_text(app.now);
    app.now = now;
    if ui::clock_text(now) != before {
        out.redraw = true;
    }
    if app.toast.as_ref().is_some_and(|t| t.until <= now) {
        app.toast = None;
        out.redraw = true;
    }
    if let Some(today) = &mut app.today
        && format::day_start(now) != today.day
    {
        today.day = format::day_start(now);
        today.uplink = 0;
        today.downlink = 0;
        today.complete = true;
        out.redraw = true;
    }
    // Rates are per cycle: with no event for three cycles, nothing is moving.
    let stale = i64::try_from(app.poll_interval_ms.saturating_mul(3) / 1000)
        .unwrap_or(i64::MAX)
        .max(3);
    if let Some(at) = app.last_traffic_at
        && now - at > stale
        && (app.rate_now != (0, 0) || !app.busiest.is_empty())
    {
        stop_rates(app);
        push_rate(app, now, 0, 0);
        out.redraw = true;
    }
    if !app.connected() {
        if matches!(app.conn, Conn::Down { .. }) {
            // The header counts the outage's seconds.
            out.redraw = true;
        }
        return;
    }
    if !app.inflight.health && now - app.last_health_at >= HEALTH_EVERY_SECS {
        app.inflight.health = true;
        app.last_health_at = now;
        out.call(Cmd::Health);
    }
    if app.view == View::Nodes
        && !app.inflight.nodes
        && now - app.last_nodes_at >= HEALTH_EVERY_SECS
    {
        app.inflight.nodes = true;
        app.last_nodes_at = now;
        out.call(Cmd::Nodes);
    }
    if app.traffic_supported != Some(false)
        && !app.inflight.traffic
        && now - app.last_traffic_list_at >= TRAFFIC_EVERY_SECS
    {
        app.inflight.traffic = true;
        app.last_traffic_list_at = now;
        out.call(Cmd::Traffic);
    }
}

pub(super) fn stop_rates(app: &mut App) {
    for t in app.traffic.values_mut() {
        t.uplink_rate = 0;
        t.downlink_rate = 0;
    }
    app.rate_now = (0, 0);
    app.busiest.clear();
    if app.sort == SortBy::Rate {
        reorder(app);
    }
}

// ---- Messages ---------------------------------------------------------------------------
