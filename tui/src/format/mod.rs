//! Values rendered for people, shared by the CLI and the dashboard: sizes and rates
//! ([`size`]), times, dates and durations ([`time`]), key states and counts ([`key`]).
//!
//! Everything is pure (the current time is passed in where it matters) so the exact wording
//! is pinned by tests and the dashboard's snapshots stay stable. Times are in UTC: a
//! server's keys are looked at from many places, so one zone for everyone beats each
//! reader's local time. What these print, the `parse` module reads back (see its docs).

pub mod key;
pub mod size;
pub mod time;

pub use self::key::{applied, plural, state, state_long, state_reason};
pub use self::size::{bytes, bytes_exact, bytes_long, rate, rate_long};
pub use self::time::{
    day_start, duration, expiry, expiry_input, short_span, uptime, utc_clock, utc_clock_now,
    utc_date, utc_hm, utc_minute, utc_rfc3339,
};
