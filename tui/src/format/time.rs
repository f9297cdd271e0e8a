//! Times, dates and spans for people, all in UTC. A value the calendar cannot hold is
//! shown raw as `@<secs>` rather than failing.

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

const DAY: i64 = 86_400;

fn utc(secs: i64, format: &[BorrowedFormatItem<'_>]) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| format!("@{secs}"))
}

/// Unix seconds as `2026-11-26 16:03`.
pub fn utc_minute(secs: i64) -> String {
    utc(
        secs,
        format_description!("[year]-[month]-[day] [hour]:[minute]"),
    )
}

/// Unix seconds as `2026-11-26`.
pub fn utc_date(secs: i64) -> String {
    utc(secs, format_description!("[year]-[month]-[day]"))
}

/// Unix seconds as `16:03:07`.
pub fn utc_clock(secs: i64) -> String {
    utc(secs, format_description!("[hour]:[minute]:[second]"))
}

/// Unix seconds as `16:03`.
pub fn utc_hm(secs: i64) -> String {
    utc(secs, format_description!("[hour]:[minute]"))
}

/// Unix seconds as RFC 3339, exact to the second: `2027-01-31T23:59:59Z`.
pub fn utc_rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{secs}"))
}

/// The current wall-clock time as `16:03:07`, to stamp watched events.
pub fn utc_clock_now() -> String {
    utc_clock(OffsetDateTime::now_utc().unix_timestamp())
}

/// The start (Unix seconds) of the UTC day holding `secs`.
pub fn day_start(secs: i64) -> i64 {
    secs - secs.rem_euclid(DAY)
}

/// An expiry as an input field shows it, in the shortest form that parses back to the
/// same second: `2027-01-31` (for the day's last second, which is what a bare date means),
/// `2027-01-31 18:30`, or RFC 3339.
pub fn expiry_input(secs: i64) -> String {
    if secs.rem_euclid(DAY) == DAY - 1 {
        utc_date(secs)
    } else if secs.rem_euclid(60) == 0 {
        utc_minute(secs)
    } else {
        utc_rfc3339(secs)
    }
}

/// When a key expires, relative to `now`: `—`, `in 5d`, `expired`.
pub fn expiry(expires_at: Option<i64>, now: i64) -> String {
    match expires_at {
        None => "—".to_owned(),
        Some(at) if at <= now => "expired".to_owned(),
        Some(at) => format!("in {}", short_span((at - now).unsigned_abs())),
    }
}

/// A span as its two largest units: `3d 4h`, `2h 5m`, `42s` (the rest is cut, not
/// rounded).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc() {
        assert_eq!(utc_minute(1_795_708_980), "2026-11-26 16:03");
        assert_eq!(utc_minute(0), "1970-01-01 00:00");
        assert_eq!(utc_minute(59), "1970-01-01 00:00");
        assert_eq!(utc_minute(i64::MAX), format!("@{}", i64::MAX));
        assert_eq!(utc_clock(1_795_708_987), "16:03:07");
        assert_eq!(utc_clock_now().len(), "16:03:07".len());
        assert_eq!(utc_rfc3339(1_801_439_999), "2027-01-31T23:59:59Z");
        assert_eq!(day_start(1_795_708_980), 1_795_651_200);
    }

    #[test]
    fn expiry_inputs_are_as_short_as_exactness_allows() {
        assert_eq!(expiry_input(1_801_439_999), "2027-01-31");
        assert_eq!(expiry_input(1_801_353_600), "2027-01-31 00:00");
        assert_eq!(expiry_input(1_801_353_601), "2027-01-31T00:00:01Z");
        assert_eq!(expiry(None, 0), "—");
        assert_eq!(expiry(Some(10), 20), "expired");
        assert_eq!(expiry(Some(86_400 * 5 + 20), 20), "in 5d");
    }

    #[test]
    fn durations_keep_two_units() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(60), "1m");
        assert_eq!(duration(125), "2m 5s");
        assert_eq!(duration(7_500), "2h 5m");
        assert_eq!(duration(3 * 86_400 + 4 * 3_600 + 59), "3d 4h");
        assert_eq!(duration(86_400 + 30), "1d");
        assert_eq!(short_span(59), "59s");
        assert_eq!(short_span(3 * 86_400 + 5), "3d");
        assert_eq!(uptime(42), "42s");
        assert_eq!(uptime(5 * 60 + 12), "5m");
        assert_eq!(uptime(7_512), "2h 5m");
    }
}
