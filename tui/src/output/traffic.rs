//! `veil traffic …` for people: the list, one key's detail, resets, sync, history, and
//! the traffic line of `veil watch`.

use veil::format::{
    bytes_long, duration, plural, rate_long, state_reason, utc_clock, utc_date, utc_minute,
};
use veil::text::{one_line, truncate};
use veil_shared::model::KeyState;
use veil_shared::traffic::{
    CycleReport, KeyTraffic, KeyTrafficDetail, Online, PollerInfo, ResetSchedule, Resolution,
    TrafficEvent, TrafficHistoryPage, TrafficPage,
};

use super::table::{Align, Table, labelled};

/// The widest a name may be in the traffic table.
const NAME_CELL: usize = 28;

fn limit_cell(t: &KeyTraffic) -> String {
    match t.data_limit {
        None => "-".to_owned(),
        Some(limit) => format!("{} ({})", bytes_long(limit), percent(t.used(), limit)),
    }
}

fn percent(used: u64, limit: u64) -> String {
    if limit == 0 {
        return "100%".to_owned();
    }
    let p = u128::from(used) * 100 / u128::from(limit);
    format!("{p}%")
}

/// `veil traffic`: a table and a footer about the poller.
pub fn page_text(page: &TrafficPage, offset: u64) -> String {
    let mut out = String::new();
    if !page.keys.is_empty() {
        let mut table = Table::new(&[
            ("ID", Align::Right),
            ("NAME", Align::Left),
            ("STATE", Align::Left),
            ("DOWNLINK", Align::Right),
            ("UPLINK", Align::Right),
            ("LIMIT", Align::Left),
            ("↓ RATE", Align::Right),
            ("↑ RATE", Align::Right),
            ("LAST ACTIVE", Align::Left),
        ]);
        for t in &page.keys {
            table.push(vec![
                t.id.to_string(),
                truncate(&one_line(&t.name), NAME_CELL).into_owned(),
                state_reason(t.state, t.disable_reason),
                bytes_long(t.downlink),
                bytes_long(t.uplink),
                limit_cell(t),
                rate_long(t.downlink_rate),
                rate_long(t.uplink_rate),
                t.last_active.map_or_else(|| "-".into(), utc_minute),
            ]);
        }
        out.push_str(&table.render());
    }
    let shown = page.keys.len() as u64;
    let count = if shown == page.total {
        plural(page.total, "key", "keys")
    } else {
        format!(
            "{}–{} of {}",
            offset.saturating_add(1).min(page.total),
            offset.saturating_add(shown),
            plural(page.total, "key", "keys")
        )
    };
    out.push_str(&format!("{count}; {}\n", poller_text(&page.poller)));
    out
}

fn poller_text(p: &PollerInfo) -> String {
    let every = duration(p.interval_ms.div_ceil(1000).max(1));
    match &p.last_cycle {
        Some(c) => format!(
            "counters read every {every}, last at {} UTC ({} moved)",
            utc_clock(c.at),
            plural(c.moved, "key", "keys")
        ),
        None => format!("counters read every {every}; none read since veild started"),
    }
}

/// `veil traffic show KEY`.
pub fn detail_text(d: &KeyTrafficDetail) -> String {
    let t = &d.traffic;
    let mut rows = vec![
        ("key", format!("{} '{}'", t.id, one_line(&t.name))),
        ("state", state_reason(t.state, t.disable_reason)),
        ("downlink", bytes_long(t.downlink)),
        ("uplink", bytes_long(t.uplink)),
        (
            "lifetime",
            format!(
                "↓ {}  ↑ {}",
                bytes_long(t.lifetime_downlink),
                bytes_long(t.lifetime_uplink)
            ),
        ),
        (
            "rate",
            format!(
                "↓ {}  ↑ {}",
                rate_long(t.downlink_rate),
                rate_long(t.uplink_rate)
            ),
        ),
        (
            "last active",
            t.last_active
                .map_or_else(|| "never".into(), |a| format!("{} UTC", utc_minute(a))),
        ),
        (
            "data limit",
            match t.data_limit {
                Some(limit) => format!("{} ({} used)", bytes_long(limit), percent(t.used(), limit)),
                None => "unlimited".into(),
            },
        ),
        (
            "expires",
            t.expires_at
                .map_or_else(|| "never".into(), |e| format!("{} UTC", utc_minute(e))),
        ),
        (
            "resets",
            match (t.reset, t.next_reset_at) {
                (ResetSchedule::None, _) => "none".into(),
                (s, Some(next)) => format!("{s}, next {} UTC", utc_minute(next)),
                (s, None) => s.to_string(),
            },
        ),
        ("online", online_text(&d.online)),
    ];
    if let Some(last) = t.last_reset_at {
        rows.push(("last reset", format!("{} UTC", utc_minute(last))));
    }
    let mut out = labelled(&rows);
    if !d.resets.is_empty() {
        out.push('\n');
        let mut table = Table::new(&[
            ("RESET AT (UTC)", Align::Left),
            ("REASON", Align::Left),
            ("DOWNLINK", Align::Right),
            ("UPLINK", Align::Right),
        ]);
        for r in &d.resets {
            table.push(vec![
                utc_minute(r.at),
                r.reason.clone(),
                bytes_long(r.downlink),
                bytes_long(r.uplink),
            ]);
        }
        out.push_str(&table.render());
    }
    out
}

fn online_text(online: &Online) -> String {
    match online {
        Online::Unsupported { reason } => format!("not available ({})", one_line(reason)),
        Online::Off => "not tracked (turn on statsUserOnline in the core's policy, level 0)".into(),
        Online::Known { count, ips } if ips.is_empty() => {
            plural(*count, "IP connected", "IPs connected")
        }
        Online::Known { count, ips } => {
            let list: Vec<String> = ips.iter().map(|i| one_line(&i.ip).into_owned()).collect();
            format!(
                "{}: {}",
                plural(*count, "IP connected", "IPs connected"),
                list.join(", ")
            )
        }
        Online::Unavailable { error } => format!("unknown: {}", one_line(error)),
    }
}

pub fn reset_text(after: &KeyTraffic, detail: &KeyTrafficDetail) -> String {
    let label = format!("key {} '{}'", after.id, one_line(&after.name));
    let cleared = match detail.resets.first() {
        Some(r) => format!(
            ": cleared ↓ {}  ↑ {}",
            bytes_long(r.downlink),
            bytes_long(r.uplink)
        ),
        None => String::new(),
    };
    let state = if after.state == KeyState::Active {
        String::new()
    } else {
        format!(
            " It is {}.",
            state_reason(after.state, after.disable_reason)
        )
    };
    format!("Reset the traffic of {label}{cleared}.{state}\n")
}

/// `veil traffic sync`.
pub fn sync_text(r: &CycleReport) -> String {
    let mut out = format!(
        "Synced: {} moved, {} read, epoch {}{}, in {:.1} ms.\n",
        plural(r.moved, "key", "keys"),
        plural(r.counters, "counter", "counters"),
        r.epoch,
        if r.new_epoch {
            " (new: the core restarted)"
        } else {
            ""
        },
        r.took_us as f64 / 1000.0
    );
    let ids = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    if !r.disabled.is_empty() {
        out.push_str(&format!(
            "Disabled (over the limit or expired): {}\n",
            ids(&r.disabled)
        ));
    }
    if !r.enabled.is_empty() {
        out.push_str(&format!("Enabled again: {}\n", ids(&r.enabled)));
    }
    if !r.reset.is_empty() {
        out.push_str(&format!("Reset on schedule: {}\n", ids(&r.reset)));
    }
    out
}

/// `veil traffic history KEY`.
pub fn history_text(page: &TrafficHistoryPage) -> String {
    let at = match page.resolution {
        Resolution::Minute | Resolution::Hour => utc_minute,
        Resolution::Day => utc_date,
    };
    if page.buckets.is_empty() {
        return format!("no traffic for key {} in this period\n", page.key_id);
    }
    let mut table = Table::new(&[
        ("FROM (UTC)", Align::Left),
        ("DOWNLINK", Align::Right),
        ("UPLINK", Align::Right),
    ]);
    let (mut down, mut up) = (0u64, 0u64);
    for b in &page.buckets {
        table.push(vec![at(b.at), bytes_long(b.downlink), bytes_long(b.uplink)]);
        down = down.saturating_add(b.downlink);
        up = up.saturating_add(b.uplink);
    }
    let mut out = table.render();
    out.push_str(&format!(
        "{}: ↓ {}  ↑ {}\n",
        plural(page.buckets.len() as u64, "bucket", "buckets"),
        bytes_long(down),
        bytes_long(up)
    ));
    out
}

/// `watch`: one line per cycle with the keys that moved, fastest first (at most five).
pub fn event_line(e: &TrafficEvent) -> String {
    let mut ticks = e.keys.clone();
    ticks.sort_by_key(|t| std::cmp::Reverse(t.uplink_rate.saturating_add(t.downlink_rate)));
    let shown: Vec<String> = ticks
        .iter()
        .take(5)
        .map(|t| {
            format!(
                "key {} ↓{} ↑{}",
                t.id,
                rate_long(t.downlink_rate),
                rate_long(t.uplink_rate)
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
        plural(e.keys.len() as u64, "key", "keys"),
        shown.join(", ")
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use veil_shared::traffic::{TrafficBucket, TrafficTick};

    use super::*;

    fn traffic(id: i64) -> KeyTraffic {
        KeyTraffic {
            id,
            name: "alice".into(),
            state: KeyState::Active,
            disable_reason: None,
            uplink: 2_048,
            downlink: 3 << 20,
            lifetime_uplink: 2_048,
            lifetime_downlink: 3 << 20,
            uplink_rate: 0,
            downlink_rate: 1_536,
            last_active: Some(1_795_708_980),
            data_limit: Some(50 << 30),
            expires_at: None,
            reset: ResetSchedule::Monthly(1),
            next_reset_at: Some(1_796_083_200),
            last_reset_at: None,
        }
    }

    #[test]
    fn the_list_is_a_table_with_the_poller_in_the_footer() {
        let page = TrafficPage {
            keys: vec![traffic(7)],
            total: 1,
            poller: PollerInfo {
                interval_ms: 10_000,
                last_cycle: None,
            },
        };
        let out = page_text(&page, 0);
        assert_eq!(
            out,
            "\
ID  NAME   STATE   DOWNLINK   UPLINK  LIMIT             ↓ RATE  ↑ RATE  LAST ACTIVE
 7  alice  active   3.0 MiB  2.0 KiB  50.0 GiB (0%)  1.5 KiB/s       -  2026-11-26 16:03
1 key; counters read every 10s; none read since veild started
"
        );
    }

    #[test]
    fn show_lists_everything_about_one_key() {
        let detail = KeyTrafficDetail {
            traffic: traffic(7),
            online: Online::Unsupported {
                reason: "v2fly".into(),
            },
            resets: vec![],
        };
        let out = detail_text(&detail);
        assert!(out.contains("downlink:    3.0 MiB\n"), "{out}");
        assert!(
            out.contains("resets:      monthly:1, next 2026-12-01 00:00 UTC\n"),
            "{out}"
        );
        assert!(
            out.contains("online:      not available (v2fly)\n"),
            "{out}"
        );
    }

    #[test]
    fn history_and_events_read_as_lines() {
        let page = TrafficHistoryPage {
            key_id: 7,
            resolution: Resolution::Hour,
            buckets: vec![TrafficBucket {
                at: 1_795_708_800,
                uplink: 1,
                downlink: 2_048,
            }],
        };
        let out = history_text(&page);
        assert!(out.starts_with("FROM (UTC)"), "{out}");
        assert!(out.contains("2026-11-26 16:00"), "{out}");
        assert!(out.ends_with("1 bucket: ↓ 2.0 KiB  ↑ 1 B\n"), "{out}");
        let e = TrafficEvent {
            at: 0,
            interval_ms: 10_000,
            keys: vec![TrafficTick {
                id: 3,
                uplink_rate: 0,
                downlink_rate: 2_048,
                uplink: 0,
                downlink: 20_480,
            }],
        };
        assert_eq!(event_line(&e), "traffic   1 key moved: key 3 ↓2.0 KiB/s ↑-");
    }
}
