//! After a pass: the keys it removed from the core lose their open connections
//! ([`crate::disconnect`]), recorded in the audit trail, told to watchers and counted.

use veil_shared::api::{Actor, DaemonTask, DisconnectEvent, Event};
use veil_shared::model::KeyState;

use super::Applier;
use crate::disconnect::KeyCut;
use crate::store::{audit, keys, keys::CoreRow};

/// Whether applying `row` took a user out of the core: disabled, deleted, or a new UUID
/// (the old one went).
pub(super) fn left_core(row: &CoreRow) -> bool {
    match row.state {
        KeyState::Disabled | KeyState::Deleted => true,
        KeyState::Active => rotated(row),
    }
}

/// An active key applied under another UUID than it now has.
pub(super) fn rotated(row: &CoreRow) -> bool {
    row.applied == Some(KeyState::Active)
        && row
            .applied_uuid
            .as_deref()
            .is_some_and(|u| u != row.uuid.to_string())
}

impl Applier {
    /// Cuts the connections of the `applied` rows that left the core. Runs before the pass
    /// ends, so a reply that says a key is disabled comes after its tunnels are gone.
    pub(super) async fn cut_removed(&self, applied: &[CoreRow]) {
        let ids: Vec<i64> = applied
            .iter()
            .filter(|r| left_core(r))
            .map(|r| r.id)
            .collect();
        if ids.is_empty() {
            return;
        }
        let outcome = self.disconnect.after_removal(&self.link, &ids).await;
        if outcome.keys.is_empty() {
            return;
        }
        self.metrics
            .disconnected(outcome.cut as u64, outcome.failed as u64);
        for cut in &outcome.keys {
            let detail = cut.describe();
            if cut.error.is_some() {
                tracing::warn!(key_id = cut.key_id, "{detail}");
            } else {
                tracing::info!(key_id = cut.key_id, "{detail}");
            }
        }
        let last = outcome
            .keys
            .last()
            .map(|c| format!("key {}: {}", c.key_id, c.describe()));
        self.status.update(|s| {
            if let Some(d) = s.disconnect.as_mut() {
                d.connections_cut += outcome.cut as u64;
                d.last.clone_from(&last);
            }
        });
        let cuts = outcome.keys;
        let written = self
            .store
            .write(move |sp| {
                let actor = Actor::Daemon {
                    task: DaemonTask::Disconnect,
                };
                let ids: Vec<i64> = cuts.iter().map(|c| c.key_id).collect();
                let names = keys::by_ids(sp, &ids)?;
                let mut events = Vec::with_capacity(cuts.len());
                for cut in &cuts {
                    let detail = cut.describe();
                    audit::insert(
                        sp,
                        &audit::Record {
                            actor: &actor,
                            method: "key.disconnect",
                            key_id: Some(cut.key_id),
                            key_ref: None,
                            outcome: if cut.error.is_some() { "error" } else { "ok" },
                            detail: Some(&detail),
                        },
                    )?;
                    let name = names
                        .iter()
                        .find(|k| k.id == cut.key_id)
                        .map(|k| k.name.clone())
                        .unwrap_or_default();
                    events.push(event(cut, name, detail));
                }
                Ok(events)
            })
            .await;
        match written {
            Ok(events) => {
                for e in events {
                    let _ = self.events.send(Event::Disconnect(e));
                }
            }
            Err(e) => tracing::error!(error = %e, "recording cut connections failed"),
        }
    }
}

fn event(cut: &KeyCut, name: String, detail: String) -> DisconnectEvent {
    DisconnectEvent {
        key_id: cut.key_id,
        name,
        connections: cut.connections as u64,
        addresses: cut.addresses.iter().map(ToString::to_string).collect(),
        collateral: cut.collateral.map(|n| n as u64),
        detail,
    }
}
