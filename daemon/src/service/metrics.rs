//! What a scrape of `/metrics` reads at that moment: keys by state and pending keys (one
//! `GROUP BY` on a reader connection), and the core's state as the health watcher last
//! saw it. Counted figures are counted where they happen, not here.

use veil_shared::api::CoreStatus;
use veil_shared::model::{DisableReason, KeyState};

use super::Service;
use crate::metrics::http::Collect;
use crate::metrics::{KeyStates, Metrics};
use crate::store::keys;

impl Collect for Service {
    async fn collect(&self, metrics: &Metrics) {
        let counts = self
            .store
            .read(|c| Ok((keys::counts_by_reason(c)?, keys::pending_count(c)?)))
            .await;
        match counts {
            Ok((counts, pending)) => {
                metrics.set_keys(key_states(&counts));
                metrics.set_pending(pending);
            }
            // The previous figures stay; the scrape still answers.
            Err(e) => tracing::warn!(error = %e, "metrics: reading the key counts failed"),
        }
        let status = self.status.snapshot();
        metrics.set_core(status.core == CoreStatus::Up, status.uptime_secs);
    }
}

/// Folds `(state, reason, count)` rows into the `state` label's values.
fn key_states(rows: &[(KeyState, Option<DisableReason>, u64)]) -> KeyStates {
    let mut states = KeyStates::default();
    for &(state, reason, n) in rows {
        let slot = match (state, reason) {
            (KeyState::Active, _) => &mut states.active,
            (KeyState::Disabled, Some(DisableReason::Expired)) => &mut states.expired,
            (KeyState::Disabled, Some(DisableReason::Limited)) => &mut states.over_limit,
            (KeyState::Disabled, Some(DisableReason::Manual) | None) => &mut states.disabled,
            (KeyState::Deleted, _) => &mut states.deleted,
        };
        *slot += n;
    }
    states
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_keys_are_split_by_why() {
        let rows = [
            (KeyState::Active, None, 5),
            (KeyState::Disabled, None, 1),
            (KeyState::Disabled, Some(DisableReason::Manual), 2),
            (KeyState::Disabled, Some(DisableReason::Expired), 3),
            (KeyState::Disabled, Some(DisableReason::Limited), 4),
            (KeyState::Deleted, Some(DisableReason::Manual), 6),
        ];
        assert_eq!(
            key_states(&rows),
            KeyStates {
                active: 5,
                disabled: 3,
                expired: 3,
                over_limit: 4,
                deleted: 6,
            }
        );
    }
}
