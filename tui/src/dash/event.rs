//! The dashboard's one message type and the work it asks for.
//!
//! Every producer — the terminal (keys, resizes), the socket worker (connection changes,
//! notifications, answers) and the clock — sends a [`Msg`] into one channel. `update`
//! turns each into state changes plus [`Effect`]s; the loop carries the effects out (the
//! socket worker runs [`Cmd`]s and answers with [`Reply`]s).

use veil_shared::api::{
    AuditPage, Event, Health, KeyCreate, KeyPage, KeyUpdate, TrafficHistoryPage, TrafficPage,
};
use veil_shared::model::Key;
use veil_shared::traffic::{KeyTraffic, KeyTrafficDetail, Resolution};

/// Everything that can change the dashboard.
#[derive(Debug)]
pub enum Msg {
    /// A key press, paste or resize from the terminal.
    Input(crossterm::event::Event),
    /// The clock: Unix seconds now. Sent about once a second.
    Tick { now: i64 },
    /// The socket worker connected (or reconnected) to veild.
    Connected { version: String },
    /// The connection failed or broke; the worker retries by itself.
    Disconnected { error: String },
    /// A notification from `watch` (boxed: a key event is the largest message by far).
    Daemon(Box<Event>),
    /// The answer to a [`Cmd`].
    Reply(Box<Reply>),
    /// SIGTERM, SIGHUP or the input stream ended: leave cleanly.
    Quit,
}

/// A call the socket worker makes for `update`.
#[derive(Clone, Debug, PartialEq)]
pub enum Cmd {
    Health,
    /// A fleet node's `node.list`.
    Nodes,
    /// Every key but the deleted ones.
    Keys,
    /// Every key's traffic.
    Traffic,
    /// The newest audit entries, to fill the event log on connect.
    Audit,
    /// Today's bytes of these keys (history with daily buckets since `since`).
    Today {
        ids: Vec<i64>,
        since: i64,
    },
    /// One key's traffic detail (`traffic.get`).
    TrafficDetail {
        id: i64,
    },
    History {
        id: i64,
        resolution: Resolution,
    },
    Link {
        id: i64,
        purpose: LinkPurpose,
    },
    Create(KeyCreate),
    Update {
        update: KeyUpdate,
        what: Action,
    },
    Disable {
        id: i64,
    },
    Enable {
        id: i64,
    },
    Delete {
        id: i64,
    },
    ResetTraffic {
        id: i64,
    },
}

/// Why a link was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    Detail,
    Copy,
    Qr,
    /// The key's subscription URL (`key.sub`, made when the key has none), for the QR popup.
    SubQr,
}

/// A change made from the dashboard, for the confirmation it gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Created,
    Renamed,
    Edited,
    Disabled,
    Enabled,
    Deleted,
}

impl Action {
    pub fn past(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Renamed => "renamed",
            Action::Edited => "updated",
            Action::Disabled => "disabled",
            Action::Enabled => "enabled",
            Action::Deleted => "deleted",
        }
    }
}

/// Why a call failed. `unsupported` marks a method this daemon does not offer (yet), so
/// its panel shows "—" instead of an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallError {
    pub message: String,
    pub unsupported: bool,
}

impl CallError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            unsupported: false,
        }
    }
}

/// Today's bytes of the keys asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TodaySum {
    pub since: i64,
    pub uplink: u64,
    pub downlink: u64,
}

/// The answer to one [`Cmd`].
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "a Reply travels boxed (`Msg::Reply`), so its variants' sizes do not add up"
)]
pub enum Reply {
    Health(Result<Health, CallError>),
    Nodes(Result<veil_shared::fleet::NodeList, CallError>),
    Keys(Result<KeyPage, CallError>),
    Traffic(Result<TrafficPage, CallError>),
    Audit(Result<AuditPage, CallError>),
    Today(Result<TodaySum, CallError>),
    TrafficDetail {
        id: i64,
        result: Result<KeyTrafficDetail, CallError>,
    },
    History {
        id: i64,
        resolution: Resolution,
        result: Result<TrafficHistoryPage, CallError>,
    },
    Link {
        id: i64,
        purpose: LinkPurpose,
        result: Result<String, CallError>,
    },
    /// A key change finished (or was refused).
    Changed {
        action: Action,
        /// The name the operator saw, for the message.
        name: String,
        result: Result<Key, CallError>,
    },
    TrafficReset {
        id: i64,
        name: String,
        result: Result<KeyTraffic, CallError>,
    },
}

/// What `update` asks the loop to do besides redrawing.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// A call for the socket worker.
    Call(Cmd),
    /// Put text on the clipboard with OSC 52.
    Clipboard(String),
    Quit,
}
