//! Retrying calls across short core outages (restarts, slow starts).

use std::future::Future;
use std::time::Duration;

use super::error::CoreError;

/// How persistently to retry transport failures.
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

/// Runs `op` until it succeeds, fails with a non-transient error, or
/// `policy.tries` attempts have failed with [`CoreError::Transport`].
///
/// Only transport errors are retried: a rejection would just repeat. Each
/// failed attempt is logged with `what` so operators can see a flapping core.
pub async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    mut op: F,
) -> Result<T, CoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CoreError>>,
{
    let tries = policy.tries.max(1);
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err) if err.is_transient() && attempt < tries => {
                let delay = policy.delay_after(attempt);
                tracing::warn!(
                    what,
                    attempt,
                    tries,
                    error = %err,
                    retry_in_ms = delay.as_millis() as u64,
                    "core call failed; retrying"
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(err) => {
                if err.is_transient() {
                    tracing::warn!(what, attempt, tries, error = %err, "core call failed; giving up");
                }
                // Rejections go back to the caller unlogged: it knows the context.
                return Err(err);
            }
        }
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
