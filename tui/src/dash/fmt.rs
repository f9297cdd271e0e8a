//! Short renderings of values for the dashboard's narrow cells: sizes, rates, spans and
//! times. Everything is pure (the current time is passed in) so snapshots are stable.

use time::OffsetDateTime;
use time::macros::format_description;
use veil_shared::model::{DisableReason, Key, KeyState};

/// Bytes in binary units, compact: `0`, `512B`, `1.5K`, `12M`, `3.2G`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if n < 1024 {
        return format!("{n}B");
    }
    // Precision loss past 2^53 bytes is invisible at this resolution.
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    if value < 10.0 {
        format!("{value:.1}{unit}")
    } else {
        format!("{value:.0}{unit}")
    }
}

/// Bytes in binary units with a space, for prose: `1.5 KiB`, `10.0 GiB`.
pub fn bytes_long(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

/// A rate in bytes per second: `0`, `12K/s`. Zero shows as a quiet `0`.
pub fn rate(n: u64) -> String {
    if n == 0 {
        "0".to_owned()
    } else {
        format!("{}/s", bytes(n))
    }
}

/// A span as its two largest units: `3d 4h`, `2h 5m`, `42s`.
pub fn duration(secs: u64) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let first = UNITS
        .iter()
        .position(|&(size, _)| secs >= size)
        .unwrap_or(UNITS.len() - 1);
    let (size, unit) = UNITS[first];
    let mut out = format!("{}{unit}", secs / size);
    if let Some(&(smaller, small_unit)) = UNITS.get(first + 1) {
        let rest = secs % size / smaller;
        if rest > 0 {
            out.push_str(&format!(" {rest}{small_unit}"));
        }
    }
    out
}

/// An uptime as the dashboard shows it: seconds only in the first minute, then minutes
/// at most (`42s`, `5m`, `2h 5m`, `3d 4h`), so an idle screen changes once a minute.
pub fn uptime(secs: u64) -> String {
    if secs < 60 {
        format!("{secs}s")
    } else {
        duration(secs - secs % 60)
    }
}

/// A span as its largest unit only: `5m`, `3h`, `12d`.
pub fn short_span(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3_600 => format!("{}m", secs / 60),
        3_600..86_400 => format!("{}h", secs / 3_600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// Formats Unix seconds in UTC; a value the calendar cannot hold is shown raw.
fn utc(secs: i64, format: &[time::format_description::BorrowedFormatItem<'_>]) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| format!("@{secs}"))
}

/// Unix seconds as `2026-11-26 16:03` (UTC).
pub fn utc_minute(secs: i64) -> String {
    utc(
        secs,
        format_description!("[year]-[month]-[day] [hour]:[minute]"),
    )
}

/// Unix seconds as `2026-11-26` (UTC).
pub fn utc_date(secs: i64) -> String {
    utc(secs, format_description!("[year]-[month]-[day]"))
}

/// Unix seconds as `16:03:07` (UTC).
pub fn utc_clock(secs: i64) -> String {
    utc(secs, format_description!("[hour]:[minute]:[second]"))
}

/// Unix seconds as `16:03` (UTC).
pub fn utc_hm(secs: i64) -> String {
    utc(secs, format_description!("[hour]:[minute]"))
}

/// The start (Unix seconds) of the UTC day holding `secs`.
pub fn day_start(secs: i64) -> i64 {
    secs - secs.rem_euclid(86_400)
}

/// When a key expires, relative to `now`: `—`, `in 5d`, `expired`.
pub fn expiry(expires_at: Option<i64>, now: i64) -> String {
    match expires_at {
        None => "—".to_owned(),
        Some(at) if at <= now => "expired".to_owned(),
        Some(at) => format!("in {}", short_span((at - now).unsigned_abs())),
    }
}

/// A key's state in a table cell: `active`, `off (limit)`; a trailing `*` while the core
/// does not reflect it yet.
pub fn state(key: &Key) -> String {
    let base = match (key.state, key.disable_reason) {
        (KeyState::Active, _) => "active",
        (KeyState::Disabled, Some(DisableReason::Limited)) => "off (limit)",
        (KeyState::Disabled, Some(DisableReason::Expired)) => "off (expired)",
        (KeyState::Disabled, _) => "off (manual)",
        (KeyState::Deleted, _) => "deleted",
    };
    if key.pending {
        format!("{base}*")
    } else {
        base.to_owned()
    }
}

/// A key's state in prose: `active`, `disabled (limited)`, with `, pending` while the core
/// does not reflect it.
pub fn state_long(key: &Key) -> String {
    let base = match (key.state, key.disable_reason) {
        (KeyState::Disabled, Some(reason)) => format!("disabled ({reason})"),
        (state, _) => state.to_string(),
    };
    if key.pending {
        format!("{base}, pending in the core")
    } else {
        base
    }
}

/// Cuts `text` to at most `width` columns, ending with `…` when cut.
pub fn clip(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let total: usize = text.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// Parses a data limit as typed in the form: empty (unlimited), `500M`, `10G`, `1.5T`,
/// `1024` (bytes). Units are binary; a trailing `B`/`iB` is accepted.
pub fn parse_size(raw: &str) -> Result<Option<u64>, String> {
    let text = raw.trim();
    if text.is_empty() || text == "-" || text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let upper = text.to_ascii_uppercase();
    let trimmed = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper)
        .trim();
    let (number, shift) = match trimmed.chars().last() {
        Some('K') => (&trimmed[..trimmed.len() - 1], 10),
        Some('M') => (&trimmed[..trimmed.len() - 1], 20),
        Some('G') => (&trimmed[..trimmed.len() - 1], 30),
        Some('T') => (&trimmed[..trimmed.len() - 1], 40),
        _ => (trimmed, 0),
    };
    let bad = || format!("'{text}' is not a size: try 500M, 10G or 1.5T (empty: unlimited)");
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    if !value.is_finite() || value <= 0.0 {
        return Err(bad());
    }
    #[allow(clippy::cast_precision_loss)]
    let bytes = value * (1u64 << shift) as f64;
    if !(1.0..1.8e19).contains(&bytes) {
        return Err(bad());
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Some(bytes.round() as u64))
}

/// Parses an expiry as typed in the form, relative to `now`: empty (never), `30d`, `12h`,
/// `2w`, or a date `2026-12-31` (the end of that day, UTC).
pub fn parse_expiry(raw: &str, now: i64) -> Result<Option<i64>, String> {
    let text = raw.trim();
    if text.is_empty() || text == "-" || text.eq_ignore_ascii_case("never") {
        return Ok(None);
    }
    let bad =
        || format!("'{text}' is not an expiry: try 30d, 12h, 2w or 2026-12-31 (empty: never)");
    let lower = text.to_ascii_lowercase();
    let span = |n: &str, unit: i64| -> Result<Option<i64>, String> {
        let n: i64 = n.trim().parse().map_err(|_| bad())?;
        if n <= 0 {
            return Err(bad());
        }
        n.checked_mul(unit)
            .and_then(|s| now.checked_add(s))
            .map(Some)
            .ok_or_else(bad)
    };
    if let Some(n) = lower.strip_suffix('d') {
        return span(n, 86_400);
    }
    if let Some(n) = lower.strip_suffix('h') {
        return span(n, 3_600);
    }
    if let Some(n) = lower.strip_suffix('w') {
        return span(n, 7 * 86_400);
    }
    let format = format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, &format).map_err(|_| bad())?;
    let end = date.midnight().assume_utc().unix_timestamp() + 86_399;
    if end <= now {
        return Err(format!("{text} is in the past"));
    }
    Ok(Some(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_compact() {
        assert_eq!(bytes(0), "0B");
        assert_eq!(bytes(1023), "1023B");
        assert_eq!(bytes(1536), "1.5K");
        assert_eq!(bytes(12 * 1024 * 1024), "12M");
        assert_eq!(bytes(u64::MAX), "16E");
        assert_eq!(bytes_long(1536), "1.5 KiB");
        assert_eq!(rate(0), "0");
        assert_eq!(rate(2048), "2.0K/s");
    }

    #[test]
    fn spans_and_times() {
        assert_eq!(duration(7_500), "2h 5m");
        assert_eq!(short_span(59), "59s");
        assert_eq!(uptime(42), "42s");
        assert_eq!(uptime(5 * 60 + 12), "5m");
        assert_eq!(uptime(7_512), "2h 5m");
        assert_eq!(short_span(3 * 86_400 + 5), "3d");
        assert_eq!(utc_minute(1_795_708_980), "2026-11-26 16:03");
        assert_eq!(utc_clock(1_795_708_987), "16:03:07");
        assert_eq!(day_start(1_795_708_980), 1_795_651_200);
        assert_eq!(expiry(None, 0), "—");
        assert_eq!(expiry(Some(10), 20), "expired");
        assert_eq!(expiry(Some(86_400 * 5 + 20), 20), "in 5d");
    }

    #[test]
    fn clipping_counts_columns() {
        assert_eq!(clip("alice", 10), "alice");
        assert_eq!(clip("alexandria", 5), "alex…");
        assert_eq!(clip("東京東京", 5), "東京…");
        assert_eq!(clip("abc", 0), "");
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size(""), Ok(None));
        assert_eq!(parse_size("10G"), Ok(Some(10 << 30)));
        assert_eq!(parse_size("500 MiB"), Ok(Some(500 << 20)));
        assert_eq!(parse_size("1.5t"), Ok(Some(3 << 39)));
        assert_eq!(parse_size("2048"), Ok(Some(2048)));
        for bad in ["x", "-5G", "0", "G", "1e30"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expiries_parse() {
        let now = 1_795_708_980;
        assert_eq!(parse_expiry("", now), Ok(None));
        assert_eq!(parse_expiry("30d", now), Ok(Some(now + 30 * 86_400)));
        assert_eq!(parse_expiry("2w", now), Ok(Some(now + 14 * 86_400)));
        assert_eq!(parse_expiry("2026-12-31", now), Ok(Some(1_798_761_599)));
        assert!(parse_expiry("2020-01-01", now).is_err());
        assert!(parse_expiry("soon", now).is_err());
        assert!(parse_expiry("0d", now).is_err());
    }
}
