//! The one path of every mutation: the caller validates what it can without the database,
//! then the change runs in the writer's transaction together with its audit row (refused
//! or not) and its webhook events (the outbox), watchers hear of what changed, and the
//! applier settles it before the caller is answered, so an answer says whether the change
//! is live in the core or still pending.

use rusqlite::Connection;
use veil_shared::api::{Actor, Event, KeyAction, KeyEvent};
use veil_shared::model::Key;

use super::{Service, ServiceError, ServiceResult, mask};
use crate::error::ErrorKind;
use crate::store::{StoreError, audit, webhooks};

/// Which operation, as the audit trail records it.
pub(super) struct Mutation {
    /// The operation's name (the socket's method name).
    pub method: &'static str,
    /// The key as the caller named it.
    pub key_ref: Option<String>,
}

impl Mutation {
    /// Whether the operation changes a key itself (not its subscription tokens), or resets
    /// its traffic (every node's share).
    fn is_key_change(&self) -> bool {
        (self.method.starts_with("key.") && !self.method.starts_with("key.sub"))
            || self.method == "traffic.reset"
    }
}

/// What a mutation did inside its transaction.
pub(super) struct Changed<T> {
    /// What the operation hands back to its caller.
    pub value: T,
    /// The key the audit row names (the first changed one).
    pub key_id: Option<i64>,
    /// A short summary for the audit row.
    pub detail: Option<String>,
    /// The keys as they are after the change, with what happened to each; watchers get
    /// one event per key and the applier is asked to settle when there is any.
    pub events: Vec<(KeyAction, Key)>,
}

impl<T> Changed<T> {
    /// One key changed in one way.
    pub fn key(value: T, action: KeyAction, key: Key) -> Self {
        Changed {
            value,
            key_id: Some(key.id),
            detail: None,
            events: vec![(action, key)],
        }
    }
}

type Audited<T> = Result<Changed<T>, StoreError>;

impl Service {
    /// Runs `change` for `actor` through the pipeline and returns its value once the
    /// applier has settled.
    pub(super) async fn mutate<T, F>(
        &self,
        actor: &Actor,
        what: Mutation,
        change: F,
    ) -> ServiceResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Audited<T> + Send + 'static,
    {
        let method = what.method;
        let who = actor.clone();
        // On a fleet node a key change is the registry's too (subscription tokens, API
        // tokens and webhooks stay the node's own).
        let registry = self.fleet.clone().filter(|_| what.is_key_change());
        let outcome = self
            .store
            .write(move |sp| {
                // The change in its own savepoint, so a refused one leaves only its audit row.
                let inner = sp.savepoint()?;
                let result = match &registry {
                    Some(registry) => registry.around(&inner, change),
                    None => change(&inner),
                };
                match &result {
                    Ok(_) => inner.commit()?,
                    Err(_) => drop(inner), // rolls the savepoint back
                }
                // The webhooks' outbox, in the change's own transaction: never lost.
                if let Ok(changed) = &result {
                    webhooks::key_events(sp, &who, &changed.events)?;
                }
                record(sp, &who, &what, &result)?;
                Ok(result)
            })
            .await?;
        match outcome {
            Ok(changed) => {
                self.announce(actor, method, changed.events).await;
                Ok(changed.value)
            }
            Err(e) => {
                let e = ServiceError::from(e);
                tracing::info!(method, actor = %actor.describe(), code = %e.kind, error = %e.message, "change refused");
                Err(e)
            }
        }
    }

    /// Logs the change (one line per key, one summary for many: 10,000 log lines would
    /// cost more than the change itself), tells the watchers and lets the applier settle.
    async fn announce(&self, actor: &Actor, method: &'static str, events: Vec<(KeyAction, Key)>) {
        match events.as_slice() {
            [] => return,
            [(_, key)] => tracing::info!(
                method, actor = %actor.describe(), key_id = key.id,
                uuid = %mask(&key.uuid), state = %key.state, "key changed"
            ),
            [(_, first), .., (_, last)] => tracing::info!(
                method,
                actor = %actor.describe(),
                count = events.len(),
                first_id = first.id,
                last_id = last.id,
                "keys changed"
            ),
        }
        for (action, key) in events {
            // No watcher is not an error.
            let _ = self.events.send(Event::Key(KeyEvent {
                action,
                key,
                actor: Some(actor.clone()),
            }));
        }
        self.applier.settle().await;
    }
}

/// The audit row of one attempt, whatever its outcome.
fn record<T>(
    conn: &Connection,
    actor: &Actor,
    what: &Mutation,
    result: &Audited<T>,
) -> Result<(), StoreError> {
    let (outcome, detail, key_id) = match result {
        Ok(done) => ("ok".to_owned(), done.detail.clone(), done.key_id),
        Err(StoreError::Rejected { kind, message }) => {
            (kind.to_string(), Some(message.clone()), None)
        }
        Err(other) => (
            ErrorKind::Internal.to_string(),
            Some(other.to_string()),
            None,
        ),
    };
    audit::insert(
        conn,
        &audit::Record {
            actor,
            method: what.method,
            key_id,
            key_ref: what.key_ref.as_deref(),
            outcome: &outcome,
            detail: detail.as_deref(),
        },
    )
}
