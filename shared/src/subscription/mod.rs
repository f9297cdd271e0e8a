//! Subscription bodies and headers: what `GET /sub/{token}` answers, as pure functions.
//!
//! - [`Format`]: which body a client gets, from `?format=` or its `User-Agent`.
//! - [`entries`]: the proxies of one key (one per server), or one placeholder that says why
//!   the key does not work (disabled, over its data limit, expired) — never an empty list.
//! - [`render`]: the bodies: base64 share links, a complete sing-box config (shaped for the
//!   sing-box version in the `User-Agent`), a mihomo (Clash Meta) YAML profile, and an
//!   array of Xray client configs.
//! - [`headers`]: `subscription-userinfo`, `profile-title`, `profile-update-interval`,
//!   `content-disposition` and the optional URLs, none of which can carry CR or LF.

pub mod headers;
pub mod render;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{DisableReason, KeyState};
use crate::reality::{Endpoint, Security};

/// What a subscription says about its key: the data behind its bodies and headers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubKey {
    pub name: String,
    pub uuid: Uuid,
    pub state: KeyState,
    pub disable_reason: Option<DisableReason>,
    /// Bytes client → server since the last reset.
    pub upload: u64,
    /// Bytes server → client since the last reset.
    pub download: u64,
    /// Bytes (upload + download) after which the key is disabled; `None` is unlimited.
    pub data_limit: Option<u64>,
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<i64>,
}

impl SubKey {
    /// Why the key does not work at `now` (Unix seconds), or `None` when it does.
    pub fn inactive(&self, now: i64) -> Option<Inactive> {
        match (self.state, self.disable_reason) {
            (KeyState::Deleted, _) => return Some(Inactive::Deleted),
            (KeyState::Disabled, Some(DisableReason::Limited)) => return Some(Inactive::Limited),
            (KeyState::Disabled, Some(DisableReason::Expired)) => return Some(Inactive::Expired),
            (KeyState::Disabled, _) => return Some(Inactive::Disabled),
            (KeyState::Active, _) => {}
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            return Some(Inactive::Expired);
        }
        if self
            .data_limit
            .is_some_and(|limit| self.upload.saturating_add(self.download) >= limit)
        {
            return Some(Inactive::Limited);
        }
        None
    }
}

/// Why a key's subscription holds a placeholder instead of its proxies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inactive {
    Disabled,
    Limited,
    Expired,
    Deleted,
}

impl Inactive {
    /// The placeholder's name: what a phone's proxy list shows.
    pub fn label(self) -> &'static str {
        match self {
            Inactive::Disabled => "⛔ disabled",
            Inactive::Limited => "⛔ disabled: over data limit",
            Inactive::Expired => "⛔ disabled: expired",
            Inactive::Deleted => "⛔ deleted",
        }
    }
}

/// One server the key's proxies dial: the host clients connect to and the managed inbound.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    pub host: String,
    pub endpoint: Endpoint,
    /// What the profile entry says after the key's name when there are several servers (a
    /// fleet node's name); the host when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// One proxy of a subscription: a name, a UUID and where it dials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub uuid: Uuid,
    pub host: String,
    pub endpoint: Endpoint,
}

/// The host a placeholder dials: nothing listens there.
pub const PLACEHOLDER_HOST: &str = "0.0.0.0";
/// The port a placeholder dials.
pub const PLACEHOLDER_PORT: u16 = 1;

/// A placeholder entry named after why the key does not work, pointing at `0.0.0.0:1`
/// with the all-zero UUID.
pub fn placeholder(why: Inactive) -> Entry {
    Entry {
        name: why.label().to_owned(),
        uuid: Uuid::nil(),
        host: PLACEHOLDER_HOST.to_owned(),
        endpoint: Endpoint {
            port: PLACEHOLDER_PORT,
            network: "tcp".to_owned(),
            flow: String::new(),
            security: Security::None,
        },
    }
}

/// The key's proxies at `now`: one per server (named after the key, with the host added
/// when there are several), or one placeholder when the key does not work or there is no
/// server. Names are unique within the list (mihomo requires it).
pub fn entries(key: &SubKey, servers: &[Server], now: i64) -> Vec<Entry> {
    if let Some(why) = key.inactive(now) {
        return vec![placeholder(why)];
    }
    if servers.is_empty() {
        return vec![placeholder(Inactive::Disabled)];
    }
    let mut out: Vec<Entry> = Vec::with_capacity(servers.len());
    for server in servers {
        let mut name = if servers.len() == 1 {
            key.name.clone()
        } else {
            format!(
                "{} · {}",
                key.name,
                server.label.as_deref().unwrap_or(&server.host)
            )
        };
        let base = name.clone();
        let mut n = 2;
        while out.iter().any(|e| e.name == name) {
            name = format!("{base} {n}");
            n += 1;
        }
        out.push(Entry {
            name,
            uuid: key.uuid,
            host: server.host.clone(),
            endpoint: server.endpoint.clone(),
        });
    }
    out
}

/// A sing-box version as `User-Agent`s carry it (`sing-box 1.11.4`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SingBoxVersion {
    pub major: u32,
    pub minor: u32,
}

impl SingBoxVersion {
    /// The newest shape this build writes (typed DNS servers, rule actions).
    pub const LATEST: SingBoxVersion = SingBoxVersion {
        major: 1,
        minor: 12,
    };

    /// The version after `sing-box ` (or `sing-box/`) in a `User-Agent`, if any.
    pub fn from_user_agent(ua: &str) -> Option<SingBoxVersion> {
        let lower = ua.to_ascii_lowercase();
        let at = lower.find("sing-box")? + "sing-box".len();
        let rest = lower[at..].trim_start_matches([' ', '/', 'v']);
        let mut parts = rest.split(|c: char| !c.is_ascii_digit());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(SingBoxVersion { major, minor })
    }

    fn at_least(self, major: u32, minor: u32) -> bool {
        self >= SingBoxVersion { major, minor }
    }
}

/// Which body a client gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Newline-joined `vless://` links, base64 (v2rayNG, v2rayN, Happ, Streisand, …).
    Base64,
    /// The links as plain text (`?format=links`).
    Links,
    /// A complete sing-box config, shaped for this version.
    SingBox {
        version: SingBoxVersion,
        /// SFA (Android) has no `strict_route`.
        strict_route: bool,
    },
    /// A mihomo (Clash Meta) YAML profile.
    Mihomo,
    /// A JSON array of complete Xray client configs (opt-in only).
    Xray,
}

/// What `?format=` may say.
pub const FORMAT_NAMES: &[&str] = &[
    "base64", "links", "singbox", "sing-box", "mihomo", "clash", "xray", "json",
];

impl Format {
    /// `?format=`'s value (case-insensitive), shaped by the `User-Agent` where it matters.
    pub fn from_query(value: &str, user_agent: &str) -> Option<Format> {
        Some(match value.to_ascii_lowercase().as_str() {
            "base64" | "b64" | "v2ray" => Format::Base64,
            "links" | "plain" => Format::Links,
            "singbox" | "sing-box" | "sing_box" => Format::sing_box(user_agent),
            "mihomo" | "clash" | "clash-meta" | "clashmeta" | "meta" => Format::Mihomo,
            "xray" | "json" | "v2ray-json" => Format::Xray,
            _ => return None,
        })
    }

    /// The body a client gets by its `User-Agent` alone (case-insensitive prefixes the
    /// panels use: mihomo and Clash Meta front ends → YAML; the sing-box apps, Karing and
    /// Hiddify → sing-box; anything else → base64 links).
    pub fn from_user_agent(user_agent: &str) -> Format {
        let ua = user_agent.trim().to_ascii_lowercase();
        let mihomo = [
            "mihomo",
            "clash-verge",
            "clash.meta",
            "clash-meta",
            "clashmeta",
            "clash meta",
            "clashx meta",
            "clash-nyanpasu",
            "flclash",
            "flowvy",
            "koala-clash",
            "murge",
            "prizrak-box",
            "stash",
        ];
        if mihomo.iter().any(|p| ua.starts_with(p)) || ua.contains("prefer clashmeta") {
            return Format::Mihomo;
        }
        let sing = ["sfa", "sfi", "sfm", "sft", "karing", "hiddifynext"];
        if sing.iter().any(|p| ua.starts_with(p))
            || ua.contains("sing-box")
            || ua.contains("singbox")
        {
            return Format::sing_box(user_agent);
        }
        if ua.starts_with("clash") {
            return Format::Mihomo;
        }
        Format::Base64
    }

    fn sing_box(user_agent: &str) -> Format {
        let version = SingBoxVersion::from_user_agent(user_agent).unwrap_or(SingBoxVersion::LATEST);
        let strict_route = !user_agent.trim_start().starts_with("SFA");
        Format::SingBox {
            version,
            strict_route,
        }
    }

    /// The body's media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Base64 | Format::Links => "text/plain; charset=utf-8",
            Format::SingBox { .. } | Format::Xray => "application/json; charset=utf-8",
            Format::Mihomo => "application/yaml; charset=utf-8",
        }
    }

    /// The file extension of a saved body.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Base64 | Format::Links => "txt",
            Format::SingBox { .. } | Format::Xray => "json",
            Format::Mihomo => "yaml",
        }
    }
}

#[cfg(test)]
mod tests;
