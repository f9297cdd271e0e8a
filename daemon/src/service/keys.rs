//! Key operations. Reads go to reader connections; every change goes through
//! [`Service::mutate`] and answers with the keys as they are once the applier settled.

use rusqlite::{Connection, OptionalExtension};
use veil_shared::api::{
    Actor, BULK_MAX, KeyAction, KeyBulk, KeyCreate, KeyCreateBulk, KeyList, KeyPage, KeyUpdate,
};
use veil_shared::model::{DisableReason, Key, KeyRef, KeyState};

use super::pipeline::{Changed, Mutation};
use super::{Service, ServiceError, ServiceResult};
use crate::error::ErrorKind;
use crate::store::{StoreError, keys};
use crate::traffic::settings::{self, KeySettings};

impl Service {
    pub async fn create(&self, actor: &Actor, p: KeyCreate) -> ServiceResult<Key> {
        let limits = KeySettings::for_create(p.data_limit, p.expires_at, p.reset);
        let nodes = self.placement(p.nodes.clone())?;
        let what = Mutation {
            method: "key.create",
            key_ref: Some(p.name.clone()),
        };
        let id = self
            .mutate(actor, what, move |c| {
                let key = keys::create(c, &p.name, p.note.as_deref())?;
                let key = match &nodes {
                    Some(nodes) => place(c, key.id, nodes.as_deref())?,
                    None => key,
                };
                if limits.is_empty() {
                    return Ok(Changed::key(key.id, KeyAction::Created, key));
                }
                let applied = settings::apply(c, key.id, &limits)?;
                let key = keys::get(c, &KeyRef::Id(key.id))?;
                Ok(Changed {
                    detail: Some(applied.describe().join(", ")),
                    ..Changed::key(key.id, KeyAction::Created, key)
                })
            })
            .await?;
        self.key_now(id).await
    }

    /// Creates `count` keys named `PREFIX-N` in one transaction: all or none.
    pub async fn create_bulk(&self, actor: &Actor, p: KeyCreateBulk) -> ServiceResult<KeyBulk> {
        if p.count == 0 || p.count > BULK_MAX {
            return Err(ServiceError::invalid(format!(
                "count must be from 1 to {BULK_MAX}, got {}",
                p.count
            )));
        }
        let what = Mutation {
            method: "key.create_bulk",
            key_ref: Some(p.prefix.clone()),
        };
        let mut made: Vec<Key> = self
            .mutate(actor, what, move |c| {
                let made = keys::create_bulk(c, &p.prefix, p.count)?;
                let detail = match (made.first(), made.last()) {
                    (Some(a), Some(b)) => {
                        Some(format!("{} keys, ids {}..={}", made.len(), a.id, b.id))
                    }
                    _ => None,
                };
                Ok(Changed {
                    value: made.clone(),
                    key_id: made.first().map(|k| k.id),
                    detail,
                    events: made.into_iter().map(|k| (KeyAction::Created, k)).collect(),
                })
            })
            .await?;
        // The reply is the keys as made, live; only those the applier left pending (or
        // that changed since) are read again.
        let (Some(first), Some(last)) = (made.first().map(|k| k.id), made.last().map(|k| k.id))
        else {
            return Ok(KeyBulk { keys: made });
        };
        let not_live = self
            .store
            .read(move |c| keys::not_live_in(c, first, last))
            .await?;
        let mut not_live = not_live.into_iter().peekable();
        for key in &mut made {
            while not_live.next_if(|k| k.id < key.id).is_some() {}
            if not_live.peek().is_some_and(|k| k.id == key.id) {
                if let Some(now) = not_live.next() {
                    *key = now;
                }
            } else {
                key.applied = Some(KeyState::Active);
                key.pending = false;
            }
        }
        Ok(KeyBulk { keys: made })
    }

    pub async fn get(&self, key: KeyRef) -> ServiceResult<Key> {
        Ok(self.store.read(move |c| keys::get(c, &key)).await?)
    }

    /// A key that is not deleted: what a resource is after its `DELETE` over HTTP. A
    /// deleted key is `not_found` here; its record stays in lists with `state=deleted` and in
    /// the audit trail.
    pub async fn get_present(&self, key: KeyRef) -> ServiceResult<Key> {
        let shown = key.to_string();
        let found = self.get(key).await?;
        if found.state == KeyState::Deleted {
            return Err(ServiceError::new(
                ErrorKind::NotFound,
                format!(
                    "key '{shown}' was deleted (its record: the key list with state=deleted, and the audit trail)"
                ),
            ));
        }
        Ok(found)
    }

    /// Keys by id; without a state filter, deleted keys are left out.
    pub async fn list(&self, p: KeyList) -> ServiceResult<KeyPage> {
        let page = self
            .store
            .read(move |c| {
                let (keys, total) = keys::list(
                    c,
                    &keys::ListQuery {
                        state: p.state,
                        search: p.search.as_deref(),
                        offset: p.offset.unwrap_or(0),
                        limit: p.limit,
                    },
                )?;
                Ok(KeyPage { keys, total })
            })
            .await?;
        Ok(page)
    }

    /// Changes what is given; the audit detail names what changed.
    pub async fn update(&self, actor: &Actor, p: KeyUpdate) -> ServiceResult<Key> {
        let what = Mutation {
            method: "key.update",
            key_ref: Some(p.key.to_string()),
        };
        let nodes = self.placement(p.nodes.clone().map(Option::unwrap_or_default))?;
        let id = self
            .mutate(actor, what, move |c| update_in(c, &p, nodes.as_ref()))
            .await?;
        self.key_now(id).await
    }

    /// A placement as given (`None`: unchanged) checked: `Some(None)` every node (an empty
    /// list), `Some(Some(json))` the named nodes, sorted, each once. Only a fleet node
    /// places keys.
    fn placement(&self, nodes: Option<Vec<String>>) -> ServiceResult<Option<Option<String>>> {
        let Some(mut nodes) = nodes else {
            return Ok(None);
        };
        if nodes.is_empty() {
            return Ok(Some(None));
        }
        if self.fleet.is_none() {
            return Err(ServiceError::invalid(
                "placing a key on nodes needs fleet mode ([fleet] in veild.toml); a single server has every key",
            ));
        }
        if let Some(bad) = nodes
            .iter()
            .find(|n| !crate::config::fleet::valid_node_name(n))
        {
            return Err(ServiceError::invalid(format!(
                "{:?} is no node name (1 to 32 of a-z, 0-9 and '-')",
                bad.chars().take(40).collect::<String>()
            )));
        }
        nodes.sort();
        nodes.dedup();
        let json = serde_json::to_string(&nodes)
            .map_err(|e| ServiceError::internal(format!("encoding the nodes: {e}")))?;
        Ok(Some(Some(json)))
    }

    pub async fn disable(&self, actor: &Actor, key: KeyRef) -> ServiceResult<Key> {
        self.set_state(
            actor,
            "key.disable",
            key,
            KeyState::Disabled,
            KeyAction::Disabled,
        )
        .await
    }

    /// Enables a disabled key (whatever disabled it).
    pub async fn enable(&self, actor: &Actor, key: KeyRef) -> ServiceResult<Key> {
        self.set_state(
            actor,
            "key.enable",
            key,
            KeyState::Active,
            KeyAction::Enabled,
        )
        .await
    }

    /// Deletes a key: it leaves the core, frees its name and keeps its history.
    pub async fn delete(&self, actor: &Actor, key: KeyRef) -> ServiceResult<Key> {
        self.set_state(
            actor,
            "key.delete",
            key,
            KeyState::Deleted,
            KeyAction::Deleted,
        )
        .await
    }

    /// Gives the key a new UUID: the old one stops working; name, limits and traffic stay.
    pub async fn rotate(&self, actor: &Actor, key: KeyRef) -> ServiceResult<Key> {
        let what = Mutation {
            method: "key.rotate",
            key_ref: Some(key.to_string()),
        };
        let id = self
            .mutate(actor, what, move |c| {
                let key = keys::rotate(c, &key)?;
                Ok(Changed::key(key.id, KeyAction::Rotated, key))
            })
            .await?;
        self.key_now(id).await
    }

    async fn set_state(
        &self,
        actor: &Actor,
        method: &'static str,
        key: KeyRef,
        state: KeyState,
        action: KeyAction,
    ) -> ServiceResult<Key> {
        let reason = (state == KeyState::Disabled).then_some(DisableReason::Manual);
        let what = Mutation {
            method,
            key_ref: Some(key.to_string()),
        };
        let id = self
            .mutate(actor, what, move |c| {
                let key = keys::set_state(c, &key, state, reason)?;
                Ok(Changed::key(key.id, action, key))
            })
            .await?;
        self.key_now(id).await
    }

    /// The key as it is now: applied (live) or still pending.
    async fn key_now(&self, id: i64) -> ServiceResult<Key> {
        Ok(self
            .store
            .read(move |c| keys::get(c, &KeyRef::Id(id)))
            .await?)
    }
}

/// The body of `key.update`: rename, note, then limits (which may enable or disable).
/// Puts the key on `nodes` (a JSON array; `None`: every node), every one of which must be a
/// node of the fleet.
fn place(c: &Connection, id: i64, nodes: Option<&str>) -> Result<Key, StoreError> {
    if let Some(json) = nodes {
        let unknown: Option<String> = c
            .query_row(
                "SELECT j.value FROM json_each(?1) j
                  WHERE NOT EXISTS (SELECT 1 FROM fleet_nodes n WHERE n.name = j.value)",
                [json],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(name) = unknown {
            return Err(StoreError::rejected(
                ErrorKind::NotFound,
                format!("no node {name:?} in the fleet (`veil node list` lists them)"),
            ));
        }
    }
    c.prepare_cached("UPDATE keys SET nodes = ?2 WHERE id = ?1")?
        .execute(rusqlite::params![id, nodes])?;
    keys::get(c, &KeyRef::Id(id))
}

fn update_in(
    c: &Connection,
    p: &KeyUpdate,
    nodes: Option<&Option<String>>,
) -> Result<Changed<i64>, StoreError> {
    let mut key = keys::get_live(c, &p.key)?;
    let mut what = Vec::new();
    if let Some(nodes) = nodes {
        key = place(c, key.id, nodes.as_deref())?;
        what.push("nodes".to_owned());
    }
    if let Some(name) = &p.name {
        key = keys::rename(c, &KeyRef::Id(key.id), name)?;
        what.push("name".to_owned());
    }
    if let Some(note) = &p.note {
        key = keys::set_note(c, &KeyRef::Id(key.id), note)?;
        what.push("note".to_owned());
    }
    let limits = KeySettings {
        data_limit: p.data_limit,
        expires_at: p.expires_at,
        reset: p.reset,
    };
    let applied = settings::apply(c, key.id, &limits)?;
    what.extend(applied.describe());
    if !limits.is_empty() {
        key = keys::get(c, &KeyRef::Id(key.id))?;
    }
    let detail = if what.is_empty() {
        "nothing to change".to_owned()
    } else {
        what.join(", ")
    };
    Ok(Changed {
        detail: Some(detail),
        ..Changed::key(key.id, KeyAction::Updated, key)
    })
}
