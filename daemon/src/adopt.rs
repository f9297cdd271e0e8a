//! Adoption: installing Veil on a running server must not lock anybody out. On the first
//! start against an empty database, every client already listed in the managed inbound
//! becomes a key (UUID kept, name from its email, made unique). Their old emails are
//! removed from the core before the applier adds them back under Veil's `key-ID@veil`, so
//! each UUID maps to exactly one user at every moment but a few milliseconds.

use uuid::Uuid;

use crate::applier::email_for;
use crate::corefile::{ManagedInbound, name_from_email};
use crate::corelink::CoreLink;
use crate::store::{Store, StoreError, keys};

const DONE: &str = "adoption_done";

/// Runs once per database. Returns how many clients became keys.
pub async fn run(
    store: &Store,
    inbound: &ManagedInbound,
    link: &CoreLink,
) -> Result<usize, StoreError> {
    if store.read(|c| keys::meta_get(c, DONE)).await?.is_some() {
        return Ok(0);
    }
    let clients: Vec<(String, Uuid, String)> = inbound
        .clients
        .iter()
        .filter_map(|c| match Uuid::try_parse(&c.id) {
            Ok(uuid) => Some((name_from_email(&c.email), uuid, c.email.clone())),
            Err(_) => {
                tracing::warn!(email = %c.email, "not adopting a client whose id is not a UUID");
                None
            }
        })
        .collect();
    let adopted = store
        .write(move |sp| {
            let mut adopted = Vec::new();
            // A database that already has keys was set up by Veil: nothing to adopt.
            if keys::all_ids(sp)?.is_empty() {
                for (name, uuid, email) in &clients {
                    if let Some(key) = keys::adopt(sp, name, uuid)? {
                        adopted.push((key, email.clone()));
                    }
                }
            }
            keys::meta_set(sp, DONE, &adopted.len().to_string())?;
            Ok(adopted)
        })
        .await?;
    for (key, old_email) in &adopted {
        tracing::info!(key_id = key.id, name = %key.name, old_email, "adopted a client from the core config");
        if !old_email.eq_ignore_ascii_case(&email_for(key.id)) && !old_email.is_empty() {
            // Best effort: with the core down, its restart loads the rewritten file instead.
            if let Err(e) = link.remove_user(&inbound.tag, old_email).await {
                tracing::debug!(old_email, error = %e, "could not remove the adopted client's old email");
            }
        }
    }
    Ok(adopted.len())
}
