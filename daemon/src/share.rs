//! `key.link` and `key.config` (S2): a key's share link and client config, built from the
//! managed inbound as the core's config file has it *now* (port, transport, REALITY keys,
//! server names, the shared shortId, the flow every key gets) and `[public] host`.
//!
//! The pure parts (reading the endpoint, encoding, the config's shape) are in veil-shared,
//! so the CLI and the dashboard build exactly what the daemon does.

use veil_shared::api::{KeyConfig, KeyConfigResult, KeyLink, KeyLinkResult};
use veil_shared::clientconfig::{self, LocalPorts};
use veil_shared::link;
use veil_shared::model::{Key, KeyRef};
use veil_shared::reality::{Endpoint, Security};
use veil_shared::rpc::{ErrorCode, RpcError};

use crate::config::Config;
use crate::corefile::CoreFile;
use crate::corelink::Flavor;
use crate::store::{Store, StoreError, keys};

fn setup_error(config: &Config, problem: impl std::fmt::Display) -> RpcError {
    let message = format!(
        "cannot build the key's link from the core config {}: {problem}; `veil doctor` lists \
         what to fix",
        config.core.config.display()
    );
    tracing::warn!(error = %message, "share link refused");
    RpcError::new(ErrorCode::Internal, message)
}

/// The endpoint every key's link and config point at, read from the core config file.
pub async fn endpoint(config: &Config) -> Result<Endpoint, RpcError> {
    let core = &config.core;
    let file = CoreFile::new(core.config.clone(), core.inbound_tag.clone(), Vec::new(), 0);
    let inbound = file.load().await.map_err(|e| setup_error(config, e))?;
    // The flow every key's user gets, as the applier gives it (v2fly has no flows).
    let flow = match core.flavor {
        Flavor::Xray => inbound.flow.clone(),
        Flavor::V2fly => String::new(),
    };
    let endpoint = Endpoint::read(inbound.port, inbound.stream_settings.as_ref(), &flow)
        .map_err(|e| setup_error(config, e))?;
    if core.flavor == Flavor::V2fly && matches!(endpoint.security, Security::Reality(_)) {
        return Err(setup_error(
            config,
            "the inbound asks for REALITY, which v2ray 4.x does not have (it serves plain VLESS)",
        ));
    }
    Ok(endpoint)
}

/// The key, which must not be deleted (its user is gone from the core for good).
async fn live_key(store: &Store, key: KeyRef) -> Result<Key, RpcError> {
    store
        .read(move |c| keys::get_live(c, &key))
        .await
        .map_err(|e| match e {
            StoreError::Rejected(rpc) => rpc,
            other => RpcError::new(ErrorCode::Internal, format!("internal error: {other}")),
        })
}

pub async fn key_link(
    store: &Store,
    config: &Config,
    p: KeyLink,
) -> Result<KeyLinkResult, RpcError> {
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
) -> Result<KeyConfigResult, RpcError> {
    let defaults = LocalPorts::default();
    let ports = LocalPorts {
        socks: p.socks_port.unwrap_or(defaults.socks),
        http: p.http_port.unwrap_or(defaults.http),
    };
    if ports.socks == 0 || ports.http == 0 || ports.socks == ports.http {
        return Err(RpcError::new(
            ErrorCode::InvalidInput,
            format!(
                "socks_port ({}) and http_port ({}) must be two different ports from 1 to 65535",
                ports.socks, ports.http
            ),
        ));
    }
    let key = live_key(store, p.key).await?;
    let endpoint = endpoint(config).await?;
    Ok(KeyConfigResult {
        config: clientconfig::client_config(&key.uuid, &config.public.host, &endpoint, ports),
    })
}
