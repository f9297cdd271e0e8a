//! Property tests: whatever [`crate::format`] prints, this module reads back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::size::size_wide;
use super::{expiry, since, size, span};
use crate::format;

/// 9999-12-31T23:59:59Z: the last second RFC 3339 can write.
const LAST_RFC3339: i64 = 253_402_300_799;
/// 0000-01-01T00:00:00Z.
const FIRST_RFC3339: i64 = -62_167_219_200;

/// The unit a binary display form was printed in (KiB, MiB, …), in bytes.
fn display_unit(n: u64) -> u128 {
    let mut unit: u128 = 1;
    while u128::from(n) >= unit * 1024 && unit < 1 << 60 {
        unit *= 1024;
    }
    unit
}

fn distance(a: u128, b: u64) -> u128 {
    a.abs_diff(u128::from(b))
}

proptest! {
    /// The exact form is exact, over every size the daemon can store.
    #[test]
    fn exact_sizes_read_back_exactly(n in 0..=i64::MAX as u64) {
        prop_assert_eq!(size(&format::bytes_exact(n)), Ok(n));
    }

    /// Multiples of the units, where the exact form uses them.
    #[test]
    fn exact_sizes_of_round_numbers_read_back(k in 1u64..100_000, unit in 0usize..10) {
        let units = [1u64 << 10, 1 << 20, 1 << 30, 1 << 40, 1 << 50,
                     1_000, 1_000_000, 1_000_000_000, 1_000_000_000_000, 1_000_000_000_000_000];
        let n = k.saturating_mul(units[unit]);
        prop_assume!(i64::try_from(n).is_ok());
        prop_assert_eq!(size(&format::bytes_exact(n)), Ok(n));
    }

    /// `1.5 KiB`: one decimal, so within a twentieth of the unit (and a byte for the cut).
    #[test]
    fn long_sizes_read_back_within_their_precision(n: u64) {
        let shown = format::bytes_long(n);
        let read = size_wide(&shown).unwrap();
        let unit = display_unit(n);
        prop_assert!(distance(read, n) <= unit / 20 + unit / 1000 + 1, "{} -> {}", shown, read);
        if n < 1024 {
            prop_assert_eq!(read, u128::from(n));
        }
    }

    /// `1.5K`, `12M`: one decimal below 10, none above.
    #[test]
    fn compact_sizes_read_back_within_their_precision(n: u64) {
        let shown = format::bytes(n);
        let read = size_wide(&shown).unwrap();
        let unit = display_unit(n);
        prop_assert!(distance(read, n) <= unit / 2 + unit / 1000 + 1, "{} -> {}", shown, read);
    }

    /// RFC 3339 and the expiry field's form are exact.
    #[test]
    fn exact_times_read_back_exactly(t in FIRST_RFC3339..=LAST_RFC3339) {
        prop_assert_eq!(expiry(&format::utc_rfc3339(t), 0), Ok(Some(t)));
        prop_assert_eq!(since(&format::utc_rfc3339(t), 0), Ok(t));
        prop_assert_eq!(expiry(&format::expiry_input(t), 0), Ok(Some(t)));
    }

    /// `2026-11-26 16:03` is the minute; a bare date is its day's end as an expiry and its
    /// start as the beginning of a range.
    #[test]
    fn rounded_times_read_back_to_what_they_show(t in FIRST_RFC3339..=LAST_RFC3339) {
        let minute = t - t.rem_euclid(60);
        prop_assert_eq!(since(&format::utc_minute(t), 0), Ok(minute));
        prop_assert_eq!(expiry(&format::utc_minute(t), 0), Ok(Some(minute)));
        let day = format::day_start(t);
        prop_assert_eq!(since(&format::utc_date(t), 0), Ok(day));
        prop_assert_eq!(expiry(&format::utc_date(t), 0), Ok(Some(day + 86_399)));
    }

    /// `3d 4h` keeps two units and cuts the rest; `5m` keeps one.
    #[test]
    fn spans_read_back_within_their_precision(secs in 1u64..=100 * 365 * 86_400) {
        let read = span(&format::duration(secs)).unwrap().unsigned_abs();
        prop_assert!(read <= secs);
        let second_unit = match secs {
            0..3_600 => 1,
            3_600..86_400 => 60,
            _ => 3_600,
        };
        prop_assert!(secs - read < second_unit, "{} -> {}", secs, read);
        let read = span(&format::short_span(secs)).unwrap().unsigned_abs();
        prop_assert!(read <= secs && secs - read < second_unit.max(1) * 60);
    }
}

#[test]
fn the_edges_read_back() {
    assert_eq!(
        size(&format::bytes_exact(i64::MAX as u64)),
        Ok(i64::MAX as u64)
    );
    assert_eq!(size_wide(&format::bytes_long(u64::MAX)), Ok(1 << 64));
    assert_eq!(
        expiry(&format::utc_rfc3339(LAST_RFC3339), 0),
        Ok(Some(LAST_RFC3339))
    );
}
