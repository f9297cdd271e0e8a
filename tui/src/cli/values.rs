//! clap's value parsers for what `veil` reads from its arguments: key references, reset
//! schedules, and (through [`veil::parse`], the dashboard's reader too) sizes and times.

use time::OffsetDateTime;
use veil_shared::model::KeyRef;
use veil_shared::traffic::ResetSchedule;
use veil_shared::validate;

/// A data limit in bytes; `None` is unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit(pub Option<u64>);

/// An expiry in Unix seconds; `None` never expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expiry(pub Option<i64>);

/// Uses the shared rules, so `veil` and `veild` never disagree on what an id is.
pub fn key_ref(raw: &str) -> Result<KeyRef, String> {
    validate::key_ref(raw).map_err(|e| e.to_string())
}

pub fn schedule(raw: &str) -> Result<ResetSchedule, String> {
    raw.parse()
}

pub fn limit(raw: &str) -> Result<Limit, String> {
    veil::parse::limit(raw).map(Limit)
}

pub fn expires(raw: &str) -> Result<Expiry, String> {
    veil::parse::expiry(raw, now()).map(Expiry)
}

pub fn since(raw: &str) -> Result<i64, String> {
    veil::parse::since(raw, now())
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_sizes_and_dates_with_the_shared_rules() {
        assert_eq!(limit("10GB"), Ok(Limit(Some(10_000_000_000))));
        assert_eq!(limit("50GiB"), Ok(Limit(Some(50 << 30))));
        assert_eq!(limit("none"), Ok(Limit(None)));
        assert_eq!(limit("Unlimited"), Ok(Limit(None)));
        assert_eq!(expires("2027-01-31"), Ok(Expiry(Some(1_801_439_999))));
        assert_eq!(expires("never"), Ok(Expiry(None)));
        assert_eq!(since("2027-01-31"), Ok(1_801_353_600));
        assert!(limit("lots").is_err());
        assert!(expires("soon").is_err());
    }
}
