//! `key.link` and `key.config`: a key's share link and client config, built from the
//! managed inbound as the core's config file has it *now* (port, transport, REALITY keys,
//! server names, the shared shortId, the flow every key gets) and `[public] host`.
//!
//! The file is read through the one model of the core's config
//! (`veil_shared::coreconfig`); the endpoint, the link's encoding and the client config's
//! shape are pure functions in veil-shared (`reality::Endpoint::of_inbound`,
//! `link::vless_link`, `clientconfig::client_config`). The daemon is the only place that
//! renders links today: `veil key link`/`qr`/`config` and the dashboard ask it over the
//! socket. A front end that renders one locally must call these same functions.

use veil_shared::api::{KeyConfig, KeyConfigResult, KeyLink, KeyLinkResult};
use veil_shared::clientconfig::{self, LocalPorts};
use veil_shared::link;
use veil_shared::model::{Key, KeyRef};
use veil_shared::reality::Endpoint;

use crate::config::Config;
use crate::corefile::CoreFile;
use crate::error::ServiceError;
use crate::store::{Store, keys};

fn setup_error(config: &Config, problem: impl std::fmt::Display) -> ServiceError {
    let message = format!(
        "cannot build the key's link from the core config {}: {problem}; `veil doctor` lists \
         what to fix",
        config.core.config.display()
    );
    tracing::warn!(error = %message, "share link refused");
    ServiceError::internal(message)
}

/// The endpoint every key's link and config point at, read from the core config file.
pub async fn endpoint(config: &Config) -> Result<Endpoint, ServiceError> {
    let core = &config.core;
    let file = CoreFile::new(core.config.clone(), core.inbound_tag.clone(), Vec::new(), 0);
    let inbound = file.load().await.map_err(|e| setup_error(config, e))?;
    Endpoint::of_inbound(&inbound, core.flavor).map_err(|e| setup_error(config, e))
}

/// The key, which must not be deleted (its user is gone from the core for good).
async fn live_key(store: &Store, key: KeyRef) -> Result<Key, ServiceError> {
    Ok(store.read(move |c| keys::get_live(c, &key)).await?)
}

pub async fn key_link(
    store: &Store,
    config: &Config,
    p: KeyLink,
) -> Result<KeyLinkResult, ServiceError> {
    let key = live_key(store, p.key).await?;
    let endpoint = endpoint(config).await?;
    Ok(KeyLinkResult {
        link: link::vless_link(&key.uuid, &config.public.host, &endpoint, &key.name),
    })
}

pub async fn key_config(
    store: &Store,
    config: &Config,
    p: KeyConfig,
) -> Result<KeyConfigResult, ServiceError> {
    let defaults = LocalPorts::default();
    let ports = LocalPorts {
        socks: p.socks_port.unwrap_or(defaults.socks),
        http: p.http_port.unwrap_or(defaults.http),
    };
    if ports.socks == 0 || ports.http == 0 || ports.socks == ports.http {
        return Err(ServiceError::invalid(format!(
            "socks_port ({}) and http_port ({}) must be two different ports from 1 to 65535",
            ports.socks, ports.http
        )));
    }
    let key = live_key(store, p.key).await?;
    let endpoint = endpoint(config).await?;
    Ok(KeyConfigResult {
        config: clientconfig::client_config(&key.uuid, &config.public.host, &endpoint, ports),
    })
}
