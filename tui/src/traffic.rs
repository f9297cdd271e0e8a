//! `veil traffic …` and the traffic flags of `veil key add|update`: parsing sizes, expiry
//! dates and reset schedules, running the traffic commands, and their output for people.

use clap::{Args, Subcommand, ValueEnum};
use time::OffsetDateTime;
use time::macros::format_description;
use veil_shared::api::KeyUpdate;
use veil_shared::model::{KeyRef, KeyState};
use veil_shared::traffic::{
    CycleReport, KeyTraffic, KeyTrafficDetail, Online, PollerInfo, ResetSchedule, Resolution,
    TrafficEvent, TrafficGet, TrafficHistory, TrafficHistoryPage, TrafficList, TrafficPage,
    TrafficResetParams, TrafficSort, TrafficSync,
};
use veil_shared::validate;

use crate::commands::{Reply, Session};
use crate::failure::Failure;
use crate::humanize::{self, plural, utc_minute};
use crate::table::{Align, Table, one_line, truncate};

/// The widest a name may be in the traffic table.
const NAME_CELL: usize = 28;

// ---------------------------------------------------------------------------------------
// Command line

/// `veil traffic [list|show|reset|sync|history]`; bare `veil traffic` lists.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TrafficArgs {
    #[command(subcommand)]
    pub command: Option<TrafficCommand>,
    #[command(flatten)]
    pub list: TrafficListArgs,
}

#[derive(Debug, Subcommand)]
pub enum TrafficCommand {
    /// Every key's totals and live rates (deleted keys only with --state deleted).
    #[command(visible_alias = "ls")]
    List(TrafficListArgs),
    /// One key: totals, rates, limit, expiry, reset schedule, online users, resets.
    Show(TrafficKey),
    /// Set a key's totals back to zero (logged with the usage cleared).
    Reset(TrafficKey),
    /// Read the core's counters now instead of waiting for the poller.
    Sync,
    /// A key's traffic over time, per minute, hour or day (UTC).
    History(HistoryArgs),
}

#[derive(Debug, Args)]
pub struct TrafficKey {
    /// The key's id, UUID or name.
    #[arg(value_name = "KEY", value_parser = parse_key_ref)]
    pub key: KeyRef,
}

#[derive(Debug, Default, Args)]
pub struct TrafficListArgs {
    /// Only keys in this state.
    #[arg(long, value_enum)]
    pub state: Option<StateChoice>,
    /// Only keys whose name, note or UUID contains TEXT (any case).
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Order: id, usage (most first), rate (fastest first), active (latest first).
    #[arg(long, value_enum, default_value_t = SortChoice::Id)]
    pub sort: SortChoice,
    /// Show at most N keys.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Skip the first N keys.
    #[arg(long, value_name = "N")]
    pub offset: Option<u64>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The key's id, UUID or name.
    #[arg(value_name = "KEY", value_parser = parse_key_ref)]
    pub key: KeyRef,
    /// Bucket size.
    #[arg(long, value_enum, default_value_t = ByChoice::Hour)]
    pub by: ByChoice,
    /// Start: a date (2026-11-26, UTC), or a span back from now (90m, 12h, 7d).
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    pub since: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StateChoice {
    Active,
    Disabled,
    Deleted,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum SortChoice {
    #[default]
    Id,
    Usage,
    Rate,
    Active,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ByChoice {
    Minute,
    Hour,
    Day,
}

/// `--limit`, `--expires`, `--reset` of `veil key add`.
#[derive(Debug, Default, Args)]
pub struct LimitArgs {
    /// Data limit (uplink + downlink since the last reset): 50GiB, 500MB, 1.5TiB, bytes.
    #[arg(long, value_name = "SIZE", value_parser = parse_limit, conflicts_with = "count")]
    pub limit: Option<Limit>,
    /// Expiry: a date (2027-01-01, midnight UTC; or 2027-01-01T18:30), or a span from now
    /// (30d, 12h, 90m).
    #[arg(long, value_name = "WHEN", value_parser = parse_expires, conflicts_with = "count")]
    pub expires: Option<Expiry>,
    /// Reset the totals periodically: none, daily, weekly:mon…sun, monthly:1…31 (UTC).
    #[arg(long, value_name = "SCHEDULE", value_parser = parse_schedule, conflicts_with = "count")]
    pub reset: Option<ResetSchedule>,
}

/// `veil key update KEY …`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("change").required(true).multiple(true)
    .args(["name", "note", "limit", "expires", "reset"])))]
pub struct UpdateArgs {
    /// The key's id, UUID or name.
    #[arg(value_name = "KEY", value_parser = parse_key_ref)]
    pub key: KeyRef,
    /// A new name.
    #[arg(long, value_name = "NEW")]
    pub name: Option<String>,
    /// A new note ("" clears it).
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Data limit as for `key add`, or `none` for unlimited. Raising it enables a key that
    /// was disabled for its limit.
    #[arg(long, value_name = "SIZE|none", value_parser = parse_limit)]
    pub limit: Option<Limit>,
    /// Expiry as for `key add`, or `never`. Extending it enables a key that had expired.
    #[arg(long, value_name = "WHEN|never", value_parser = parse_expires)]
    pub expires: Option<Expiry>,
    /// Reset schedule as for `key add`.
    #[arg(long, value_name = "SCHEDULE", value_parser = parse_schedule)]
    pub reset: Option<ResetSchedule>,
}

impl UpdateArgs {
    pub fn into_params(self) -> KeyUpdate {
        KeyUpdate {
            key: self.key,
            name: self.name,
            note: self.note,
            data_limit: self.limit.map(|l| l.0),
            expires_at: self.expires.map(|e| e.0),
            reset: self.reset,
        }
    }
}

/// A data limit in bytes; `None` is unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit(pub Option<u64>);

/// An expiry in Unix seconds; `None` never expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expiry(pub Option<i64>);

fn parse_key_ref(raw: &str) -> Result<KeyRef, String> {
    validate::key_ref(raw).map_err(|e| e.to_string())
}

fn parse_schedule(raw: &str) -> Result<ResetSchedule, String> {
    raw.parse()
}

fn parse_limit(raw: &str) -> Result<Limit, String> {
    let text = raw.trim();
    if ["none", "unlimited", "off"].contains(&text.to_ascii_lowercase().as_str()) {
        return Ok(Limit(None));
    }
    parse_size(text).map(|b| Limit(Some(b)))
}

/// `50GiB`, `1.5 TB`, `500M`, `1024`: binary units (KiB…TiB, or K/M/G/T) and decimal ones
/// (kB/KB…TB); a bare number is bytes.
pub fn parse_size(raw: &str) -> Result<u64, String> {
    let text = raw.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim();
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => {
            return Err(format!(
                "'{raw}': unknown unit '{unit}'; use B, KiB, MiB, GiB, TiB (or kB, MB, GB, TB), or 'none'"
            ));
        }
    };
    let bad = || format!("'{raw}' is not a size like 50GiB, 500MB or 1048576");
    if number.is_empty() {
        return Err(bad());
    }
    let bytes = if let Some((whole, frac)) = number.split_once('.') {
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        if frac.is_empty() || frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let scale = 10u64.pow(frac.len() as u32);
        let frac: u64 = frac.parse().map_err(|_| bad())?;
        let part = u128::from(frac) * u128::from(factor) / u128::from(scale);
        u128::from(whole) * u128::from(factor) + part
    } else {
        u128::from(number.parse::<u64>().map_err(|_| bad())?) * u128::from(factor)
    };
    if bytes > i64::MAX as u128 {
        return Err(format!("'{raw}' is too large"));
    }
    Ok(bytes as u64)
}

fn parse_expires(raw: &str) -> Result<Expiry, String> {
    let text = raw.trim().to_ascii_lowercase();
    if ["never", "none", "off"].contains(&text.as_str()) {
        return Ok(Expiry(None));
    }
    parse_when(raw, now(), true).map(|t| Expiry(Some(t)))
}

fn parse_since(raw: &str) -> Result<i64, String> {
    parse_when(raw, now(), false)
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A date or date-time (UTC), or a span (`30d`, `12h`, `90m`, `2w`) added to `now`
/// (`forward`) or taken from it.
pub fn parse_when(raw: &str, now: i64, forward: bool) -> Result<i64, String> {
    let text = raw.trim();
    let usage = "use a date (2027-01-01 or 2027-01-01T18:30, UTC) or a span (30d, 12h, 90m, 2w)";
    if let Some(unit) = text.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        let number = &text[..text.len() - 1];
        if let Ok(n) = number.parse::<i64>() {
            let secs = match unit.to_ascii_lowercase() {
                'm' => 60,
                'h' => 3_600,
                'd' => 86_400,
                'w' => 7 * 86_400,
                _ => return Err(format!("'{raw}': {usage}")),
            };
            if n <= 0 {
                return Err(format!("'{raw}': a span must be positive"));
            }
            let span = n
                .checked_mul(secs)
                .ok_or_else(|| format!("'{raw}' is too far"))?;
            return Ok(if forward {
                now.saturating_add(span)
            } else {
                now.saturating_sub(span)
            });
        }
    }
    let date_only = format_description!("[year]-[month]-[day]");
    if let Ok(date) = time::Date::parse(text, &date_only) {
        return Ok(date.midnight().assume_utc().unix_timestamp());
    }
    for format in [
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    ] {
        if let Ok(at) = time::PrimitiveDateTime::parse(text, &format) {
            return Ok(at.assume_utc().unix_timestamp());
        }
    }
    Err(format!("'{raw}': {usage}"))
}

// ---------------------------------------------------------------------------------------
// Running

pub async fn run(session: &mut Session<'_>, args: TrafficArgs) -> Result<Reply, Failure> {
    match args.command.unwrap_or(TrafficCommand::List(args.list)) {
        TrafficCommand::List(list) => {
            let offset = list.offset.unwrap_or(0);
            let params = TrafficList {
                state: list.state.map(|s| match s {
                    StateChoice::Active => KeyState::Active,
                    StateChoice::Disabled => KeyState::Disabled,
                    StateChoice::Deleted => KeyState::Deleted,
                }),
                search: list.search,
                sort: Some(match list.sort {
                    SortChoice::Id => TrafficSort::Id,
                    SortChoice::Usage => TrafficSort::Usage,
                    SortChoice::Rate => TrafficSort::Rate,
                    SortChoice::Active => TrafficSort::Active,
                }),
                offset: list.offset,
                limit: list.limit,
            };
            let (raw, page) = session.call(params).await?;
            let human = page_text(&page, offset);
            Ok(Reply { raw, human })
        }
        TrafficCommand::Show(arg) => {
            let (raw, detail) = session.call(TrafficGet { key: arg.key }).await?;
            let human = detail_text(&detail);
            Ok(Reply { raw, human })
        }
        TrafficCommand::Reset(arg) => {
            let (raw, after) = session.call(TrafficResetParams { key: arg.key }).await?;
            // The usage cleared is the newest entry of the key's resets.
            let (_, detail) = session
                .call(TrafficGet {
                    key: KeyRef::Id(after.id),
                })
                .await?;
            let human = reset_text(&after, &detail);
            Ok(Reply { raw, human })
        }
        TrafficCommand::Sync => {
            let (raw, report) = session.call(TrafficSync {}).await?;
            let human = sync_text(&report);
            Ok(Reply { raw, human })
        }
        TrafficCommand::History(args) => {
            let resolution = match args.by {
                ByChoice::Minute => Resolution::Minute,
                ByChoice::Hour => Resolution::Hour,
                ByChoice::Day => Resolution::Day,
            };
            let params = TrafficHistory {
                key: args.key,
                resolution: Some(resolution),
                since: args.since,
                until: None,
            };
            let (raw, page) = session.call(params).await?;
            let human = history_text(&page);
            Ok(Reply { raw, human })
        }
    }
}

// ---------------------------------------------------------------------------------------
// Output

fn rate(bytes_per_sec: u64) -> String {
    if bytes_per_sec == 0 {
        "-".to_owned()
    } else {
        format!("{}/s", humanize::bytes(bytes_per_sec))
    }
}

fn limit_cell(t: &KeyTraffic) -> String {
    match t.data_limit {
        None => "-".to_owned(),
        Some(limit) => format!("{} ({})", humanize::bytes(limit), percent(t.used(), limit)),
    }
}

fn percent(used: u64, limit: u64) -> String {
    if limit == 0 {
        return "100%".to_owned();
    }
    let p = u128::from(used) * 100 / u128::from(limit);
    format!("{p}%")
}

fn state_text(t: &KeyTraffic) -> String {
    match (t.state, t.disable_reason) {
        (KeyState::Disabled, Some(reason)) => format!("disabled ({reason})"),
        (state, _) => state.to_string(),
    }
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
                state_text(t),
                humanize::bytes(t.downlink),
                humanize::bytes(t.uplink),
                limit_cell(t),
                rate(t.downlink_rate),
                rate(t.uplink_rate),
                t.last_active.map(utc_minute).unwrap_or_else(|| "-".into()),
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
    let every = humanize::duration(p.interval_ms.div_ceil(1000).max(1));
    match &p.last_cycle {
        Some(c) => format!(
            "counters read every {every}, last at {} UTC ({} moved)",
            humanize_clock(c.at),
            plural(c.moved, "key", "keys")
        ),
        None => format!("counters read every {every}; none read since veild started"),
    }
}

fn humanize_clock(secs: i64) -> String {
    let format = format_description!("[hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("@{secs}"))
}

fn labelled(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 2;
    let mut out = String::new();
    for (label, value) in rows {
        let head = format!("{label}:");
        out.push_str(&format!("{head:<width$}{value}\n"));
    }
    out
}

/// `veil traffic show KEY`.
pub fn detail_text(d: &KeyTrafficDetail) -> String {
    let t = &d.traffic;
    let mut rows = vec![
        ("key", format!("{} '{}'", t.id, one_line(&t.name))),
        ("state", state_text(t)),
        ("downlink", humanize::bytes(t.downlink)),
        ("uplink", humanize::bytes(t.uplink)),
        (
            "lifetime",
            format!(
                "↓ {}  ↑ {}",
                humanize::bytes(t.lifetime_downlink),
                humanize::bytes(t.lifetime_uplink)
            ),
        ),
        (
            "rate",
            format!("↓ {}  ↑ {}", rate(t.downlink_rate), rate(t.uplink_rate)),
        ),
        (
            "last active",
            t.last_active
                .map(|a| format!("{} UTC", utc_minute(a)))
                .unwrap_or_else(|| "never".into()),
        ),
        (
            "data limit",
            match t.data_limit {
                Some(limit) => format!(
                    "{} ({} used)",
                    humanize::bytes(limit),
                    percent(t.used(), limit)
                ),
                None => "unlimited".into(),
            },
        ),
        (
            "expires",
            t.expires_at
                .map(|e| format!("{} UTC", utc_minute(e)))
                .unwrap_or_else(|| "never".into()),
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
                humanize::bytes(r.downlink),
                humanize::bytes(r.uplink),
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

fn reset_text(after: &KeyTraffic, detail: &KeyTrafficDetail) -> String {
    let label = format!("key {} '{}'", after.id, one_line(&after.name));
    let cleared = match detail.resets.first() {
        Some(r) => format!(
            ": cleared ↓ {}  ↑ {}",
            humanize::bytes(r.downlink),
            humanize::bytes(r.uplink)
        ),
        None => String::new(),
    };
    let state = if after.state == KeyState::Active {
        String::new()
    } else {
        format!(" It is {}.", state_text(after))
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
    let format = match page.resolution {
        Resolution::Minute | Resolution::Hour => {
            format_description!("[year]-[month]-[day] [hour]:[minute]")
        }
        Resolution::Day => format_description!("[year]-[month]-[day]"),
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
        let at = OffsetDateTime::from_unix_timestamp(b.at)
            .ok()
            .and_then(|t| t.format(&format).ok())
            .unwrap_or_else(|| format!("@{}", b.at));
        table.push(vec![
            at,
            humanize::bytes(b.downlink),
            humanize::bytes(b.uplink),
        ]);
        down = down.saturating_add(b.downlink);
        up = up.saturating_add(b.uplink);
    }
    let mut out = table.render();
    out.push_str(&format!(
        "{}: ↓ {}  ↑ {}\n",
        plural(page.buckets.len() as u64, "bucket", "buckets"),
        humanize::bytes(down),
        humanize::bytes(up)
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
                rate(t.downlink_rate),
                rate(t.uplink_rate)
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

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("50GiB"), Ok(50 << 30));
        assert_eq!(parse_size("50G"), Ok(50 << 30));
        assert_eq!(parse_size("1.5 TiB"), Ok(3 << 39));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("10kib"), Ok(10_240));
        for bad in [
            "",
            "lots",
            "5 parsecs",
            "-1",
            "1.",
            ".5.5G",
            "9999999999TiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_limit("none"), Ok(Limit(None)));
        assert_eq!(parse_limit("Unlimited"), Ok(Limit(None)));
    }

    #[test]
    fn expiries_are_dates_or_spans() {
        let now = 1_795_708_980; // 2026-11-26 16:03 UTC
        assert_eq!(parse_when("30d", now, true), Ok(now + 30 * 86_400));
        assert_eq!(parse_when("12h", now, true), Ok(now + 12 * 3_600));
        assert_eq!(parse_when("90m", now, false), Ok(now - 90 * 60));
        assert_eq!(parse_when("2w", now, true), Ok(now + 14 * 86_400));
        assert_eq!(parse_when("2027-01-01", now, true), Ok(1_798_761_600));
        assert_eq!(
            parse_when("2027-01-01T18:30", now, true),
            Ok(1_798_761_600 + 18 * 3_600 + 1_800)
        );
        for bad in ["soon", "0d", "-3d", "3y", "2027-13-01", "2027-01-01T25:00"] {
            assert!(parse_when(bad, now, true).is_err(), "{bad}");
        }
        assert_eq!(parse_expires("never"), Ok(Expiry(None)));
    }

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
