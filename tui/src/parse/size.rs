//! Sizes: `10GB`, `1.5 TiB`, `500M`, `1048576`. The rules are in the module above.

/// Words that mean "no data limit".
const UNLIMITED: [&str; 4] = ["none", "unlimited", "off", "-"];

/// A data limit: a size, or `None` for one of the words for unlimited.
pub fn limit(raw: &str) -> Result<Option<u64>, String> {
    let text = raw.trim();
    if UNLIMITED.iter().any(|w| text.eq_ignore_ascii_case(w)) {
        return Ok(None);
    }
    size(text).map(Some)
}

/// A size in bytes, at most 2⁶³−1 (what the daemon can store).
pub fn size(raw: &str) -> Result<u64, String> {
    let bytes = size_wide(raw)?;
    u64::try_from(bytes)
        .ok()
        .filter(|&b| i64::try_from(b).is_ok())
        .ok_or_else(|| format!("'{}' is too large", raw.trim()))
}

/// A size without the upper bound, so tests can read back any formatted `u64`.
pub(super) fn size_wide(raw: &str) -> Result<u128, String> {
    let text = raw.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim();
    let factor = factor(unit).ok_or_else(|| {
        format!(
            "'{text}' is not a size: unknown unit '{unit}'; use B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, \
             GiB, TiB (powers of 1024)"
        )
    })?;
    scale(number, factor)
        .ok_or_else(|| format!("'{text}' is not a size like 10GB, 50GiB, 500MB or 1048576"))
}

/// How many bytes one `unit` is; `None` for an unknown unit.
fn factor(unit: &str) -> Option<u128> {
    let unit = unit.to_ascii_lowercase();
    let (prefix, rest) = unit.split_at(unit.len().min(1));
    let power = match prefix {
        "" | "b" if rest.is_empty() => return Some(1),
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        "e" => 6,
        _ => return None,
    };
    match rest {
        "" | "ib" => Some(1u128 << (10 * power)),
        "b" => Some(1000u128.pow(power)),
        _ => None,
    }
}

/// `number` (digits with an optional fraction) times `factor`, the fraction cut to whole
/// bytes. Integer arithmetic only, so `4.35GB` is exactly 4 350 000 000.
fn scale(number: &str, factor: u128) -> Option<u128> {
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let whole = whole.checked_mul(factor)?;
    if !number.contains('.') {
        return Some(whole);
    }
    // `1.` is a typo, not a size; 18 digits are more than any unit needs.
    if frac.is_empty() || frac.len() > 18 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = u32::try_from(frac.len()).ok()?;
    let part = frac.parse::<u128>().ok()?.checked_mul(factor)? / 10u128.pow(digits);
    whole.checked_add(part)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn decimal_and_binary_units_differ() {
        assert_eq!(size("10GB"), Ok(10_000_000_000));
        assert_eq!(size("10gb"), Ok(10_000_000_000));
        assert_eq!(size("10GiB"), Ok(10 << 30));
        assert_eq!(size("10G"), Ok(10 << 30));
        assert_eq!(size("10 g"), Ok(10 << 30));
        assert_eq!(size("1.5 TiB"), Ok(3 << 39));
        assert_eq!(size("1.5t"), Ok(3 << 39));
        assert_eq!(size("500MB"), Ok(500_000_000));
        assert_eq!(size("500 MiB"), Ok(500 << 20));
        assert_eq!(size("2kB"), Ok(2_000));
        assert_eq!(size("10kib"), Ok(10_240));
        assert_eq!(size("4.35GB"), Ok(4_350_000_000));
        assert_eq!(size(".5K"), Ok(512));
        assert_eq!(size("1048576"), Ok(1 << 20));
        assert_eq!(size("7 B"), Ok(7));
        assert_eq!(size("0"), Ok(0));
        assert_eq!(size("8EiB"), Err("'8EiB' is too large".into()));
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in [
            "",
            "lots",
            "5 parsecs",
            "-1",
            "-5G",
            "1.",
            ".",
            ".5.5G",
            "G",
            "1e30",
            "10iB",
            "10 bits",
            "9999999999TiB",
        ] {
            assert!(size(bad).is_err(), "{bad}");
        }
        assert!(size("lots").unwrap_err().contains("not a size"));
        assert!(size("1e3").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn limits_have_words_for_unlimited() {
        for word in ["none", "Unlimited", "OFF", "-", " none "] {
            assert_eq!(limit(word), Ok(None), "{word}");
        }
        assert_eq!(limit("10GB"), Ok(Some(10_000_000_000)));
        assert!(limit("").is_err());
    }
}
