//! Byte counts for people. Display sizes are binary (KiB = 2¹⁰ …), as the core counts
//! them; [`bytes_exact`] is the form that parses back to the very same number.

use humansize::{BINARY, FormatSizeOptions, format_size};

/// Bytes in binary units with one decimal, for prose: `512 B`, `1.5 KiB`, `10.0 GiB`.
pub fn bytes_long(n: u64) -> String {
    if n < 1024 {
        return format!("{n} B");
    }
    let options = FormatSizeOptions::from(BINARY)
        .decimal_places(1)
        .decimal_zeroes(1);
    format_size(n, options)
}

/// Bytes in binary units, compact for narrow cells: `512B`, `1.5K`, `12M`, `3.2G`: one
/// decimal below 10, none above, and the unit's first letter only.
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

/// A rate in bytes per second for narrow cells: `12K/s`; zero shows as a quiet `0`.
pub fn rate(n: u64) -> String {
    if n == 0 {
        "0".to_owned()
    } else {
        format!("{}/s", bytes(n))
    }
}

/// A rate in bytes per second for prose: `1.5 KiB/s`; zero shows as `-`.
pub fn rate_long(n: u64) -> String {
    if n == 0 {
        "-".to_owned()
    } else {
        format!("{}/s", bytes_long(n))
    }
}

/// Bytes exactly, in the largest unit that divides them (decimal or binary, whichever
/// gives the shorter number): `10GB`, `5GiB`, `1536`. What an edit field shows, so saving
/// it unchanged stores the same number.
pub fn bytes_exact(n: u64) -> String {
    const UNITS: [(u64, &str); 10] = [
        (1 << 50, "PiB"),
        (1_000_000_000_000_000, "PB"),
        (1 << 40, "TiB"),
        (1_000_000_000_000, "TB"),
        (1 << 30, "GiB"),
        (1_000_000_000, "GB"),
        (1 << 20, "MiB"),
        (1_000_000, "MB"),
        (1 << 10, "KiB"),
        (1_000, "KB"),
    ];
    UNITS
        .iter()
        .filter(|&&(size, _)| n >= size && n.is_multiple_of(size))
        .min_by_key(|&&(size, _)| n / size)
        .map_or_else(
            || n.to_string(),
            |&(size, unit)| format!("{}{unit}", n / size),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_sizes_use_binary_units() {
        assert_eq!(bytes_long(0), "0 B");
        assert_eq!(bytes_long(1023), "1023 B");
        assert_eq!(bytes_long(1536), "1.5 KiB");
        assert_eq!(bytes_long(10 * 1024 * 1024 * 1024), "10.0 GiB");
        assert_eq!(bytes_long(47_396_045), "45.2 MiB");
        assert_eq!(bytes_long(u64::MAX), "16.0 EiB");
        assert_eq!(rate_long(0), "-");
        assert_eq!(rate_long(1_536), "1.5 KiB/s");
    }

    #[test]
    fn compact_sizes_fit_narrow_cells() {
        assert_eq!(bytes(0), "0B");
        assert_eq!(bytes(1023), "1023B");
        assert_eq!(bytes(1536), "1.5K");
        assert_eq!(bytes(12 * 1024 * 1024), "12M");
        assert_eq!(bytes(u64::MAX), "16E");
        assert_eq!(rate(0), "0");
        assert_eq!(rate(2048), "2.0K/s");
    }

    #[test]
    fn exact_sizes_pick_the_shortest_exact_unit() {
        assert_eq!(bytes_exact(0), "0");
        assert_eq!(bytes_exact(1536), "1536");
        assert_eq!(bytes_exact(5 << 30), "5GiB");
        assert_eq!(bytes_exact(10_000_000_000), "10GB");
        assert_eq!(bytes_exact(3 << 40), "3TiB");
        assert_eq!(bytes_exact(2_000_000), "2MB");
        assert_eq!(bytes_exact(2_048_000), "2000KiB");
    }
}
