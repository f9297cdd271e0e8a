//! Subscription tokens: `key.sub` shows, makes, rotates or revokes a key's subscription
//! URL; [`Service::sub_lookup`] finds the key behind a presented token for `GET
//! /sub/{token}`.
//!
//! A token is HMAC-SHA256(server secret, key id, generation), 256 bits written as 43
//! characters of base64url: unrelated to the key's UUID, and derivable only with the
//! secret, so `veil key sub` and the dashboard can show a key's URL again. The secret is
//! 32 random bytes in a 0600 file beside the database (`DATABASE.sub-secret`), made on
//! first use; the database keeps the SHA-256 of the live token (looked up on each fetch)
//! and the generation. Rotating bumps the generation, so the old token stops matching at
//! once; revoking clears the hash. A URL made under another secret (the secret file was
//! deleted, or the database restored elsewhere) keeps working until `key.sub` is asked for
//! it: its hash no longer matches what the current secret derives, so a new one is made.
//! Tokens never reach a log or the audit trail.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use veil_shared::api::{Actor, KeySub, KeySubResult};
use veil_shared::model::{Key, KeyRef, KeyState};
use veil_shared::subscription::headers::HeaderSettings;
use veil_shared::subscription::{Server, SubKey};

use super::pipeline::{Changed, Mutation};
use super::{Service, ServiceError, ServiceResult};
use crate::store::{StoreError, keys, subs};

/// Characters in a token (32 bytes, base64url without padding).
pub const TOKEN_CHARS: usize = 43;
const SECRET_BYTES: usize = 32;

/// What `GET /sub/{token}` needs about the key behind a token.
#[derive(Clone, Debug)]
pub struct SubView {
    pub key: Key,
    /// The key's data for bodies and headers.
    pub sub: SubKey,
    /// The servers its proxies dial.
    pub servers: Vec<Server>,
    /// The headers' settings from `[public]`.
    pub settings: HeaderSettings,
    /// `[public] subscription_base`, if set.
    pub base: Option<String>,
}

/// The endpoint last read from the core config file, with the file's identity (inode,
/// size, mtime) then: a fetch reads the file again only when it changed (with 10,000
/// clients in it, parsing it costs far more than answering).
#[derive(Debug, Default)]
pub struct EndpointCache(std::sync::Mutex<Option<(FileId, veil_shared::reality::Endpoint)>>);

type FileId = (u64, u64, i64, i64);

impl EndpointCache {
    async fn get(
        &self,
        config: &crate::config::Config,
    ) -> ServiceResult<veil_shared::reality::Endpoint> {
        use std::os::unix::fs::MetadataExt;
        let id = tokio::fs::metadata(&config.core.config)
            .await
            .ok()
            .map(|m| (m.ino(), m.size(), m.mtime(), m.mtime_nsec()));
        if let Some(id) = id
            && let Ok(cached) = self.0.lock()
            && let Some((seen, endpoint)) = cached.as_ref()
            && *seen == id
        {
            return Ok(endpoint.clone());
        }
        let endpoint = crate::share::endpoint(config).await?;
        if let (Some(id), Ok(mut cached)) = (id, self.0.lock()) {
            *cached = Some((id, endpoint.clone()));
        }
        Ok(endpoint)
    }
}

/// The secret file beside the database.
pub fn secret_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".sub-secret");
    PathBuf::from(name)
}

fn read_secret(path: &Path) -> std::io::Result<Option<[u8; SECRET_BYTES]>> {
    match std::fs::read(path) {
        Ok(bytes) => <[u8; SECRET_BYTES]>::try_from(bytes.as_slice())
            .map(Some)
            .map_err(|_| {
                std::io::Error::other(format!(
                    "{} does not hold {SECRET_BYTES} bytes; delete it to make a new one \
                     (every subscription URL changes)",
                    path.display()
                ))
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads the secret, making it (0600, never overwritten) when there is none.
fn load_or_make_secret(path: &Path) -> std::io::Result<[u8; SECRET_BYTES]> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(secret) = read_secret(path)? {
        return Ok(secret);
    }
    let mut secret = [0u8; SECRET_BYTES];
    getrandom::fill(&mut secret).map_err(|e| std::io::Error::other(e.to_string()))?;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            file.write_all(&secret)?;
            file.sync_all()?;
            Ok(secret)
        }
        // Made by a concurrent call in between: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_secret(path)?.ok_or_else(|| std::io::Error::other("the secret file vanished"))
        }
        Err(e) => Err(e),
    }
}

/// The token of `key_id` at `generation`.
pub fn derive_token(secret: &[u8], key_id: i64, generation: i64) -> String {
    // HMAC accepts a key of any length; this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(b"veil subscription v1\0");
    mac.update(&key_id.to_be_bytes());
    mac.update(&generation.to_be_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// What the database keeps of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether `token` has a token's shape (checked before any hashing or lookup).
pub fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The row's live token under `secret`, when the row is live and its stored hash is that
/// token's (it is not after the secret file was replaced: the token is then made anew).
fn live_token(secret: &[u8], row: &subs::SubRow) -> Option<String> {
    let token = derive_token(secret, row.key_id, row.generation);
    (row.live() && row.token_hash.as_deref() == Some(token_hash(&token).as_slice()))
        .then_some(token)
}

/// The URL of `token` under `base` (`/sub/TOKEN` without one).
pub fn url_of(base: Option<&str>, token: &str) -> String {
    match base {
        Some(base) if base.ends_with('/') => format!("{base}{token}"),
        Some(base) => format!("{base}/{token}"),
        None => format!("/sub/{token}"),
    }
}

impl Service {
    async fn sub_secret(&self) -> ServiceResult<[u8; SECRET_BYTES]> {
        let path = secret_path(&self.config.database);
        let shown = path.display().to_string();
        tokio::task::spawn_blocking(move || load_or_make_secret(&path))
            .await
            .map_err(|e| ServiceError::internal(format!("the secret task failed: {e}")))?
            .map_err(|e| {
                tracing::error!(path = %shown, error = %e, "subscription secret unusable");
                ServiceError::internal(format!("the subscription secret {shown}: {e}"))
            })
    }

    fn sub_result(&self, key_id: i64, secret: &[u8], row: Option<&subs::SubRow>) -> KeySubResult {
        match row.and_then(|r| Some((r, live_token(secret, r)?))) {
            Some((row, token)) => KeySubResult {
                key_id,
                url: Some(url_of(
                    self.config.public.subscription_base.as_deref(),
                    &token,
                )),
                token: Some(token),
                created_at: Some(row.created_at),
                revoked: false,
            },
            None => KeySubResult {
                key_id,
                url: None,
                token: None,
                created_at: None,
                revoked: true,
            },
        }
    }

    /// `key.sub`: the key's subscription URL, made when it has none; `rotate` replaces
    /// it, `revoke` ends it. Making, rotating and revoking are audited; showing is not.
    pub async fn key_sub(&self, actor: &Actor, p: KeySub) -> ServiceResult<KeySubResult> {
        if p.rotate && p.revoke {
            return Err(ServiceError::invalid(
                "rotate and revoke exclude each other",
            ));
        }
        if p.revoke {
            return self.key_sub_revoke(actor, p.key).await;
        }
        let secret = self.sub_secret().await?;
        let key = p.key.clone();
        let (key_id, row) = self
            .store
            .read(move |c| {
                let key = keys::get_live(c, &key)?;
                Ok((key.id, subs::get(c, key.id)?))
            })
            .await?;
        if !p.rotate
            && let Some(row) = row.as_ref().filter(|r| live_token(&secret, r).is_some())
        {
            return Ok(self.sub_result(key_id, &secret, Some(row)));
        }
        let rotate = p.rotate;
        let what = Mutation {
            method: if rotate { "key.sub.rotate" } else { "key.sub" },
            key_ref: Some(p.key.to_string()),
        };
        let row = self
            .mutate(actor, what, move |c| {
                let key = keys::get_live(c, &p.key)?;
                let old = subs::get(c, key.id)?;
                if !rotate
                    && let Some(live) = old.clone().filter(|r| live_token(&secret, r).is_some())
                {
                    return Ok(Changed {
                        value: live,
                        key_id: Some(key.id),
                        detail: Some("subscription already made".into()),
                        events: Vec::new(),
                    });
                }
                let generation = old.as_ref().map_or(1, |r| r.generation + 1);
                let token = derive_token(&secret, key.id, generation);
                let row = subs::set_live(c, key.id, generation, &token_hash(&token))?;
                let detail = match &old {
                    Some(o) if o.live() && rotate => {
                        format!("subscription URL replaced (#{generation})")
                    }
                    Some(o) if o.live() => format!(
                        "subscription URL made anew (#{generation}): the server secret changed"
                    ),
                    _ => format!("subscription URL made (#{generation})"),
                };
                Ok(Changed {
                    value: row,
                    key_id: Some(key.id),
                    detail: Some(detail),
                    events: Vec::new(),
                })
            })
            .await?;
        Ok(self.sub_result(row.key_id, &secret, Some(&row)))
    }

    /// Ends the key's subscription URL (a fetch gets 404 from now on).
    pub async fn key_sub_revoke(&self, actor: &Actor, key: KeyRef) -> ServiceResult<KeySubResult> {
        let what = Mutation {
            method: "key.sub.revoke",
            key_ref: Some(key.to_string()),
        };
        let key_id = self
            .mutate(actor, what, move |c| {
                let found = keys::get(c, &key)?;
                let revoked = subs::revoke(c, found.id)?;
                Ok(Changed {
                    value: found.id,
                    key_id: Some(found.id),
                    detail: Some(
                        if revoked {
                            "subscription URL revoked"
                        } else {
                            "no subscription URL to revoke"
                        }
                        .into(),
                    ),
                    events: Vec::new(),
                })
            })
            .await?;
        Ok(self.sub_result(key_id, &[], None))
    }

    /// The key behind a presented subscription token, with what its answer needs; `None`
    /// for a malformed, unknown or revoked token and for a deleted key. The token is
    /// neither logged nor kept.
    pub async fn sub_lookup(
        &self,
        token: &str,
        endpoints: &EndpointCache,
    ) -> ServiceResult<Option<SubView>> {
        if !well_formed(token) {
            return Ok(None);
        }
        let hash = token_hash(token);
        let fleet = self.fleet.is_some();
        let found = self
            .store
            .read(move |c| {
                let Some(key_id) = subs::lookup(c, &hash)? else {
                    return Ok(None);
                };
                let key = keys::get(c, &KeyRef::Id(key_id))?;
                if key.state == KeyState::Deleted {
                    return Ok(None);
                }
                let traffic = crate::traffic::db::get(c, &KeyRef::Id(key_id))?;
                // A fleet's key dials every node not drained, each named in the profile.
                let servers = if fleet {
                    crate::fleet::nodes::servers(c)?
                } else {
                    Vec::new()
                };
                Ok::<_, StoreError>(Some((key, traffic, servers)))
            })
            .await?;
        let Some((key, traffic, fleet_servers)) = found else {
            return Ok(None);
        };
        let sub = SubKey {
            name: key.name.clone(),
            uuid: key.uuid,
            state: key.state,
            disable_reason: key.disable_reason,
            upload: traffic.uplink,
            download: traffic.downlink,
            data_limit: key.data_limit,
            expires_at: key.expires_at,
        };
        let public = &self.config.public;
        // A key placed on some nodes dials those only (none of them serving: a placeholder).
        let known = !fleet_servers.is_empty();
        let mut fleet_servers = fleet_servers;
        if let Some(nodes) = &key.nodes {
            fleet_servers.retain(|s| s.label.as_ref().is_some_and(|l| nodes.contains(l)));
        }
        let servers = if known {
            fleet_servers
        } else {
            vec![Server {
                host: public.host.clone(),
                endpoint: endpoints.get(&self.config).await?,
                label: None,
            }]
        };
        Ok(Some(SubView {
            key,
            sub,
            servers,
            settings: HeaderSettings {
                update_hours: public.subscription_update_hours,
                support_url: public.support_url.clone(),
                web_page_url: public.web_page_url.clone(),
            },
            base: public.subscription_base.clone(),
        }))
    }
}
