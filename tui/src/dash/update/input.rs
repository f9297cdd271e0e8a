//! Keys: the popups and the filter line take them first, then the keymap turns them into
//! intents, and intents into state changes and calls.

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use veil_shared::model::KeyState;
use veil_shared::traffic::Resolution;

use super::outcome::{Outcome, toast};
use super::table::{clamp_scroll, move_cursor, page, reorder};
use crate::dash::app::{App, Confirm, Detail, Load, Popup, SortBy, Tone, View};
use crate::dash::event::{Cmd, Effect, LinkPurpose};
use crate::dash::form::{Form, FormInput};
use crate::dash::keymap::{self, Context, Intent};

/// Asks for everything again (on connect, after a lag, on Ctrl-L).
pub(super) fn reload(app: &mut App, out: &mut Outcome) {
    app.inflight.health = true;
    app.inflight.keys = true;
    app.inflight.traffic = true;
    app.last_health_at = app.now;
    app.last_traffic_list_at = app.now;
    out.call(Cmd::Health);
    out.call(Cmd::Keys);
    out.call(Cmd::Traffic);
    if let Some(d) = &app.detail {
        let id = d.id;
        open_detail(app, id, out);
    }
}

// ---- Input ------------------------------------------------------------------------------

pub(super) fn input(app: &mut App, event: TermEvent, out: &mut Outcome) {
    match event {
        TermEvent::Resize(w, h) => {
            app.width = w;
            app.height = h;
            clamp_scroll(app);
            out.redraw = true;
        }
        TermEvent::Key(key) if key.kind != KeyEventKind::Release => {
            out.redraw = true;
            on_key(app, key, out);
        }
        TermEvent::Paste(text) => {
            out.redraw = true;
            if let Some(Popup::Form(form)) = &mut app.popup {
                if let Some(f) = form.focused() {
                    f.insert(&text);
                }
            } else if app.filtering {
                app.filter.push_str(&text.replace(['\n', '\r', '\t'], " "));
                reorder(app);
            }
        }
        TermEvent::FocusGained => out.redraw = true,
        _ => {}
    }
}

pub(super) fn on_key(app: &mut App, key: KeyEvent, out: &mut Outcome) {
    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl_c {
        out.effects.push(Effect::Quit);
        return;
    }
    if let Some(popup) = app.popup.take() {
        popup_key(app, popup, key, out);
        return;
    }
    if app.filtering {
        filter_key(app, key);
        return;
    }
    // Esc on a filtered list clears the filter first.
    if key.code == KeyCode::Esc && app.view == View::Keys && app.detail.is_none() {
        if !app.filter.is_empty() {
            app.filter.clear();
            reorder(app);
        }
        return;
    }
    let ctx = Context {
        keys_view: app.view == View::Keys,
        detail: app.view == View::Keys && app.detail.is_some(),
        list: matches!(app.view, View::Keys | View::Events) && app.detail.is_none(),
    };
    let Some(intent) = keymap::intent(ctx, key) else {
        return;
    };
    act(app, intent, out);
}

/// Turns an intent into state changes and calls. Long on purpose: one short arm per
/// [`Intent`], so every key's effect is found in one place.
#[allow(
    clippy::too_many_lines,
    reason = "one short arm per case; see the doc comment"
)]
pub(super) fn act(app: &mut App, intent: Intent, out: &mut Outcome) {
    match intent {
        Intent::Quit => out.effects.push(Effect::Quit),
        Intent::Help => app.popup = Some(Popup::Help),
        Intent::NextView => app.view = app.view.next(app.is_fleet()),
        Intent::PrevView => app.view = app.view.prev(app.is_fleet()),
        Intent::Overview => app.view = View::Overview,
        Intent::Keys => app.view = View::Keys,
        Intent::Events => app.view = View::Events,
        Intent::Nodes if app.is_fleet() => {
            app.view = View::Nodes;
            if !app.inflight.nodes {
                app.inflight.nodes = true;
                app.last_nodes_at = app.now;
                out.call(Cmd::Nodes);
            }
        }
        Intent::Nodes => {}
        Intent::Refresh => {
            if app.connected() {
                reload(app, out);
                toast(app, Tone::Info, "reloading…".to_owned());
            }
        }
        Intent::Up => move_cursor(app, -1),
        Intent::Down => move_cursor(app, 1),
        Intent::PageUp => move_cursor(app, -page(app)),
        Intent::PageDown => move_cursor(app, page(app)),
        Intent::Top => move_cursor(app, isize::MIN / 2),
        Intent::Bottom => move_cursor(app, isize::MAX / 2),
        Intent::Open => {
            if let Some(id) = app.selected().map(|k| k.id) {
                open_detail(app, id, out);
            }
        }
        Intent::Back => app.detail = None,
        Intent::Filter => app.filtering = true,
        Intent::Sort => {
            app.sort = app.sort.next();
            app.descending = matches!(app.sort, SortBy::Rate | SortBy::Used | SortBy::Active);
            reorder(app);
            toast(app, Tone::Info, format!("sorted by {}", app.sort.label()));
        }
        Intent::Reverse => {
            app.descending = !app.descending;
            reorder(app);
        }
        Intent::Add => {
            if need_connection(app) {
                app.popup = Some(Popup::Form(Form::add()));
            }
        }
        Intent::Rename => {
            if let Some(key) = app.target().cloned()
                && need_connection(app)
            {
                app.popup = Some(Popup::Form(Form::rename(&key)));
            }
        }
        Intent::Edit => {
            if let Some(key) = app.target().cloned()
                && need_connection(app)
            {
                app.popup = Some(Popup::Form(Form::edit(&key)));
            }
        }
        Intent::Toggle => {
            if let Some(key) = app.target().cloned()
                && need_connection(app)
            {
                let (cmd, verb) = if key.state == KeyState::Active {
                    (Cmd::Disable { id: key.id }, "disabling")
                } else {
                    (Cmd::Enable { id: key.id }, "enabling")
                };
                toast(app, Tone::Info, format!("{verb} “{}”…", key.name));
                out.call(cmd);
            }
        }
        Intent::Delete => {
            if let Some(key) = app.target().cloned()
                && need_connection(app)
            {
                app.popup = Some(Popup::Confirm(Confirm::Delete {
                    id: key.id,
                    name: key.name,
                }));
            }
        }
        Intent::ResetTraffic => {
            if let Some(key) = app.target().cloned()
                && need_connection(app)
            {
                app.popup = Some(Popup::Confirm(Confirm::ResetTraffic {
                    id: key.id,
                    name: key.name,
                }));
            }
        }
        Intent::CopyLink => {
            if let Some(key) = app.target().cloned()
                && need_connection(app)
            {
                let ready = app
                    .detail
                    .as_ref()
                    .filter(|d| d.id == key.id)
                    .and_then(|d| d.link.ready().cloned());
                match ready {
                    Some(link) => {
                        out.effects.push(Effect::Clipboard(link));
                        toast(
                            app,
                            Tone::Good,
                            format!(
                                "link of “{}” copied (OSC 52: the terminal must allow it)",
                                key.name
                            ),
                        );
                    }
                    None => out.call(Cmd::Link {
                        id: key.id,
                        purpose: LinkPurpose::Copy,
                    }),
                }
            }
        }
        Intent::Qr => {
            if let Some(key) = app.target().cloned()
                && need_connection(app)
            {
                let ready = app
                    .detail
                    .as_ref()
                    .filter(|d| d.id == key.id)
                    .and_then(|d| d.link.ready().cloned());
                let link = match ready {
                    Some(link) => Load::Ready(link),
                    None => {
                        out.call(Cmd::Link {
                            id: key.id,
                            purpose: LinkPurpose::Qr,
                        });
                        Load::Loading
                    }
                };
                app.popup = Some(Popup::Qr {
                    id: key.id,
                    name: key.name,
                    link,
                    inverted: false,
                });
            }
        }
        Intent::SubQr => {
            if let Some(key) = app.target().cloned()
                && need_connection(app)
            {
                out.call(Cmd::Link {
                    id: key.id,
                    purpose: LinkPurpose::SubQr,
                });
                app.popup = Some(Popup::Qr {
                    id: key.id,
                    name: format!("{} · subscription URL", key.name),
                    link: Load::Loading,
                    inverted: false,
                });
            }
        }
        Intent::FinerHistory | Intent::CoarserHistory => {
            if let Some(d) = &mut app.detail {
                let order = [Resolution::Minute, Resolution::Hour, Resolution::Day];
                let i = order.iter().position(|r| *r == d.resolution).unwrap_or(1);
                let j = if intent == Intent::FinerHistory {
                    i.saturating_sub(1)
                } else {
                    (i + 1).min(order.len() - 1)
                };
                if i != j {
                    d.resolution = order[j];
                    d.history = Load::Loading;
                    out.call(Cmd::History {
                        id: d.id,
                        resolution: d.resolution,
                    });
                }
            }
        }
    }
}

pub(super) fn need_connection(app: &mut App) -> bool {
    if app.connected() {
        true
    } else {
        toast(app, Tone::Bad, "not connected to veild".to_owned());
        false
    }
}

pub(super) fn open_detail(app: &mut App, id: i64, out: &mut Outcome) {
    let resolution = app
        .detail
        .as_ref()
        .filter(|d| d.id == id)
        .map_or(Resolution::Minute, |d| d.resolution);
    app.detail = Some(Detail {
        id,
        link: Load::Loading,
        traffic: Load::Loading,
        history: Load::Loading,
        resolution,
    });
    if app.connected() {
        out.call(Cmd::Link {
            id,
            purpose: LinkPurpose::Detail,
        });
        out.call(Cmd::TrafficDetail { id });
        out.call(Cmd::History { id, resolution });
    }
}

pub(super) fn popup_key(app: &mut App, popup: Popup, key: KeyEvent, out: &mut Outcome) {
    match popup {
        Popup::Help => {
            // Any key closes the help; q still quits.
            if key.code == KeyCode::Char('q') {
                out.effects.push(Effect::Quit);
            }
        }
        Popup::Qr {
            id,
            name,
            link,
            inverted,
        } => match key.code {
            KeyCode::Char('i') => {
                app.popup = Some(Popup::Qr {
                    id,
                    name,
                    link,
                    inverted: !inverted,
                });
            }
            KeyCode::Char('c' | 'y') => {
                if let Load::Ready(text) = &link {
                    out.effects.push(Effect::Clipboard(text.clone()));
                    toast(app, Tone::Good, format!("link of “{name}” copied (OSC 52)"));
                }
                app.popup = Some(Popup::Qr {
                    id,
                    name,
                    link,
                    inverted,
                });
            }
            KeyCode::Char('q') => out.effects.push(Effect::Quit),
            _ => {}
        },
        Popup::Confirm(confirm) => match key.code {
            KeyCode::Char('y' | 'Y') => match confirm {
                Confirm::Delete { id, name } => {
                    toast(app, Tone::Info, format!("deleting “{name}”…"));
                    out.call(Cmd::Delete { id });
                }
                Confirm::ResetTraffic { id, .. } => out.call(Cmd::ResetTraffic { id }),
            },
            KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => {}
            _ => app.popup = Some(Popup::Confirm(confirm)),
        },
        Popup::Form(mut form) => match form.input(key) {
            FormInput::Cancel => {}
            FormInput::Handled => app.popup = Some(Popup::Form(form)),
            FormInput::Submit => {
                if app.connected() {
                    match form.build(app.now) {
                        Ok(cmd) => {
                            form.busy = true;
                            out.call(cmd);
                        }
                        Err((field, message)) => {
                            form.focus = field;
                            form.error = Some(message);
                        }
                    }
                } else {
                    form.error = Some("not connected to veild".to_owned());
                }
                app.popup = Some(Popup::Form(form));
            }
        },
    }
}

pub(super) fn filter_key(app: &mut App, key: KeyEvent) {
    match key.code {
        KeyCode::Enter => app.filtering = false,
        KeyCode::Esc => {
            app.filtering = false;
            app.filter.clear();
        }
        KeyCode::Backspace => {
            app.filter.pop();
        }
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => app.filter.clear(),
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => app.filter.push(c),
        KeyCode::Down | KeyCode::Up => {
            app.filtering = false;
            move_cursor(app, if key.code == KeyCode::Down { 1 } else { -1 });
            return;
        }
        _ => return,
    }
    app.cursor = 0;
    app.offset = 0;
    reorder(app);
}
