//! How the applier waits between tries while the core is unreachable (restarts, slow
//! starts): 2 s, 4 s, 8 s, then every 10 s by default. Only what may pass by itself is
//! tried again on a timer; a refusal is not.

use std::time::Duration;

/// The applier's delays between tries of a change the core could not be reached for.
///
/// A core restart takes a few seconds; exponential delays of 2 s, 4 s, 8 s
/// (capped) ride that out without hammering a core that is really down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, including the first (0 is treated as 1).
    pub tries: u32,
    /// Wait after the first failed attempt; doubled after each further one.
    pub first_delay: Duration,
    /// Upper bound for any single wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            tries: 3,
            first_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based):
    /// `first_delay * 2^(attempt-1)`, capped at `max_delay`.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.first_delay
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_and_cap() {
        let p = RetryPolicy::default();
        let secs: Vec<u64> = (1..=5).map(|a| p.delay_after(a).as_secs()).collect();
        assert_eq!(secs, [2, 4, 8, 10, 10]);
        assert_eq!(p.delay_after(100), p.max_delay);
    }
}
