//! Points in time and spans: `2027-01-31`, `2027-01-31T18:30`, RFC 3339, `30d`. The rules
//! are in the module above.

use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

/// Words that mean "never expires".
const NEVER: [&str; 4] = ["never", "none", "off", "-"];

/// Span units with a fixed length (humantime's names for them); months, years and units
/// below a second are refused.
const SPAN_UNITS: [&str; 24] = [
    "seconds", "second", "secs", "sec", "s", "minutes", "minute", "mins", "min", "m", "hours",
    "hour", "hrs", "hr", "h", "days", "day", "d", "weeks", "week", "wks", "wk", "w", "",
];

const USAGE: &str = "use a date (2027-01-31, the end of that day UTC), a date and time \
                     (2027-01-31T18:30 UTC, or RFC 3339) or a span (30d, 12h, 90m, 2w)";

/// What a bare date stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// An expiry: the day's last second, and spans count forward.
    Expiry,
    /// The start of a range: the day's first second, and spans count back.
    Since,
}

/// An expiry in Unix seconds, or `None` for one of the words for never.
pub fn expiry(raw: &str, now: i64) -> Result<Option<i64>, String> {
    let text = raw.trim();
    if NEVER.iter().any(|w| text.eq_ignore_ascii_case(w)) {
        return Ok(None);
    }
    instant(text, now, Role::Expiry).map(Some)
}

/// The start of a range in Unix seconds.
pub fn since(raw: &str, now: i64) -> Result<i64, String> {
    instant(raw.trim(), now, Role::Since)
}

fn instant(text: &str, now: i64, role: Role) -> Result<i64, String> {
    if let Some(at) = date_time(text, role) {
        return Ok(at);
    }
    let span = span(text).map_err(|e| {
        if text.starts_with(|c: char| c.is_ascii_digit()) && text.contains('-') {
            format!("'{text}': {USAGE}")
        } else {
            e
        }
    })?;
    Ok(match role {
        Role::Expiry => now.saturating_add(span),
        Role::Since => now.saturating_sub(span),
    })
}

/// A date, a date and time, or RFC 3339; `None` when `text` is none of them.
fn date_time(text: &str, role: Role) -> Option<i64> {
    if let Ok(date) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        let start = date.midnight().assume_utc().unix_timestamp();
        return Some(match role {
            Role::Expiry => start + 86_399,
            Role::Since => start,
        });
    }
    let local = [
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    ];
    for format in local {
        if let Ok(at) = PrimitiveDateTime::parse(text, &format) {
            return Some(at.assume_utc().unix_timestamp());
        }
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// A positive span in whole seconds: `30d`, `12h`, `90m`, `2w`, `1d 12h`, `3 days`.
pub fn span(raw: &str) -> Result<i64, String> {
    let text = raw.trim().to_ascii_lowercase();
    let units_ok = text
        .split(|c: char| !c.is_ascii_alphabetic())
        .all(|unit| SPAN_UNITS.contains(&unit));
    if !units_ok || !text.contains(|c: char| c.is_ascii_alphabetic()) {
        return Err(format!("'{}': {USAGE}", raw.trim()));
    }
    let parsed = humantime::parse_duration(&text).map_err(|e| format!("'{}': {e}", raw.trim()))?;
    if parsed < Duration::from_secs(1) {
        return Err(format!("'{}': a span must be positive", raw.trim()));
    }
    i64::try_from(parsed.as_secs()).map_err(|_| format!("'{}' is too far", raw.trim()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const NOW: i64 = 1_795_708_980; // 2026-11-26 16:03 UTC

    #[test]
    fn a_bare_date_is_the_end_of_the_day_as_an_expiry() {
        assert_eq!(expiry("2027-01-31", NOW), Ok(Some(1_801_439_999)));
        assert_eq!(expiry("2027-01-01", NOW), Ok(Some(1_798_847_999)));
        // …and the start of the day as the start of a range.
        assert_eq!(since("2027-01-01", NOW), Ok(1_798_761_600));
    }

    #[test]
    fn dates_with_times_are_utc_or_carry_their_zone() {
        let t1830 = 1_798_761_600 + 18 * 3_600 + 1_800;
        assert_eq!(expiry("2027-01-01T18:30", NOW), Ok(Some(t1830)));
        assert_eq!(expiry("2027-01-01 18:30", NOW), Ok(Some(t1830)));
        assert_eq!(expiry("2027-01-01T18:30:00", NOW), Ok(Some(t1830)));
        assert_eq!(expiry("2027-01-01T18:30:00Z", NOW), Ok(Some(t1830)));
        assert_eq!(expiry("2027-01-01T20:30:00+02:00", NOW), Ok(Some(t1830)));
        assert_eq!(expiry("2027-01-31T23:59:59Z", NOW), Ok(Some(1_801_439_999)));
    }

    #[test]
    fn spans_count_from_now() {
        assert_eq!(expiry("30d", NOW), Ok(Some(NOW + 30 * 86_400)));
        assert_eq!(expiry("12h", NOW), Ok(Some(NOW + 12 * 3_600)));
        assert_eq!(expiry("2w", NOW), Ok(Some(NOW + 14 * 86_400)));
        assert_eq!(expiry("90M", NOW), Ok(Some(NOW + 90 * 60)));
        assert_eq!(expiry("1d 12h", NOW), Ok(Some(NOW + 36 * 3_600)));
        assert_eq!(expiry("3 days", NOW), Ok(Some(NOW + 3 * 86_400)));
        assert_eq!(since("90m", NOW), Ok(NOW - 90 * 60));
        assert_eq!(since("7d", NOW), Ok(NOW - 7 * 86_400));
    }

    #[test]
    fn never_and_nonsense() {
        for word in ["never", "NONE", "off", "-"] {
            assert_eq!(expiry(word, NOW), Ok(None), "{word}");
        }
        for bad in [
            "",
            "soon",
            "0d",
            "-3d",
            "3y",
            "2months",
            "500ms",
            "30",
            "2027-13-01",
            "2027-01-01T25:00",
            "2027-02-30",
        ] {
            assert!(expiry(bad, NOW).is_err(), "{bad}");
        }
        assert!(since("never", NOW).is_err());
    }
}
