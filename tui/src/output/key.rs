//! Keys for people: confirmations, the `label: value` block, the list table.

use veil::format::{self, plural, utc_minute};
use veil::text::{multi_line, one_line, truncate};
use veil_shared::api::{KeyBulk, KeyPage};
use veil_shared::model::Key;

use super::table::{Align, Table, labelled};

/// The widest a name may be in a table before it is cut with `…`.
const NAME_CELL: usize = 32;
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

/// `key 7 'alice'`: how messages name a key.
pub fn key_label(key: &Key) -> String {
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
    let mut rows = vec![
        ("id", key.id.to_string()),
        ("name", one_line(&key.name).into_owned()),
        ("uuid", key.uuid.to_string()),
        ("state", format::state_reason(key.state, key.disable_reason)),
        ("applied", format::applied(key)),
        (
            "pending",
            match (&key.apply_error, key.pending) {
                (Some(why), true) => format!("yes, refused by the core: {}", one_line(why)),
                (_, true) => "yes".to_owned(),
                (_, false) => "no".to_owned(),
            },
        ),
        ("note", note),
        (
            "data limit",
            key.data_limit
                .map_or_else(|| "unlimited".to_owned(), format::bytes_long),
        ),
        (
            "expires",
            key.expires_at
                .map_or_else(|| "never".to_owned(), |t| format!("{} UTC", utc_minute(t))),
        ),
        ("created", format!("{} UTC", utc_minute(key.created_at))),
        ("updated", format!("{} UTC", utc_minute(key.updated_at))),
    ];
    // A fleet key placed on some nodes only (every other key is on every node).
    if let Some(nodes) = &key.nodes {
        rows.push(("nodes", one_line(&nodes.join(", ")).into_owned()));
    }
    labelled(&rows)
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
            format::state_reason(key.state, key.disable_reason),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use veil::text::width;
    use veil_shared::model::{DisableReason, KeyState};

    use super::*;
    use crate::output::fixtures::key;

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
}
