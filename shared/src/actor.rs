//! Who made a change: a socket peer, an API token (a remote admin server), or veild itself.
//! The audit trail, key events and the service's callers all name actors this way.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What veild was doing when it changed a key by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DaemonTask {
    /// Enforcing data limits and expiry (disabling, or enabling again).
    Enforce,
    /// A periodic traffic reset.
    Reset,
    /// Turning clients found in the core's config into keys on the first start.
    Adopt,
    /// A scheduled database backup.
    Backup,
    /// Cutting the open connections of a key that left the core.
    Disconnect,
    /// Taking a change made on another node of the fleet from the registry.
    Fleet,
}

impl DaemonTask {
    pub const ALL: [DaemonTask; 6] = [
        DaemonTask::Enforce,
        DaemonTask::Reset,
        DaemonTask::Adopt,
        DaemonTask::Backup,
        DaemonTask::Disconnect,
        DaemonTask::Fleet,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DaemonTask::Enforce => "enforce",
            DaemonTask::Reset => "reset",
            DaemonTask::Adopt => "adopt",
            DaemonTask::Backup => "backup",
            DaemonTask::Disconnect => "disconnect",
            DaemonTask::Fleet => "fleet",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Who made a change. On the wire an object tagged by `kind`: `peer` (a socket client, by
/// its peer credentials), `token` (a remote admin server, by its API token's name and
/// address) or `daemon` (veild itself). An object without `kind` (protocol 1.0) is a peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "ActorWire")]
pub enum Actor {
    Peer {
        uid: u32,
        gid: u32,
        pid: Option<i32>,
    },
    Token {
        /// The token's name (never the token itself).
        name: String,
        /// The client's address as the front end saw it.
        remote: String,
    },
    Daemon {
        task: DaemonTask,
    },
}

/// The shape [`Actor`] serializes to (what it reads is wider: see `ActorWire`).
impl JsonSchema for Actor {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Actor".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let task = generator.subschema_for::<DaemonTask>();
        schemars::json_schema!({
            "description": "Who made a change: a socket peer, an API token or veild itself",
            "oneOf": [
                {"type": "object", "required": ["kind", "uid", "gid", "pid"],
                 "properties": {"kind": {"const": "peer"}, "uid": {"type": "integer", "minimum": 0},
                                "gid": {"type": "integer", "minimum": 0},
                                "pid": {"type": ["integer", "null"]}}},
                {"type": "object", "required": ["kind", "name", "remote"],
                 "properties": {"kind": {"const": "token"}, "name": {"type": "string"},
                                "remote": {"type": "string"}}},
                {"type": "object", "required": ["kind", "task"],
                 "properties": {"kind": {"const": "daemon"}, "task": task}}
            ]
        })
    }
}

/// An actor as read off the wire: every member optional, so that an object without `kind`
/// (protocol 1.0, peers only) still reads.
#[derive(Deserialize)]
struct ActorWire {
    kind: Option<String>,
    uid: Option<u32>,
    gid: Option<u32>,
    pid: Option<i32>,
    name: Option<String>,
    remote: Option<String>,
    task: Option<DaemonTask>,
}

impl TryFrom<ActorWire> for Actor {
    type Error = String;

    fn try_from(w: ActorWire) -> Result<Self, String> {
        let missing = |what: &str| format!("an actor of kind {what} lacks a member");
        match w.kind.as_deref() {
            None | Some("peer") => Ok(Actor::Peer {
                uid: w.uid.ok_or_else(|| missing("peer"))?,
                gid: w.gid.ok_or_else(|| missing("peer"))?,
                pid: w.pid,
            }),
            Some("token") => Ok(Actor::Token {
                name: w.name.ok_or_else(|| missing("token"))?,
                remote: w.remote.ok_or_else(|| missing("token"))?,
            }),
            Some("daemon") => Ok(Actor::Daemon {
                task: w.task.ok_or_else(|| missing("daemon"))?,
            }),
            Some(other) => Err(format!("unknown actor kind '{other}'")),
        }
    }
}

impl Actor {
    /// The short form people read: `uid 1000 (pid 42)`, `token 'billing' from 10.0.0.5`,
    /// `veild (enforce)`. The token name and address are as stored: callers that print to a
    /// terminal sanitize them like every other daemon string.
    pub fn describe(&self) -> String {
        match self {
            Actor::Peer {
                uid,
                pid: Some(pid),
                ..
            } => format!("uid {uid} (pid {pid})"),
            Actor::Peer { uid, pid: None, .. } => format!("uid {uid}"),
            Actor::Token { name, remote } => format!("token '{name}' from {remote}"),
            Actor::Daemon { task } => format!("veild ({})", task.as_str()),
        }
    }

    /// The peer's uid, for socket peers.
    pub fn uid(&self) -> Option<u32> {
        match self {
            Actor::Peer { uid, .. } => Some(*uid),
            _ => None,
        }
    }

    /// The peer's pid, for socket peers.
    pub fn pid(&self) -> Option<i32> {
        match self {
            Actor::Peer { pid, .. } => *pid,
            _ => None,
        }
    }
}
