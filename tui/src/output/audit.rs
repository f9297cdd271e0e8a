//! `veil audit` for people.

use veil::format::utc_minute;
use veil::text::{one_line, truncate};
use veil_shared::api::{AuditEntry, AuditPage};

use super::table::{Align, Table};

/// The widest a key reference may be in the table.
const NAME_CELL: usize = 32;
/// The widest an audit detail may be in the table.
const DETAIL_CELL: usize = 48;

/// The entries as a table, newest first as the daemon sent them.
pub fn audit(page: &AuditPage) -> String {
    if page.entries.is_empty() {
        return "no audit entries\n".to_owned();
    }
    let mut table = Table::new(&[
        ("ID", Align::Right),
        ("TIME (UTC)", Align::Left),
        ("BY", Align::Left),
        ("METHOD", Align::Left),
        ("KEY", Align::Left),
        ("OUTCOME", Align::Left),
        ("DETAIL", Align::Left),
    ]);
    for entry in &page.entries {
        table.push(vec![
            entry.id.to_string(),
            utc_minute(entry.time),
            one_line(&entry.actor.describe()).into_owned(),
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

#[cfg(test)]
mod tests {
    use veil_shared::api::Actor;

    use super::*;

    #[test]
    fn audit_is_a_table() {
        let entry = |id, key_id, key_ref: Option<&str>| AuditEntry {
            id,
            time: 1_795_708_980,
            actor: Actor::Peer {
                uid: 0,
                gid: 0,
                pid: Some(99),
            },
            uid: Some(0),
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
}
