//! Notifications from `watch` (key changes, traffic, lag) and the answers to calls.

use std::cmp::Reverse;
use std::collections::HashMap;

use veil_shared::api::{Event, Health, KeyAction, KeyEvent as DaemonKeyEvent};
use veil_shared::model::{Key, KeyState};
use veil_shared::traffic::{TrafficEvent, TrafficPage};

use super::input::reload;
use super::outcome::{Outcome, TODAY_MAX_KEYS, log, push_log, push_rate, toast};
use super::table::{reorder, select_id};
use crate::dash::app::{
    App, BUSIEST, Load, LogEntry, LogKind, Popup, RATE_SAMPLES, SortBy, Tone, Traffic,
};
use crate::dash::event::{Action, CallError, Cmd, Effect, LinkPurpose, Reply};
use crate::format;

// ---- Notifications ----------------------------------------------------------------------

pub(super) fn daemon_event(app: &mut App, event: Event, out: &mut Outcome) {
    out.redraw = true;
    match event {
        Event::Key(e) => {
            // A new UUID makes the open key's link stale.
            if e.action == KeyAction::Rotated
                && let Some(d) = app.detail.as_mut().filter(|d| d.id == e.key.id)
            {
                d.link = Load::Loading;
                out.call(Cmd::Link {
                    id: d.id,
                    purpose: LinkPurpose::Detail,
                });
            }
            key_event(app, e);
        }
        Event::Lagged(l) => {
            log(
                app,
                LogKind::Info,
                format!("{} events missed; reloading", l.missed),
            );
            reload(app, out);
        }
        Event::Traffic(t) => traffic_event(app, t),
        Event::Disconnect(d) => log(
            app,
            LogKind::Key,
            format!("key {} “{}” {}", d.key_id, d.name, d.detail),
        ),
    }
}

pub(super) fn key_event(app: &mut App, e: DaemonKeyEvent) {
    let DaemonKeyEvent { action, key, actor } = e;
    if action != KeyAction::Applied {
        let who = match actor {
            Some(a) => format!(" by {}", a.describe()),
            None => " by veild".to_owned(),
        };
        let what = match action {
            KeyAction::Created => "created",
            KeyAction::Updated => "updated",
            KeyAction::Disabled => "disabled",
            KeyAction::Enabled => "enabled",
            KeyAction::Deleted => "deleted",
            KeyAction::Rotated => "rotated (new UUID)",
            KeyAction::Applied => "applied",
        };
        let reason = match (action, key.disable_reason) {
            (KeyAction::Disabled, Some(r)) => format!(" ({r})"),
            _ => String::new(),
        };
        log(
            app,
            LogKind::Key,
            format!("key {} “{}” {what}{reason}{who}", key.id, key.name),
        );
    }
    upsert(app, key);
}

/// Puts a key as it now is into the list (a deleted one leaves it).
pub(super) fn upsert(app: &mut App, key: Key) {
    let id = key.id;
    match (app.index.get(&id).copied(), key.state) {
        (Some(i), KeyState::Deleted) => {
            app.keys.remove(i);
            rebuild_index(app);
            app.traffic.remove(&id);
            if app.detail.as_ref().is_some_and(|d| d.id == id) {
                app.detail = None;
            }
        }
        (Some(i), _) => {
            if let Some(slot) = app.keys.get_mut(i) {
                *slot = key;
            }
        }
        (None, KeyState::Deleted) => return,
        (None, _) => {
            // Ids only grow, so a new key goes at the end (the daemon's order).
            let at = app.keys.partition_point(|k| k.id < id);
            app.keys.insert(at, key);
            rebuild_index(app);
        }
    }
    reorder(app);
}

pub(super) fn rebuild_index(app: &mut App) {
    app.index = app
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.id, i))
        .collect();
}

pub(super) fn traffic_event(app: &mut App, e: TrafficEvent) {
    app.traffic_supported = Some(true);
    if e.interval_ms > 0 {
        app.poll_interval_ms = e.interval_ms;
    }
    let day = format::day_start(e.at);
    let mut moved_up = 0u64;
    let mut moved_down = 0u64;
    for t in app.traffic.values_mut() {
        t.uplink_rate = 0;
        t.downlink_rate = 0;
    }
    let mut up = 0u64;
    let mut down = 0u64;
    for tick in &e.keys {
        let entry = app.traffic.entry(tick.id).or_default();
        // A total that went down was reset: everything it holds now is new.
        moved_up = moved_up.saturating_add(if tick.uplink >= entry.uplink {
            tick.uplink - entry.uplink
        } else {
            tick.uplink
        });
        moved_down = moved_down.saturating_add(if tick.downlink >= entry.downlink {
            tick.downlink - entry.downlink
        } else {
            tick.downlink
        });
        *entry = Traffic {
            uplink: tick.uplink,
            downlink: tick.downlink,
            uplink_rate: tick.uplink_rate,
            downlink_rate: tick.downlink_rate,
            last_active: Some(e.at),
        };
        up = up.saturating_add(tick.uplink_rate);
        down = down.saturating_add(tick.downlink_rate);
    }
    let today = app.today.get_or_insert(crate::dash::app::Today {
        day,
        ..Default::default()
    });
    if today.day == day {
        today.uplink = today.uplink.saturating_add(moved_up);
        today.downlink = today.downlink.saturating_add(moved_down);
    }
    // Cycles without movement send nothing: fill the gap with zeros.
    let step = i64::try_from(app.poll_interval_ms / 1000)
        .unwrap_or(1)
        .max(1);
    if let Some(last) = app.rates.back().map(|s| s.at) {
        let missing = ((e.at - last) / step - 1).clamp(0, RATE_SAMPLES as i64);
        for k in 0..missing {
            push_rate(app, last + (k + 1) * step, 0, 0);
        }
    }
    push_rate(app, e.at, up, down);
    app.rate_now = (up, down);
    app.last_traffic_at = Some(e.at);
    rank_busiest(app);
    if matches!(app.sort, SortBy::Rate | SortBy::Used | SortBy::Active) {
        reorder(app);
    }
}

pub(super) fn rank_busiest(app: &mut App) {
    let mut moving: Vec<(u64, i64)> = app
        .traffic
        .iter()
        .filter(|(id, t)| t.rate() > 0 && app.index.contains_key(id))
        .map(|(id, t)| (t.rate(), *id))
        .collect();
    moving.sort_by_key(|&(rate, id)| (Reverse(rate), id));
    app.busiest = moving.into_iter().take(BUSIEST).map(|(_, id)| id).collect();
}

// ---- Replies ----------------------------------------------------------------------------

/// Applies the answer to a call. Long on purpose: one arm per [`Reply`] kind, most of
/// them a few lines; splitting them would only scatter the table.
#[allow(
    clippy::too_many_lines,
    reason = "one short arm per case; see the doc comment"
)]
pub(super) fn reply(app: &mut App, reply: Reply, out: &mut Outcome) {
    match reply {
        Reply::Health(result) => {
            app.inflight.health = false;
            match result {
                Ok(health) => {
                    if health_changed(app.health.as_ref(), &health) {
                        note_health_changes(app, &health);
                        out.redraw = true;
                    }
                    app.health = Some(health);
                }
                Err(e) => {
                    toast(app, Tone::Bad, format!("health: {}", e.message));
                    out.redraw = true;
                }
            }
        }
        Reply::Nodes(result) => {
            app.inflight.nodes = false;
            match result {
                Ok(list) => app.nodes = Some(list),
                Err(e) => toast(app, Tone::Bad, format!("nodes: {}", e.message)),
            }
            out.redraw = true;
        }
        Reply::Keys(result) => {
            app.inflight.keys = false;
            out.redraw = true;
            match result {
                Ok(page) => {
                    app.keys = page.keys;
                    app.keys.sort_by_key(|k| k.id);
                    rebuild_index(app);
                    app.keys_loaded = true;
                    reorder(app);
                }
                Err(e) => log(app, LogKind::Error, format!("key.list: {}", e.message)),
            }
        }
        Reply::Traffic(result) => {
            app.inflight.traffic = false;
            out.redraw = true;
            match result {
                Ok(page) => traffic_page(app, page, out),
                Err(e) => {
                    if app.traffic_supported.is_none() && !e.unsupported {
                        log(
                            app,
                            LogKind::Info,
                            format!("traffic is not available: {}", e.message),
                        );
                    }
                    app.traffic_supported = Some(false);
                }
            }
        }
        Reply::Audit(result) => {
            out.redraw = true;
            if let Ok(page) = result {
                audit_page(app, page);
            }
        }
        Reply::Today(result) => {
            app.inflight.today = false;
            out.redraw = true;
            if let Ok(sum) = result {
                let today = app.today.get_or_insert_default();
                if format::day_start(sum.since) == today.day || !today.complete {
                    // The fetch counts up to its answer; deltas seen meanwhile are in it.
                    today.day = format::day_start(sum.since);
                    today.uplink = sum.uplink;
                    today.downlink = sum.downlink;
                    today.complete = true;
                }
            }
        }
        Reply::TrafficDetail { id, result } => {
            if let Some(d) = app.detail.as_mut().filter(|d| d.id == id) {
                d.traffic = Load::from_result(result);
                out.redraw = true;
            }
        }
        Reply::History {
            id,
            resolution,
            result,
        } => {
            if let Some(d) = app
                .detail
                .as_mut()
                .filter(|d| d.id == id && d.resolution == resolution)
            {
                d.history = Load::from_result(result);
                out.redraw = true;
            }
        }
        Reply::Link {
            id,
            purpose,
            result,
        } => link_reply(app, id, purpose, result, out),
        Reply::Changed {
            action,
            name,
            result,
        } => {
            out.redraw = true;
            match result {
                Ok(key) => {
                    if matches!(app.popup, Some(Popup::Form(_))) {
                        app.popup = None;
                    }
                    let pending = if key.pending {
                        " (pending in the core)"
                    } else {
                        ""
                    };
                    let shown = key.name.clone();
                    let id = key.id;
                    upsert(app, key);
                    if action == Action::Created {
                        select_id(app, id);
                    }
                    toast(
                        app,
                        Tone::Good,
                        format!("“{shown}” {}{pending}", action.past()),
                    );
                }
                Err(e) => {
                    if let Some(Popup::Form(form)) = &mut app.popup {
                        form.busy = false;
                        form.error = Some(e.message.clone());
                    } else {
                        toast(app, Tone::Bad, format!("“{name}”: {}", e.message));
                    }
                }
            }
        }
        Reply::TrafficReset { id, name, result } => {
            out.redraw = true;
            match result {
                Ok(t) => {
                    let entry = app.traffic.entry(id).or_default();
                    entry.uplink = t.uplink;
                    entry.downlink = t.downlink;
                    toast(app, Tone::Good, format!("“{name}” traffic reset to zero"));
                    if app.detail.as_ref().is_some_and(|d| d.id == id) {
                        out.call(Cmd::TrafficDetail { id });
                    }
                    reorder(app);
                }
                Err(e) => toast(app, Tone::Bad, format!("“{name}”: {}", e.message)),
            }
        }
    }
}

pub(super) fn traffic_page(app: &mut App, page: TrafficPage, out: &mut Outcome) {
    app.traffic_supported = Some(true);
    app.poll_interval_ms = page.poller.interval_ms.max(1);
    let old: HashMap<i64, Traffic> = std::mem::take(&mut app.traffic);
    for k in page.keys {
        let rate = old.get(&k.id).map(|t| (t.uplink_rate, t.downlink_rate));
        let (uplink_rate, downlink_rate) = rate.unwrap_or((k.uplink_rate, k.downlink_rate));
        app.traffic.insert(
            k.id,
            Traffic {
                uplink: k.uplink,
                downlink: k.downlink,
                uplink_rate,
                downlink_rate,
                last_active: k.last_active,
            },
        );
    }
    rank_busiest(app);
    reorder(app);
    // Today: ask the history of the keys that moved today, once per day and connection.
    let day = format::day_start(app.now);
    let fresh = app.today.is_none_or(|t| t.day != day || !t.complete);
    if fresh && !app.inflight.today {
        let mut active: Vec<(i64, i64)> = app
            .traffic
            .iter()
            .filter_map(|(id, t)| t.last_active.filter(|&at| at >= day).map(|at| (at, *id)))
            .collect();
        active.sort_by_key(|&(at, id)| (Reverse(at), id));
        let ids: Vec<i64> = active
            .into_iter()
            .take(TODAY_MAX_KEYS)
            .map(|(_, id)| id)
            .collect();
        app.inflight.today = true;
        app.today.get_or_insert(crate::dash::app::Today {
            day,
            ..Default::default()
        });
        out.call(Cmd::Today { ids, since: day });
    }
}

pub(super) fn audit_page(app: &mut App, page: veil_shared::api::AuditPage) {
    if !app.log.is_empty() {
        return;
    }
    // Oldest first into the log, whose front is the newest.
    for entry in page.entries.iter().rev() {
        let key = match (&entry.key_ref, entry.key_id) {
            (Some(r), _) => format!(" {r}"),
            (None, Some(id)) => format!(" {id}"),
            _ => String::new(),
        };
        let outcome = if entry.outcome == "ok" {
            String::new()
        } else {
            format!(" → {}", entry.outcome)
        };
        let kind = if entry.outcome == "ok" {
            LogKind::Key
        } else {
            LogKind::Error
        };
        push_log(
            app,
            LogEntry {
                at: entry.time,
                kind,
                text: format!(
                    "{}{key}{outcome} by {}",
                    entry.method,
                    entry.actor.describe()
                ),
            },
        );
    }
}

pub(super) fn link_reply(
    app: &mut App,
    id: i64,
    purpose: LinkPurpose,
    result: Result<String, CallError>,
    out: &mut Outcome,
) {
    out.redraw = true;
    match purpose {
        LinkPurpose::Detail => {
            if let Some(d) = app.detail.as_mut().filter(|d| d.id == id) {
                d.link = Load::from_result(result);
            }
        }
        LinkPurpose::Qr | LinkPurpose::SubQr => {
            if let Some(Popup::Qr {
                id: shown, link, ..
            }) = &mut app.popup
                && *shown == id
            {
                *link = Load::from_result(result);
            }
        }
        LinkPurpose::Copy => match result {
            Ok(link) => {
                if let Some(d) = app.detail.as_mut().filter(|d| d.id == id) {
                    d.link = Load::Ready(link.clone());
                }
                out.effects.push(Effect::Clipboard(link));
                let name = app.key(id).map(|k| k.name.clone()).unwrap_or_default();
                toast(
                    app,
                    Tone::Good,
                    format!("link of “{name}” copied (OSC 52: the terminal must allow it)"),
                );
            }
            Err(e) if e.unsupported => {
                toast(
                    app,
                    Tone::Bad,
                    "this veild cannot make links yet".to_owned(),
                );
            }
            Err(e) => toast(app, Tone::Bad, format!("link: {}", e.message)),
        },
    }
}

/// Whether anything the screens show differs; the uptimes count only as drawn.
pub(super) fn health_changed(old: Option<&Health>, new: &Health) -> bool {
    let Some(old) = old else { return true };
    let shown = |h: &Health| {
        let mut h = h.clone();
        let core_up = h.core.uptime_secs.map(format::uptime);
        let daemon_up = format::uptime(h.uptime_secs);
        h.core.uptime_secs = None;
        h.uptime_secs = 0;
        (h, core_up, daemon_up)
    };
    shown(old) != shown(new)
}

/// Logs what changed in the daemon's health: the core going down or up, a resync, drift,
/// a config file error.
pub(super) fn note_health_changes(app: &mut App, new: &Health) {
    use veil_shared::api::CoreStatus;
    let old = app.health.clone();
    let old_core = old.as_ref().map(|h| &h.core);
    if old_core.map(|c| c.status) != Some(new.core.status) {
        match new.core.status {
            CoreStatus::Down => {
                let why = new.core.last_error.clone().unwrap_or_default();
                log(app, LogKind::Error, format!("core down: {why}"));
            }
            CoreStatus::Up if old_core.is_some() => {
                log(app, LogKind::Info, "core up".to_owned());
            }
            _ => {}
        }
    }
    if let Some(r) = &new.core.last_resync
        && old_core.and_then(|c| c.last_resync.as_ref()) != Some(r)
    {
        push_log(
            app,
            LogEntry {
                at: r.at,
                kind: LogKind::Resync,
                text: format!(
                    "resync ({}): {} re-added in {} ms",
                    r.reason.replace('_', " "),
                    if r.keys == 1 {
                        "1 key".to_owned()
                    } else {
                        format!("{} keys", r.keys)
                    },
                    r.duration_ms
                ),
            },
        );
    }
    if let Some(d) = new.core.drift
        && d > 0
        && old_core.and_then(|c| c.drift) != Some(d)
    {
        log(
            app,
            LogKind::Error,
            format!("drift: {d} users differ from the database; repairing"),
        );
    }
    let new_err = new.config.as_ref().and_then(|c| c.last_error.clone());
    let old_err = old
        .as_ref()
        .and_then(|h| h.config.as_ref())
        .and_then(|c| c.last_error.clone());
    if let Some(e) = new_err
        && old_err.as_ref() != Some(&e)
    {
        log(app, LogKind::Error, format!("config file: {e}"));
    }
}
