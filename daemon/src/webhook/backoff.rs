//! When a failed delivery is tried again: exponential backoff from the webhook's
//! `retry_initial` (doubling per attempt) up to `retry_max`, with "equal jitter" (half the
//! delay fixed, half random) so many failing deliveries do not retry in lockstep.

use std::time::Duration;

/// The delay after failed attempt number `attempt` (1 for the first), given `unit`, a
/// random number in `[0, 1)`.
pub fn delay(attempt: u32, initial: Duration, max: Duration, unit: f64) -> Duration {
    let doublings = attempt.saturating_sub(1).min(40);
    let grown = initial.saturating_mul(1u32 << doublings.min(31));
    let grown = if doublings > 31 { max } else { grown };
    let capped = grown.min(max);
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        0.5
    };
    capped / 2 + (capped / 2).mul_f64(unit)
}

/// A random number in `[0, 1)` (0.5 if the system has no randomness to give).
pub fn unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_the_initial_delay_up_to_the_cap_with_bounded_jitter() {
        let s = Duration::from_secs;
        let (initial, max) = (s(5), s(3600));
        assert_eq!(delay(1, initial, max, 1.0), s(5));
        assert_eq!(delay(1, initial, max, 0.0), Duration::from_millis(2500));
        assert_eq!(delay(2, initial, max, 1.0), s(10));
        assert_eq!(delay(3, initial, max, 1.0), s(20));
        assert_eq!(delay(10, initial, max, 1.0), s(2560));
        assert_eq!(delay(11, initial, max, 1.0), s(3600));
        assert_eq!(delay(1000, initial, max, 1.0), s(3600));
        assert_eq!(delay(1000, initial, max, 0.0), s(1800));
        for n in 1..60 {
            let d = delay(n, initial, max, unit());
            assert!(d >= initial / 2 && d <= max, "{n}: {d:?}");
        }
        assert_eq!(
            delay(2, initial, max, f64::NAN),
            Duration::from_millis(7500)
        );
        let u = unit();
        assert!((0.0..1.0).contains(&u));
    }
}
