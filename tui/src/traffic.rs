//! `veil traffic …` and the traffic flags of `veil key add|update`: parsing sizes, expiry
//! dates and reset schedules, running the traffic commands, and their output for people.

use veil_shared::traffic::TrafficEvent;

use crate::humanize;

/// `watch`: one line per cycle with the keys that moved, fastest first (at most five).
pub fn event_line(e: &TrafficEvent) -> String {
    let mut ticks = e.keys.clone();
    ticks.sort_by_key(|t| std::cmp::Reverse(t.uplink_rate.saturating_add(t.downlink_rate)));
    let shown: Vec<String> = ticks
        .iter()
        .take(5)
        .map(|t| {
            format!(
                "key {} ↓{}/s ↑{}/s",
                t.id,
                humanize::bytes(t.downlink_rate),
                humanize::bytes(t.uplink_rate)
            )
        })
        .collect();
    let more = ticks.len().saturating_sub(shown.len());
    let more = if more > 0 {
        format!(", and {more} more")
    } else {
        String::new()
    };
    format!(
        "traffic   {} moved: {}{more}",
        humanize::plural(e.keys.len() as u64, "key", "keys"),
        shown.join(", ")
    )
}
