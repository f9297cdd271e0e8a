//! The key model as it travels over the socket.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a key should be (desired) or is known to be in the core (applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    Active,
    Disabled,
    Deleted,
}

impl KeyState {
    pub const ALL: [KeyState; 3] = [KeyState::Active, KeyState::Disabled, KeyState::Deleted];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Disabled => "disabled",
            KeyState::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a key is disabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisableReason {
    /// An operator or script disabled it.
    Manual,
    /// It used up its data limit.
    Limited,
    /// Its expiry passed.
    Expired,
}

impl DisableReason {
    pub const ALL: [DisableReason; 3] = [
        DisableReason::Manual,
        DisableReason::Limited,
        DisableReason::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisableReason::Manual => "manual",
            DisableReason::Limited => "limited",
            DisableReason::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == s)
    }
}

impl fmt::Display for DisableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One key as the daemon reports it. Times are Unix seconds (UTC).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Key {
    pub id: i64,
    pub uuid: Uuid,
    pub name: String,
    pub note: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// What the operator asked for.
    pub state: KeyState,
    /// What the core is known to have; `None` until the key was first applied.
    pub applied: Option<KeyState>,
    /// True while the core does not yet reflect `state` (never a silent divergence).
    pub pending: bool,
    pub disable_reason: Option<DisableReason>,
    /// Data limit in bytes (uplink + downlink); `None` is unlimited.
    pub data_limit: Option<u64>,
    /// Unix seconds after which the key is disabled; `None` never expires.
    pub expires_at: Option<i64>,
    /// Why the core (or its config test) refused to apply this key, while it is pending.
    /// Such a change is not retried on a timer; it is tried again with the next change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_error: Option<String>,
    /// Fleet mode: the nodes the key is on; absent, every node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<String>>,
}

/// How a request names a key: numeric id, UUID or name (every key by all three). Names that look like an id
/// or a UUID are refused at creation, so the three never overlap.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyRef {
    Id(i64),
    Uuid(Uuid),
    Name(String),
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRef::Id(id) => write!(f, "{id}"),
            KeyRef::Uuid(uuid) => write!(f, "{uuid}"),
            KeyRef::Name(name) => f.write_str(name),
        }
    }
}

/// A positive id (a number, or its digits as a string), a UUID or a name.
impl JsonSchema for KeyRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "KeyRef".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A key: its numeric id, its UUID or its name",
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "string", "minLength": 1}
            ]
        })
    }
}

/// On the wire a key reference is a JSON number (an id) or a string (id, UUID or name).
impl Serialize for KeyRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            KeyRef::Id(id) => serializer.serialize_i64(*id),
            KeyRef::Uuid(uuid) => serializer.collect_str(uuid),
            KeyRef::Name(name) => serializer.serialize_str(name),
        }
    }
}
