//! `veil node list` and `veil node show` for people.

use veil::format::{bytes, short_span, utc_minute};
use veil::text::one_line;
use veil_shared::fleet::{NodeInfo, NodeList};

use super::table::{Align, Table};

/// How long ago `at` was, or "never".
fn seen(at: Option<i64>, now: i64) -> String {
    at.map_or_else(
        || "never".to_owned(),
        |at| {
            format!(
                "{} ago",
                short_span(now.saturating_sub(at).max(0).unsigned_abs())
            )
        },
    )
}

fn count(n: Option<u64>) -> String {
    n.map_or_else(|| "-".to_owned(), |n| n.to_string())
}

/// `veil node list`: one row per node, this one marked.
pub fn list(list: &NodeList, now: i64) -> String {
    let mut table = Table::new(&[
        ("NODE", Align::Left),
        ("CORE", Align::Left),
        ("ACTIVE", Align::Right),
        ("PENDING", Align::Right),
        ("UP", Align::Right),
        ("DOWN", Align::Right),
        ("LAST SEEN", Align::Right),
        ("STATE", Align::Left),
        ("HOST", Align::Left),
    ]);
    for n in &list.nodes {
        let mark = if n.name == list.this { " (this)" } else { "" };
        table.push(vec![
            format!("{}{mark}", one_line(&n.name)),
            one_line(n.core.as_deref().unwrap_or("-")).into_owned(),
            count(n.keys_active),
            count(n.keys_pending),
            bytes(n.uplink),
            bytes(n.downlink),
            seen(n.last_seen, now),
            if n.draining { "drained" } else { "serving" }.to_owned(),
            one_line(n.host.as_deref().unwrap_or("-")).into_owned(),
        ]);
    }
    let mut out = table.render();
    if !list.registry_up {
        out.push_str("the registry is unreachable: this is the list as last read\n");
    }
    out
}

/// `veil node show NAME`: one node, labelled lines.
pub fn show(n: &NodeInfo, now: i64) -> String {
    let rows = [
        ("node", one_line(&n.name).into_owned()),
        (
            "state",
            if n.draining {
                "drained (left out of subscriptions, still serving its keys)"
            } else {
                "serving (listed in subscriptions)"
            }
            .to_owned(),
        ),
        (
            "core",
            one_line(n.core.as_deref().unwrap_or("unknown")).into_owned(),
        ),
        (
            "keys",
            format!(
                "{} active, {} pending",
                count(n.keys_active),
                count(n.keys_pending)
            ),
        ),
        (
            "traffic",
            format!("{} up, {} down", bytes(n.uplink), bytes(n.downlink)),
        ),
        (
            "last seen",
            match n.last_seen {
                Some(at) => format!("{} UTC ({})", utc_minute(at), seen(Some(at), now)),
                None => "never".to_owned(),
            },
        ),
        (
            "host",
            one_line(n.host.as_deref().unwrap_or("-")).into_owned(),
        ),
        (
            "veild",
            one_line(n.veild.as_deref().unwrap_or("-")).into_owned(),
        ),
    ];
    rows.iter()
        .map(|(label, value)| format!("{label:<10} {value}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, draining: bool) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            draining,
            last_seen: Some(1_000),
            core: Some("up".into()),
            keys_active: Some(3),
            keys_pending: Some(0),
            veild: Some("0.1.0".into()),
            host: Some("fra.example\u{1b}[31m".into()),
            uplink: 2048,
            downlink: 1 << 20,
        }
    }

    #[test]
    fn the_list_marks_this_node_and_drained_ones_and_escapes_hosts() {
        let list = NodeList {
            this: "a".into(),
            registry_up: false,
            nodes: vec![node("a", false), node("b", true)],
        };
        let text = super::list(&list, 1_090);
        assert!(text.contains("a (this)"), "{text}");
        assert!(
            text.contains("drained") && text.contains("serving"),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("last read"), "{text}");
        let one = show(&list.nodes[1], 1_090);
        assert!(one.contains("drained") && one.contains("3 active"), "{one}");
    }
}
