//! What `veil` prints for people: one function per result, each returning the full text
//! (ending in a newline) so tests can pin it. Nothing here does IO.

use serde_json::Value;
use veil_shared::api::{
    AuditEntry, AuditPage, CoreHealth, CoreStatus, Event, Health, KeyAction, KeyBulk, KeyEvent,
    KeyPage,
};
use veil_shared::model::Key;
use veil_shared::rpc::{JSONRPC, NotificationEnvelope};

use crate::humanize::{self, plural, utc_minute};
use crate::table::{Align, Table, multi_line, one_line, truncate};

/// The widest a name may be in a table before it is cut with `…`.
const NAME_CELL: usize = 32;
/// The widest an audit detail or key reference may be in a table.
const DETAIL_CELL: usize = 48;

/// A change `veil` asked for, for the confirmation line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Created,
    Renamed,
    NoteSet,
    NoteCleared,
    Disabled,
    Enabled,
    Deleted,
    Rotated,
    /// `key update`: limit, expiry, reset schedule (and maybe name or note).
    Updated,
}

/// `--json`: the result object exactly as the daemon sent it.
pub fn json(value: &Value) -> String {
    let mut out = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    out.push('\n');
    out
}

/// `key 7 'alice'`: how messages name a key.
fn key_label(key: &Key) -> String {
    format!("key {} '{}'", key.id, one_line(&key.name))
}

/// One confirmation line, then the key as it now is.
pub fn changed(change: Change, key: &Key) -> String {
    let label = key_label(key);
    let what = match change {
        Change::Created => format!("Created {label}"),
        Change::Renamed => format!("Renamed key {} to '{}'", key.id, one_line(&key.name)),
        Change::NoteSet => format!("Set the note of {label}"),
        Change::NoteCleared => format!("Cleared the note of {label}"),
        Change::Disabled => format!("Disabled {label}"),
        Change::Enabled => format!("Enabled {label}"),
        Change::Deleted => format!("Deleted {label}"),
        Change::Rotated => format!("Rotated {label}: new UUID {}", key.uuid),
        Change::Updated => format!("Updated {label}"),
    };
    // The daemon answers before the core has the change when the core is down; say so,
    // rather than let "Disabled" read as "the user is cut off now".
    let pending = if key.pending {
        " (pending: the core does not have it yet)"
    } else {
        ""
    };
    format!("{what}{pending}.\n\n{}", key_block(key))
}

/// A key as `label: value` lines.
pub fn key_block(key: &Key) -> String {
    let note = if key.note.is_empty() {
        "-".to_owned()
    } else {
        multi_line(&key.note)
    };
    let rows = [
        ("id", key.id.to_string()),
        ("name", one_line(&key.name).into_owned()),
        ("uuid", key.uuid.to_string()),
        ("state", humanize::state(key)),
        ("applied", humanize::applied(key)),
        ("pending", if key.pending { "yes" } else { "no" }.to_owned()),
        ("note", note),
        (
            "data limit",
            key.data_limit
                .map_or_else(|| "unlimited".to_owned(), humanize::bytes),
        ),
        (
            "expires",
            key.expires_at
                .map_or_else(|| "never".to_owned(), |t| format!("{} UTC", utc_minute(t))),
        ),
        ("created", format!("{} UTC", utc_minute(key.created_at))),
        ("updated", format!("{} UTC", utc_minute(key.updated_at))),
    ];
    labelled(&rows)
}

/// `label:` then values in one column; continuation lines of a value are indented to it.
fn labelled(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 2;
    let indent = " ".repeat(width);
    let mut out = String::new();
    for (label, value) in rows {
        let head = format!("{label}:");
        let value = value.replace('\n', &format!("\n{indent}"));
        out.push_str(&format!("{head:<width$}{value}\n"));
    }
    out
}

fn key_table(keys: &[Key]) -> Table {
    let mut table = Table::new(&[
        ("ID", Align::Right),
        ("NAME", Align::Left),
        ("STATE", Align::Left),
        ("PENDING", Align::Left),
        ("UUID", Align::Left),
        ("CREATED", Align::Left),
    ]);
    for key in keys {
        table.push(vec![
            key.id.to_string(),
            truncate(&one_line(&key.name), NAME_CELL).into_owned(),
            humanize::state(key),
            if key.pending { "yes" } else { "" }.to_owned(),
            key.uuid.to_string(),
            utc_minute(key.created_at),
        ]);
    }
    table
}

/// `key list`: the table, then how many keys there are in all.
pub fn key_page(page: &KeyPage, offset: u64) -> String {
    let mut out = String::new();
    if !page.keys.is_empty() {
        out.push_str(&key_table(&page.keys).render());
    }
    out.push_str(&list_footer(page.keys.len() as u64, offset, page.total));
    out.push('\n');
    out
}

/// `12 keys`, or which slice of them a page shows: `11–20 of 120 keys`.
fn list_footer(shown: u64, offset: u64, total: u64) -> String {
    if shown == total {
        plural(total, "key", "keys")
    } else if shown == 0 {
        format!(
            "none of {} at offset {offset}",
            plural(total, "key", "keys")
        )
    } else {
        let first = offset.saturating_add(1);
        let last = offset.saturating_add(shown);
        format!("{first}–{last} of {}", plural(total, "key", "keys"))
    }
}

/// `key add --count`: a summary line and the new keys.
pub fn bulk(prefix: &str, bulk: &KeyBulk) -> String {
    let pending = bulk.keys.iter().filter(|k| k.pending).count() as u64;
    let pending = if pending > 0 {
        format!(" ({pending} pending: the core does not have them yet)")
    } else {
        String::new()
    };
    let mut out = format!(
        "Created {} named '{}-N'{pending}.\n",
        plural(bulk.keys.len() as u64, "key", "keys"),
        one_line(prefix)
    );
    if !bulk.keys.is_empty() {
        out.push('\n');
        out.push_str(&key_table(&bulk.keys).render());
    }
    out
}

pub fn health(h: &Health) -> String {
    let db = &h.database;
    let mut rows = vec![
        (
            "veild",
            format!(
                "{}, protocol {}, pid {}, up {}",
                h.version,
                h.protocol,
                h.pid,
                humanize::duration(h.uptime_secs)
            ),
        ),
        (
            "database",
            format!("{}, {}", if db.ok { "ok" } else { "FAILING" }, db.path),
        ),
    ];
    if let Some(error) = &db.error {
        rows.push(("db error", one_line(error).into_owned()));
    }
    rows.push((
        "keys",
        format!(
            "{} active, {} disabled, {} deleted",
            db.keys.active, db.keys.disabled, db.keys.deleted
        ),
    ));
    rows.push(("core", core_line(&h.core)));
    if let Some(error) = &h.core.last_error {
        rows.push(("core error", one_line(error).into_owned()));
    }
    let waiting = if h.pending > 0 {
        " (not yet reflected in the core)"
    } else {
        ""
    };
    if let Some(r) = &h.core.last_resync {
        rows.push((
            "resync",
            format!(
                "{} keys in {} ms at {} ({})",
                r.keys,
                r.duration_ms,
                humanize::utc_minute(r.at),
                r.reason.replace('_', " ")
            ),
        ));
    }
    if let Some(drift) = h.core.drift {
        rows.push(("drift", format!("{drift} users repaired by the last audit")));
    }
    rows.push((
        "pending",
        format!("{}{waiting}", plural(h.pending, "key", "keys")),
    ));
    if let Some(c) = &h.config {
        rows.push(("config", format!("{}, {} writes", c.path, c.writes)));
        if let Some(error) = &c.last_error {
            rows.push(("config error", one_line(error).into_owned()));
        }
        if !c.unmanaged_clients.is_empty() {
            let list: Vec<String> = c
                .unmanaged_clients
                .iter()
                .map(|e| one_line(e).into_owned())
                .collect();
            rows.push((
                "unmanaged",
                format!("{} (clients no key owns; left in place)", list.join(", ")),
            ));
        }
    }
    labelled(&rows)
}

/// `up (xray, api 127.0.0.1:10085), up 2h 5m, 45.2 MiB`
fn core_line(core: &CoreHealth) -> String {
    let status = match core.status {
        CoreStatus::Up => "up",
        CoreStatus::Down => "DOWN",
        CoreStatus::Unknown => "not checked yet",
    };
    let mut line = format!("{status} ({}, api {})", core.flavor, core.api);
    if let Some(secs) = core.uptime_secs {
        line.push_str(&format!(", up {}", humanize::duration(secs)));
    }
    if let Some(mem) = core.memory_bytes {
        line.push_str(&format!(", {}", humanize::bytes(mem)));
    }
    line
}

pub fn audit(page: &AuditPage) -> String {
    if page.entries.is_empty() {
        return "no audit entries\n".to_owned();
    }
    let mut table = Table::new(&[
        ("ID", Align::Right),
        ("TIME (UTC)", Align::Left),
        ("UID", Align::Right),
        ("PID", Align::Right),
        ("METHOD", Align::Left),
        ("KEY", Align::Left),
        ("OUTCOME", Align::Left),
        ("DETAIL", Align::Left),
    ]);
    for entry in &page.entries {
        table.push(vec![
            entry.id.to_string(),
            utc_minute(entry.time),
            entry.uid.to_string(),
            entry.pid.map(|p| p.to_string()).unwrap_or_default(),
            entry.method.clone(),
            truncate(&audit_key(entry), NAME_CELL).into_owned(),
            entry.outcome.clone(),
            truncate(
                &one_line(entry.detail.as_deref().unwrap_or("")),
                DETAIL_CELL,
            )
            .into_owned(),
        ]);
    }
    table.render()
}

/// The key as the request named it, with the id it resolved to when that differs.
fn audit_key(entry: &AuditEntry) -> String {
    match (entry.key_id, entry.key_ref.as_deref()) {
        (Some(id), Some(r)) if r != id.to_string() => format!("{} ({id})", one_line(r)),
        (Some(id), _) => id.to_string(),
        (None, Some(r)) => one_line(r).into_owned(),
        (None, None) => String::new(),
    }
}

/// `watch`: one readable line per event, stamped with when it arrived.
pub fn event(event: &Event, clock: &str) -> String {
    match event {
        Event::Key(e) => format!("{clock}  {}\n", key_event(e)),
        Event::Lagged(e) => format!(
            "{clock}  lagged    missed {}; run 'veil key list' to re-read\n",
            plural(e.missed, "event", "events")
        ),
        Event::Traffic(e) => format!("{clock}  {}\n", crate::traffic::event_line(e)),
    }
}

fn key_event(e: &KeyEvent) -> String {
    let action = match e.action {
        KeyAction::Created => "created",
        KeyAction::Updated => "updated",
        KeyAction::Disabled => "disabled",
        KeyAction::Enabled => "enabled",
        KeyAction::Deleted => "deleted",
        KeyAction::Rotated => "rotated",
        KeyAction::Applied => "applied",
    };
    let pending = if e.key.pending { ", pending" } else { "" };
    let by = match e.actor {
        Some(actor) => match actor.pid {
            Some(pid) => format!("uid {} (pid {pid})", actor.uid),
            None => format!("uid {}", actor.uid),
        },
        None => "veild".to_owned(),
    };
    format!(
        "{action:<8}  {}  {}{pending}  by {by}",
        key_label(&e.key),
        humanize::state(&e.key)
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

    use veil_shared::api::{Actor, DatabaseHealth, KeyCounts, LaggedEvent};
    use veil_shared::model::{DisableReason, KeyState};

    use super::*;
    use crate::humanize::tests::key;
    use crate::table::width;

    #[test]
    fn key_block_lists_every_field() {
        let mut k = key(7, "alice");
        k.note = "first line\nsecond line".into();
        k.data_limit = Some(10 * 1024 * 1024 * 1024);
        assert_eq!(
            key_block(&k),
            "\
id:         7
name:       alice
uuid:       6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d07
state:      active
applied:    active
pending:    no
note:       first line
            second line
data limit: 10.0 GiB
expires:    never
created:    2026-11-26 16:03 UTC
updated:    2026-11-26 16:03 UTC
"
        );
    }

    #[test]
    fn confirmations_say_when_the_change_is_pending() {
        let mut k = key(7, "alice");
        let out = changed(Change::Disabled, &k);
        assert!(out.starts_with("Disabled key 7 'alice'.\n\nid:"), "{out}");
        k.pending = true;
        let out = changed(Change::Disabled, &k);
        assert!(
            out.starts_with("Disabled key 7 'alice' (pending: the core does not have it yet).\n"),
            "{out}"
        );
        let out = changed(Change::Renamed, &key(7, "bob"));
        assert!(out.starts_with("Renamed key 7 to 'bob'.\n"), "{out}");
    }

    #[test]
    fn key_list_is_a_table_with_a_footer() {
        let mut disabled = key(12, "東京 office");
        disabled.state = KeyState::Disabled;
        disabled.disable_reason = Some(DisableReason::Limited);
        disabled.pending = true;
        let page = KeyPage {
            keys: vec![key(3, "alice"), disabled],
            total: 2,
        };
        let out = key_page(&page, 0);
        assert_eq!(
            out,
            "\
ID  NAME         STATE               PENDING  UUID                                  CREATED
 3  alice        active                       6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d03  2026-11-26 16:03
12  東京 office  disabled (limited)  yes      6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d0c  2026-11-26 16:03
2 keys
"
        );
    }

    #[test]
    fn long_names_are_cut_so_the_table_holds() {
        let long = "🦊".repeat(40);
        let page = KeyPage {
            keys: vec![key(1, &long), key(2, "b")],
            total: 2,
        };
        let out = key_page(&page, 0);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[1].contains('…'));
        assert_eq!(width(lines[1]), width(lines[2]));
    }

    #[test]
    fn list_footers_say_which_slice_is_shown() {
        assert_eq!(list_footer(0, 0, 0), "0 keys");
        assert_eq!(list_footer(1, 0, 1), "1 key");
        assert_eq!(list_footer(10, 10, 120), "11–20 of 120 keys");
        assert_eq!(list_footer(0, 500, 120), "none of 120 keys at offset 500");
        assert_eq!(
            key_page(
                &KeyPage {
                    keys: vec![],
                    total: 0
                },
                0
            ),
            "0 keys\n"
        );
    }

    #[test]
    fn bulk_summarizes_then_lists() {
        let bulk_keys = KeyBulk {
            keys: vec![key(1, "p-1"), key(2, "p-2")],
        };
        let out = bulk("p", &bulk_keys);
        assert!(
            out.starts_with("Created 2 keys named 'p-N'.\n\nID"),
            "{out}"
        );
        assert_eq!(out.lines().count(), 5);
    }

    fn sample_health() -> Health {
        Health {
            version: "0.1.0".into(),
            protocol: 1,
            pid: 4242,
            uptime_secs: 3 * 86_400 + 4 * 3_600,
            database: DatabaseHealth {
                ok: true,
                path: "/var/lib/veil/veil.db".into(),
                keys: KeyCounts {
                    active: 12,
                    disabled: 3,
                    deleted: 1,
                },
                error: None,
            },
            core: CoreHealth {
                status: CoreStatus::Up,
                flavor: "xray".into(),
                api: "127.0.0.1:10085".into(),
                uptime_secs: Some(7_500),
                memory_bytes: Some(47_396_045),
                last_error: None,
                last_resync: None,
                drift: None,
            },
            pending: 0,
            config: None,
        }
    }

    #[test]
    fn health_reads_as_a_block() {
        assert_eq!(
            health(&sample_health()),
            "\
veild:    0.1.0, protocol 1, pid 4242, up 3d 4h
database: ok, /var/lib/veil/veil.db
keys:     12 active, 3 disabled, 1 deleted
core:     up (xray, api 127.0.0.1:10085), up 2h 5m, 45.2 MiB
pending:  0 keys
"
        );
    }

    #[test]
    fn health_shows_failures() {
        let mut h = sample_health();
        h.core.status = CoreStatus::Down;
        h.core.uptime_secs = None;
        h.core.memory_bytes = None;
        h.core.last_error = Some("connection refused".into());
        h.pending = 2;
        let out = health(&h);
        assert!(
            out.contains("core:       DOWN (xray, api 127.0.0.1:10085)\n"),
            "{out}"
        );
        assert!(out.contains("core error: connection refused\n"), "{out}");
        assert!(out.contains("pending:    2 keys (not yet reflected in the core)\n"));
    }

    #[test]
    fn audit_is_a_table() {
        let entry = |id, key_id, key_ref: Option<&str>| AuditEntry {
            id,
            time: 1_795_708_980,
            uid: 0,
            pid: Some(99),
            method: "key.disable".into(),
            key_id,
            key_ref: key_ref.map(str::to_owned),
            outcome: "ok".into(),
            detail: None,
        };
        let page = AuditPage {
            entries: vec![
                entry(2, Some(7), Some("alice")),
                entry(1, Some(7), Some("7")),
                entry(3, None, Some("ghost")),
            ],
        };
        let out = audit(&page);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("ID  TIME (UTC)"), "{out}");
        assert!(lines[1].contains("alice (7)"), "{out}");
        assert!(lines[2].contains("  7  "), "{out}");
        assert!(lines[3].contains("ghost"), "{out}");
        assert_eq!(audit(&AuditPage { entries: vec![] }), "no audit entries\n");
    }

    #[test]
    fn events_read_as_lines() {
        let e = Event::Key(KeyEvent {
            action: KeyAction::Disabled,
            key: key(7, "alice"),
            actor: Some(Actor {
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

    #[test]
    fn json_is_the_value_itself() {
        let v = serde_json::json!({"keys": [], "total": 0});
        let out = json(&v);
        assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), v);
        assert!(out.ends_with("}\n"));
    }
}
