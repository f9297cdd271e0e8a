//! Every socket method: its parameters (a struct per method), its result type, and the
//! events a `watch`ing client receives. [`Request`] is the one enum the daemon dispatches on;
//! clients call through the [`Method`] trait so a call site names its parameters and gets
//! the right result type back.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::actor::{Actor, DaemonTask};
pub use crate::disconnect::{DisconnectEvent, DisconnectHealth, DisconnectStatus};
pub use crate::fleet::{NodeDrainParams, NodeListParams};
use crate::model::{Key, KeyRef, KeyState};
use crate::rpc::{ErrorCode, RpcError};
pub use crate::token::{
    AuthFailure, HttpHealth, TokenAdd, TokenAdded, TokenInfo, TokenList, TokenPage, TokenRevoke,
};
pub use crate::traffic::{
    CycleReport, KeyTraffic, KeyTrafficDetail, ResetSchedule, TrafficEvent, TrafficGet,
    TrafficHistory, TrafficHistoryPage, TrafficList, TrafficPage, TrafficResetParams, TrafficSync,
};
pub use crate::webhook::{WebhookList, WebhookPage, WebhookStatus};

/// A method: its wire name and the type its result decodes to.
pub trait Method: Serialize + DeserializeOwned + Into<Request> {
    const NAME: &'static str;
    type Output: Serialize + DeserializeOwned;
}

macro_rules! methods {
    ($($(#[$doc:meta])* $variant:ident($params:ident) = $name:literal -> $output:ty;)*) => {
        /// One parsed request, by method.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Request {
            $($(#[$doc])* $variant($params),)*
        }

        $(
            impl Method for $params {
                const NAME: &'static str = $name;
                type Output = $output;
            }

            impl From<$params> for Request {
                fn from(params: $params) -> Self {
                    Request::$variant(params)
                }
            }
        )*

        impl Request {
            /// Every method name, for help texts and tests.
            pub const METHODS: &'static [&'static str] = &[$($name),*];

            /// Reads a request's method and params. Missing params count as `{}`; params
            /// must be an object (by-name), and unknown members are refused so typos fail
            /// loudly instead of being ignored.
            pub fn parse(method: &str, params: Option<Value>) -> Result<Self, RpcError> {
                match method {
                    $($name => decode::<$params>(method, params).map(Request::$variant),)*
                    other => Err(RpcError::new(
                        ErrorCode::UnknownMethod,
                        format!("unknown method '{other}'"),
                    )),
                }
            }

            pub fn name(&self) -> &'static str {
                match self {
                    $(Request::$variant(_) => $name,)*
                }
            }

            /// The params as JSON, for sending.
            pub fn params(&self) -> Result<Value, serde_json::Error> {
                match self {
                    $(Request::$variant(p) => serde_json::to_value(p),)*
                }
            }
        }
    };
}

fn decode<T: DeserializeOwned>(method: &str, params: Option<Value>) -> Result<T, RpcError> {
    let params = match params {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(obj @ Value::Object(_)) => obj,
        Some(_) => {
            return Err(RpcError::new(
                ErrorCode::InvalidInput,
                format!("params of '{method}' must be an object of named members"),
            ));
        }
    };
    serde_json::from_value(params).map_err(|e| {
        RpcError::new(
            ErrorCode::InvalidInput,
            format!("invalid params for '{method}': {e}"),
        )
    })
}

methods! {
    /// Version handshake.
    Hello(HelloParams) = "hello" -> HelloResult;
    KeyCreate(KeyCreate) = "key.create" -> Key;
    KeyCreateBulk(KeyCreateBulk) = "key.create_bulk" -> KeyBulk;
    KeyList(KeyList) = "key.list" -> KeyPage;
    KeyGet(KeyGet) = "key.get" -> Key;
    KeyUpdate(KeyUpdate) = "key.update" -> Key;
    KeyDisable(KeyDisable) = "key.disable" -> Key;
    KeyEnable(KeyEnable) = "key.enable" -> Key;
    KeyDelete(KeyDelete) = "key.delete" -> Key;
    /// Gives the key a new UUID: the old one stops working; name, limits and traffic stay.
    KeyRotate(KeyRotate) = "key.rotate" -> Key;
    /// The key's `vless://` share link.
    KeyLink(KeyLink) = "key.link" -> KeyLinkResult;
    /// A complete client config (JSON) for Xray-based clients.
    KeyConfig(KeyConfig) = "key.config" -> KeyConfigResult;
    /// The key's subscription URL (made when it has none; `rotate` replaces it, `revoke`
    /// ends it).
    KeySub(KeySub) = "key.sub" -> KeySubResult;
    /// Inspects the setup (core config, database, socket) and reports each problem with its fix.
    Doctor(DoctorParams) = "doctor" -> DoctorReport;
    Health(HealthParams) = "health" -> Health;
    /// Subscribe this connection to events; the answer comes first, then notifications.
    Watch(WatchParams) = "watch" -> WatchResult;
    AuditList(AuditList) = "audit.list" -> AuditPage;
    /// One key's traffic totals, live rates, online users and recent resets.
    TrafficGet(TrafficGet) = "traffic.get" -> KeyTrafficDetail;
    TrafficList(TrafficList) = "traffic.list" -> TrafficPage;
    /// Runs a poller cycle now (the same code path as the background poller).
    TrafficSync(TrafficSync) = "traffic.sync" -> CycleReport;
    /// Sets a key's totals back to zero, logging the usage cleared.
    TrafficReset(TrafficResetParams) = "traffic.reset" -> KeyTraffic;
    TrafficHistory(TrafficHistory) = "traffic.history" -> TrafficHistoryPage;
    /// A consistent copy of the database, taken while writes go on, verified, 0600.
    Backup(BackupParams) = "backup" -> BackupResult;
    /// Makes an API token for the HTTP API; the answer holds its secret, shown this once.
    TokenAdd(TokenAdd) = "token.add" -> TokenAdded;
    TokenList(TokenList) = "token.list" -> TokenPage;
    /// Revokes an API token at once (its row stays for the audit trail).
    TokenRevoke(TokenRevoke) = "token.revoke" -> TokenInfo;
    /// Every configured webhook with its delivery status (pending, failed, last error).
    WebhookList(WebhookList) = "webhook.list" -> WebhookPage;
    /// A fleet node: every node of the fleet (health, keys, traffic, last seen).
    NodeList(NodeListParams) = "node.list" -> crate::fleet::NodeList;
    /// A fleet node: drains a node (left out of subscriptions) or, with `undo`, restores it.
    NodeDrain(NodeDrainParams) = "node.drain" -> crate::fleet::NodeInfo;
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelloParams {
    /// The client's own name and version, for the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The protocol version the client speaks; a different one is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HelloResult {
    pub protocol: u32,
    /// Additions within the protocol this daemon knows (absent: 0).
    #[serde(default)]
    pub protocol_minor: u32,
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyCreate {
    /// Shown by phones as the profile title; any script or emoji. Refused (422): controls,
    /// characters that do not show, and names shaped like an id or a UUID.
    #[schemars(length(min = 1, max = crate::validate::NAME_MAX_CHARS), pattern(crate::validate::name_pattern()))]
    pub name: String,
    /// Free text (line breaks allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = crate::validate::NOTE_MAX_CHARS), pattern(crate::validate::note_pattern()))]
    pub note: Option<String>,
    /// Bytes (uplink + downlink since the last reset) after which the key is disabled;
    /// absent or null: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_limit: Option<u64>,
    /// Unix seconds after which the key is disabled; absent or null: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = crate::validate::EXPIRES_MIN, max = crate::validate::EXPIRES_MAX))]
    pub expires_at: Option<i64>,
    /// When its traffic totals go back to zero; absent: `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<ResetSchedule>,
    /// Fleet mode: the nodes the key is on (names); absent or empty: every node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<String>>,
}

/// The most keys one bulk call may create.
pub const BULK_MAX: u32 = 10_000;

/// Creates `count` keys named `PREFIX-N`, numbering on from the highest `PREFIX-N` that
/// exists, all in one transaction: all are created or none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyCreateBulk {
    #[schemars(range(min = 1, max = BULK_MAX))]
    pub count: u32,
    /// The keys are named `PREFIX-N`; the rules of a name.
    #[schemars(length(min = 1, max = crate::validate::PREFIX_MAX_CHARS), pattern(crate::validate::name_pattern()))]
    pub prefix: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KeyBulk {
    pub keys: Vec<Key>,
}

/// Lists keys by id. Without `state`, deleted keys are left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyList {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<KeyState>,
    /// Case-insensitive substring of the name, the note or the UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KeyPage {
    pub keys: Vec<Key>,
    /// How many keys match, ignoring offset and limit.
    pub total: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyGet {
    pub key: KeyRef,
}

/// Changes what is given; absent members stay. An empty note clears it; `data_limit` or
/// `expires_at` given as null clears it (unlimited, never expires). Raising the limit,
/// extending the expiry or clearing either enables a key that was disabled for that reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyUpdate {
    pub key: KeyRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = crate::validate::NAME_MAX_CHARS), pattern(crate::validate::name_pattern()))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = crate::validate::NOTE_MAX_CHARS), pattern(crate::validate::note_pattern()))]
    pub note: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::traffic::double_option"
    )]
    pub data_limit: Option<Option<u64>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::traffic::double_option"
    )]
    #[schemars(range(min = crate::validate::EXPIRES_MIN, max = crate::validate::EXPIRES_MAX))]
    pub expires_at: Option<Option<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<ResetSchedule>,
    /// Fleet mode: the nodes the key is on; null or empty: every node; absent: unchanged.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::traffic::double_option"
    )]
    pub nodes: Option<Option<Vec<String>>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyDisable {
    pub key: KeyRef,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEnable {
    pub key: KeyRef,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyDelete {
    pub key: KeyRef,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotate {
    pub key: KeyRef,
}

/// A key's share link. Deleted keys have none (`conflict`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyLink {
    pub key: KeyRef,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KeyLinkResult {
    /// `vless://UUID@HOST:PORT?…#NAME`, every value and the name percent-encoded.
    pub link: String,
}

/// A key's client config. Its local SOCKS5 and HTTP proxies listen on 127.0.0.1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub key: KeyRef,
    /// The local SOCKS5 port; default 10808.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socks_port: Option<u16>,
    /// The local HTTP proxy port; default 10809.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KeyConfigResult {
    /// The whole client config, ready to save as `config.json`.
    pub config: Value,
}

/// A key's subscription URL: shown (made if the key has none), replaced (`rotate`: the old
/// URL stops working at once) or ended (`revoke`). Deleted keys have none (`conflict`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySub {
    pub key: KeyRef,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rotate: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoke: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeySubResult {
    pub key_id: i64,
    /// The whole URL (`[public] subscription_base` and the token), or `/sub/TOKEN` when
    /// no base is configured; `None` once revoked.
    pub url: Option<String>,
    /// The secret part of the URL; `None` once revoked.
    pub token: Option<String>,
    /// When the current token was made (Unix seconds).
    pub created_at: Option<i64>,
    /// True when this call revoked the token (or it was already revoked).
    pub revoked: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoctorParams {}

pub use crate::doctor::{DoctorReport, Finding, Severity};

/// Where to put the copy: a file path (absolute, on veild's machine, not existing yet);
/// absent: a new file in `[backup] directory`, older ones rotated out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// A backup as written and checked: where, how big, what it holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackupResult {
    pub path: String,
    pub bytes: u64,
    /// Keys in the copy, deleted ones included.
    pub keys: u64,
    pub audit_rows: u64,
    /// The schema version of the copy (the database's).
    pub schema: i64,
    pub took_ms: u64,
    /// Older backups removed from the directory to keep `[backup] keep`.
    #[serde(default)]
    pub rotated: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthParams {}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub version: String,
    pub protocol: u32,
    pub pid: u32,
    pub uptime_secs: u64,
    pub database: DatabaseHealth,
    pub core: CoreHealth,
    /// Keys whose desired state the core does not reflect yet.
    pub pending: u64,
    /// Of those, keys whose change the core (or its config test) refused: they wait for
    /// the next change or an operator, not for a timer (each key's `apply_error` says why).
    #[serde(default)]
    pub refused: u64,
    /// The core's config file as Veil keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigFileHealth>,
    /// The HTTP API's listener, when `[http]` is on (boxed: most daemons have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Box<HttpHealth>>,
    /// Each `[[webhook]]` with its delivery status; empty without webhooks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookStatus>,
    /// Whether a key leaving the core also loses its open connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect: Option<DisconnectHealth>,
    /// On a fleet node: its link to the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<crate::fleet::FleetHealth>,
}

/// The last full re-add of every active key into the core (at start, after a core restart).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResyncInfo {
    /// Unix seconds when it finished.
    pub at: i64,
    pub duration_ms: u64,
    pub keys: u64,
    /// Why it ran: `start`, `core_restart`, `link_restored`.
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigFileHealth {
    pub path: String,
    /// Writes since veild started (a burst of changes is one write).
    pub writes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_write_at: Option<i64>,
    /// The last failed write (check or test command), cleared by the next good one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Clients in the managed inbound that no key owns (left in place, never deleted).
    #[serde(default)]
    pub unmanaged_clients: Vec<String>,
    /// Keys already live in the core that the file does not list yet: the file follows
    /// within `core.file_delay_ms` (one write for all of them). 0 when the file is in step.
    #[serde(default)]
    pub behind: u64,
    /// Since when (Unix seconds) the file has been behind, while it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behind_since: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseHealth {
    pub ok: bool,
    pub path: String,
    pub keys: KeyCounts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCounts {
    pub active: u64,
    pub disabled: u64,
    pub deleted: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CoreStatus {
    /// Not checked yet.
    Unknown,
    Up,
    Down,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoreHealth {
    pub status: CoreStatus,
    /// `xray` or `v2fly`.
    pub flavor: String,
    pub api: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_resync: Option<ResyncInfo>,
    /// Users found missing or extra by the last drift audit (xray only; `None` on v2fly,
    /// which cannot list users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchParams {}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WatchResult {
    pub subscribed: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditList {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyRef>,
    /// Newest first; default 100, at most 10,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
}

/// One recorded mutation: who asked, what, on which key, and how it ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditEntry {
    pub id: i64,
    /// Unix seconds.
    pub time: i64,
    /// Who asked: a socket peer, an API token, or veild itself.
    pub actor: Actor,
    /// The socket peer's uid (also kept on rows veild wrote before actors had kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    pub method: String,
    /// The key's id, when one was resolved or created.
    pub key_id: Option<i64>,
    /// The key as the request named it.
    pub key_ref: Option<String>,
    /// `ok`, or the error code.
    pub outcome: String,
    /// The error message, or a short summary (e.g. how many keys a bulk call made).
    pub detail: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyAction {
    Created,
    Updated,
    Disabled,
    Enabled,
    Deleted,
    /// The key got a new UUID.
    Rotated,
    /// The applier brought the core in line with the key (pending → live).
    Applied,
}

impl KeyAction {
    /// The action as the wire names it (`created`, `disabled`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAction::Created => "created",
            KeyAction::Updated => "updated",
            KeyAction::Disabled => "disabled",
            KeyAction::Enabled => "enabled",
            KeyAction::Deleted => "deleted",
            KeyAction::Rotated => "rotated",
            KeyAction::Applied => "applied",
        }
    }
}

/// `event.key`: a key changed. Carries the key as it now is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyEvent {
    pub action: KeyAction,
    pub key: Key,
    /// Absent for changes the daemon made by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
}

/// `event.lagged`: this watcher fell behind and `missed` events were dropped; re-read state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaggedEvent {
    pub missed: u64,
}

/// Every notification a watcher can receive.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Key(KeyEvent),
    Lagged(LaggedEvent),
    /// Rates and totals of the keys that moved in a poller cycle.
    Traffic(TrafficEvent),
    Disconnect(DisconnectEvent),
}

impl Event {
    pub const KEY: &'static str = "event.key";
    pub const LAGGED: &'static str = "event.lagged";
    pub const TRAFFIC: &'static str = "event.traffic";
    pub const DISCONNECT: &'static str = "event.disconnect";

    pub fn method(&self) -> &'static str {
        match self {
            Event::Key(_) => Self::KEY,
            Event::Lagged(_) => Self::LAGGED,
            Event::Traffic(_) => Self::TRAFFIC,
            Event::Disconnect(_) => Self::DISCONNECT,
        }
    }

    pub fn params(&self) -> Result<Value, serde_json::Error> {
        match self {
            Event::Key(e) => serde_json::to_value(e),
            Event::Lagged(e) => serde_json::to_value(e),
            Event::Traffic(e) => serde_json::to_value(e),
            Event::Disconnect(e) => serde_json::to_value(e),
        }
    }

    /// Reads a notification; `None` for a method this build does not know (newer daemon).
    pub fn parse(method: &str, params: Value) -> Result<Option<Self>, serde_json::Error> {
        Ok(match method {
            Self::KEY => Some(Event::Key(serde_json::from_value(params)?)),
            Self::LAGGED => Some(Event::Lagged(serde_json::from_value(params)?)),
            Self::TRAFFIC => Some(Event::Traffic(serde_json::from_value(params)?)),
            Self::DISCONNECT => Some(Event::Disconnect(serde_json::from_value(params)?)),
            _ => None,
        })
    }
}
