//! `veil watch` for people and for scripts: one line per event.

use veil::format::{self, plural};
use veil::text::one_line;
use veil_shared::api::{Event, KeyEvent};
use veil_shared::rpc::{JSONRPC, NotificationEnvelope};

use super::key::key_label;
use super::traffic;

/// `watch`: one readable line per event, stamped with when it arrived.
pub fn event(event: &Event, clock: &str) -> String {
    match event {
        Event::Key(e) => format!("{clock}  {}\n", key_event(e)),
        Event::Lagged(e) => format!(
            "{clock}  lagged    missed {}; run 'veil key list' to re-read\n",
            plural(e.missed, "event", "events")
        ),
        Event::Traffic(e) => format!("{clock}  {}\n", traffic::event_line(e)),
        Event::Disconnect(e) => format!(
            "{clock}  cut       key {} “{}”: {}\n",
            e.key_id,
            one_line(&e.name),
            one_line(&e.detail)
        ),
    }
}

fn key_event(e: &KeyEvent) -> String {
    let action = e.action.as_str();
    let pending = if e.key.pending { ", pending" } else { "" };
    let by = match &e.actor {
        Some(actor) => one_line(&actor.describe()).into_owned(),
        None => "veild".to_owned(),
    };
    format!(
        "{action:<8}  {}  {}{pending}  by {by}",
        key_label(&e.key),
        format::state_reason(e.key.state, e.key.disable_reason)
    )
}

/// `watch --json`: the notification as a compact JSON line, as the daemon sends it.
pub fn event_json(event: &Event) -> Result<String, serde_json::Error> {
    let envelope = NotificationEnvelope {
        jsonrpc: JSONRPC.into(),
        method: event.method().to_owned(),
        params: event.params()?,
    };
    let mut line = serde_json::to_string(&envelope)?;
    line.push('\n');
    Ok(line)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use veil_shared::api::{Actor, KeyAction, LaggedEvent};

    use super::*;
    use crate::output::fixtures::key;

    #[test]
    fn events_read_as_lines() {
        let e = Event::Key(KeyEvent {
            action: KeyAction::Disabled,
            key: key(7, "alice"),
            actor: Some(Actor::Peer {
                uid: 1000,
                gid: 1000,
                pid: Some(5),
            }),
        });
        assert_eq!(
            event(&e, "16:03:07"),
            "16:03:07  disabled  key 7 'alice'  active  by uid 1000 (pid 5)\n"
        );
        let lagged = Event::Lagged(LaggedEvent { missed: 3 });
        assert_eq!(
            event(&lagged, "16:03:07"),
            "16:03:07  lagged    missed 3 events; run 'veil key list' to re-read\n"
        );
    }

    #[test]
    fn events_as_json_are_one_notification_line() {
        let e = Event::Lagged(LaggedEvent { missed: 3 });
        let line = event_json(&e).unwrap();
        assert_eq!(
            line,
            "{\"jsonrpc\":\"2.0\",\"method\":\"event.lagged\",\"params\":{\"missed\":3}}\n"
        );
    }
}
