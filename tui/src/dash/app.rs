//! The dashboard's state: what veild told us, what the operator is looking at, and the
//! small bookkeeping that keeps requests from piling up. `update` changes it; drawing only
//! reads it.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;

use veil_shared::api::{Health, KeyCounts};
use veil_shared::model::{Key, KeyState};
use veil_shared::traffic::{KeyTrafficDetail, Resolution, TrafficHistoryPage};

use super::event::CallError;
use super::form::Form;
use super::theme::Theme;

/// The three screens, in tab order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum View {
    #[default]
    Overview,
    Keys,
    Events,
    /// A fleet node's view of every node (only on a fleet node).
    Nodes,
}

impl View {
    pub const ALL: [View; 3] = [View::Overview, View::Keys, View::Events];
    /// The tabs of a fleet node.
    pub const FLEET: [View; 4] = [View::Overview, View::Keys, View::Events, View::Nodes];

    /// The tabs shown: a fleet node has one more.
    pub fn tabs(fleet: bool) -> &'static [View] {
        if fleet { &Self::FLEET } else { &Self::ALL }
    }

    pub fn title(self) -> &'static str {
        match self {
            View::Overview => "Overview",
            View::Keys => "Keys",
            View::Events => "Events",
            View::Nodes => "Nodes",
        }
    }

    pub fn next(self, fleet: bool) -> View {
        let tabs = Self::tabs(fleet);
        let at = tabs.iter().position(|v| *v == self).unwrap_or(0);
        tabs[(at + 1) % tabs.len()]
    }

    pub fn prev(self, fleet: bool) -> View {
        let tabs = Self::tabs(fleet);
        let at = tabs.iter().position(|v| *v == self).unwrap_or(0);
        tabs[(at + tabs.len() - 1) % tabs.len()]
    }
}

/// The link to veild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conn {
    /// Not connected yet since start.
    Connecting,
    Up {
        version: String,
    },
    /// Lost (or never made); the worker keeps trying. `since` is Unix seconds.
    Down {
        error: String,
        since: i64,
    },
}

/// Something fetched on demand.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Load<T> {
    #[default]
    Idle,
    Loading,
    Ready(T),
    /// This daemon does not offer it (yet).
    Unsupported,
    Failed(String),
}

impl<T> Load<T> {
    pub fn from_result(result: Result<T, CallError>) -> Self {
        match result {
            Ok(v) => Load::Ready(v),
            Err(e) if e.unsupported => Load::Unsupported,
            Err(e) => Load::Failed(e.message),
        }
    }

    pub fn ready(&self) -> Option<&T> {
        match self {
            Load::Ready(v) => Some(v),
            _ => None,
        }
    }
}

/// A key's traffic as the dashboard tracks it: totals since the last reset and the rates
/// of the poller's last cycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub uplink: u64,
    pub downlink: u64,
    pub uplink_rate: u64,
    pub downlink_rate: u64,
    pub last_active: Option<i64>,
}

impl Traffic {
    pub fn used(&self) -> u64 {
        self.uplink.saturating_add(self.downlink)
    }

    pub fn rate(&self) -> u64 {
        self.uplink_rate.saturating_add(self.downlink_rate)
    }
}

/// How the key table is ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortBy {
    #[default]
    Id,
    Name,
    State,
    Rate,
    Used,
    Expiry,
    Active,
}

impl SortBy {
    pub const ALL: [SortBy; 7] = [
        SortBy::Id,
        SortBy::Name,
        SortBy::State,
        SortBy::Rate,
        SortBy::Used,
        SortBy::Expiry,
        SortBy::Active,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SortBy::Id => "id",
            SortBy::Name => "name",
            SortBy::State => "state",
            SortBy::Rate => "rate",
            SortBy::Used => "used",
            SortBy::Expiry => "expiry",
            SortBy::Active => "last active",
        }
    }

    pub fn next(self) -> SortBy {
        let i = Self::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

/// One line of the event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// Unix seconds.
    pub at: i64,
    pub kind: LogKind,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogKind {
    /// A key changed (`text` names the actor's uid when known).
    Key,
    /// The daemon re-added every key to the core.
    Resync,
    /// The connection, the core or the config file reported a problem.
    Error,
    /// Anything else worth a line (reconnected, core back up).
    Info,
}

/// How a status-line message looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Info,
    Good,
    Bad,
}

/// A message in the status line until `until` (Unix seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toast {
    pub text: String,
    pub tone: Tone,
    pub until: i64,
}

/// A key opened in full: everything fetched for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Detail {
    pub id: i64,
    pub link: Load<String>,
    pub traffic: Load<KeyTrafficDetail>,
    pub history: Load<TrafficHistoryPage>,
    pub resolution: Resolution,
}

/// What a confirmation would do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirm {
    Delete { id: i64, name: String },
    ResetTraffic { id: i64, name: String },
}

/// A window over the screen that takes the keys while it is open.
#[derive(Clone, Debug, PartialEq)]
pub enum Popup {
    Help,
    Form(Form),
    Confirm(Confirm),
    Qr {
        id: i64,
        name: String,
        link: Load<String>,
        /// Dark modules as blocks (for light terminals without color).
        inverted: bool,
    },
}

/// Today's traffic: fetched per key on connect, then grown by each `event.traffic`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Today {
    /// The UTC day it counts (its start, Unix seconds).
    pub day: i64,
    pub uplink: u64,
    pub downlink: u64,
    /// True once the fetch answered; until then only live deltas are in.
    pub complete: bool,
}

/// A sample of the whole server's rate, one per poller cycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateSample {
    pub at: i64,
    pub uplink: u64,
    pub downlink: u64,
}

/// Calls in flight, so a slow daemon does not get a queue of identical requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Inflight {
    pub health: bool,
    pub keys: bool,
    pub traffic: bool,
    pub today: bool,
    pub nodes: bool,
}

/// How many rate samples are kept (10 minutes at a 1 s poller).
pub const RATE_SAMPLES: usize = 600;
/// How many log lines are kept.
pub const LOG_LINES: usize = 500;
/// How many keys "busiest now" lists at most.
pub const BUSIEST: usize = 10;

pub struct App {
    pub socket: PathBuf,
    pub theme: Theme,
    /// Unix seconds, from the last tick.
    pub now: i64,
    /// The terminal's size, from the last resize.
    pub width: u16,
    pub height: u16,
    pub view: View,
    pub conn: Conn,

    pub health: Option<Health>,
    /// A fleet node: every node as it last answered `node.list`.
    pub nodes: Option<veil_shared::fleet::NodeList>,
    pub last_nodes_at: i64,
    /// Every key but the deleted ones, in the daemon's (id) order.
    pub keys: Vec<Key>,
    /// `keys` position by id.
    pub index: HashMap<i64, usize>,
    /// Keys loaded at least once since connecting.
    pub keys_loaded: bool,
    /// Per-key traffic; empty until `traffic.list` answers.
    pub traffic: HashMap<i64, Traffic>,
    /// Whether this daemon reports traffic: `None` until asked.
    pub traffic_supported: Option<bool>,
    /// The poller's interval, for rates and "online".
    pub poll_interval_ms: u64,
    pub rates: VecDeque<RateSample>,
    pub today: Option<Today>,
    /// The whole server's rate over the last cycle (0 when nothing moves).
    pub rate_now: (u64, u64),
    /// Ids of the fastest keys now, fastest first.
    pub busiest: Vec<i64>,
    /// Unix seconds of the last `event.traffic`.
    pub last_traffic_at: Option<i64>,

    /// The table: `keys` positions, filtered and sorted.
    pub visible: Vec<usize>,
    /// The cursor's position in `visible`.
    pub cursor: usize,
    /// The first row shown.
    pub offset: usize,
    pub sort: SortBy,
    pub descending: bool,
    pub filter: String,
    /// The filter line has the keys.
    pub filtering: bool,

    pub log: VecDeque<LogEntry>,
    /// The first log line shown (0: newest).
    pub log_offset: usize,

    pub detail: Option<Detail>,
    pub popup: Option<Popup>,
    pub toast: Option<Toast>,

    pub inflight: Inflight,
    pub last_health_at: i64,
    pub last_traffic_list_at: i64,
    /// [`App::counts`] as last computed, and for which (now, keys, traffic rows, loaded):
    /// a frame reads it instead of walking every key (100,000 keys: 60 ms a frame).
    /// `update` drops it on every message that is not the operator's input.
    pub counts_cache: std::cell::Cell<Option<(CountsOf, StateCounts)>>,
}

/// What [`App::counts`] depends on besides the messages `update` sees.
pub type CountsOf = (i64, usize, usize, bool);

impl App {
    pub fn new(socket: PathBuf, theme: Theme, now: i64, width: u16, height: u16) -> App {
        App {
            socket,
            theme,
            now,
            width,
            height,
            view: View::Overview,
            conn: Conn::Connecting,
            health: None,
            keys: Vec::new(),
            index: HashMap::new(),
            keys_loaded: false,
            traffic: HashMap::new(),
            traffic_supported: None,
            poll_interval_ms: 1_000,
            rates: VecDeque::new(),
            today: None,
            rate_now: (0, 0),
            busiest: Vec::new(),
            last_traffic_at: None,
            visible: Vec::new(),
            cursor: 0,
            offset: 0,
            sort: SortBy::Id,
            descending: false,
            filter: String::new(),
            filtering: false,
            log: VecDeque::new(),
            log_offset: 0,
            detail: None,
            popup: None,
            toast: None,
            inflight: Inflight::default(),
            last_health_at: i64::MIN / 2,
            last_traffic_list_at: i64::MIN / 2,
            nodes: None,
            last_nodes_at: i64::MIN / 2,
            counts_cache: std::cell::Cell::new(None),
        }
    }

    /// Whether veild is a fleet node (its health says so).
    pub fn is_fleet(&self) -> bool {
        self.health.as_ref().is_some_and(|h| h.fleet.is_some())
    }

    pub fn connected(&self) -> bool {
        matches!(self.conn, Conn::Up { .. })
    }

    pub fn key(&self, id: i64) -> Option<&Key> {
        self.index.get(&id).and_then(|&i| self.keys.get(i))
    }

    /// The key under the cursor.
    pub fn selected(&self) -> Option<&Key> {
        self.visible
            .get(self.cursor)
            .and_then(|&i| self.keys.get(i))
    }

    /// The key the actions apply to: the open detail's, else the cursor's.
    pub fn target(&self) -> Option<&Key> {
        match &self.detail {
            Some(d) if self.view == View::Keys => self.key(d.id),
            _ if self.view == View::Keys => self.selected(),
            _ => None,
        }
    }

    /// Keys by state, counted from the list (the daemon's counts when not loaded yet);
    /// counted once per change, not once per frame.
    pub fn counts(&self) -> StateCounts {
        let of = (
            self.now,
            self.keys.len(),
            self.traffic.len(),
            self.keys_loaded,
        );
        if let Some((cached_of, counts)) = self.counts_cache.get()
            && cached_of == of
        {
            return counts;
        }
        let counts = self.count_now();
        self.counts_cache.set(Some((of, counts)));
        counts
    }

    fn count_now(&self) -> StateCounts {
        let mut c = StateCounts::default();
        if !self.keys_loaded {
            if let Some(h) = &self.health {
                let KeyCounts {
                    active, disabled, ..
                } = h.database.keys;
                c.active = active;
                c.disabled = disabled;
            }
            return c;
        }
        for key in &self.keys {
            match key.state {
                KeyState::Active => c.active += 1,
                KeyState::Disabled => {
                    c.disabled += 1;
                    match key.disable_reason {
                        Some(veil_shared::model::DisableReason::Limited) => c.limited += 1,
                        Some(veil_shared::model::DisableReason::Expired) => c.expired += 1,
                        _ => c.manual += 1,
                    }
                }
                KeyState::Deleted => {}
            }
            if key.pending {
                c.pending += 1;
            }
            if self.traffic.get(&key.id).is_some_and(|t| self.is_online(t)) {
                c.online += 1;
            }
        }
        c
    }

    /// Whether a key moved bytes in the poller's last cycles.
    pub fn is_online(&self, t: &Traffic) -> bool {
        if t.rate() > 0 {
            return true;
        }
        let window = i64::try_from(self.poll_interval_ms.saturating_mul(3) / 1000)
            .unwrap_or(i64::MAX)
            .max(3);
        t.last_active.is_some_and(|at| self.now - at <= window)
    }

    /// The whole server's rate now: (uplink, downlink) bytes per second.
    pub fn total_rate(&self) -> (u64, u64) {
        self.rate_now
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub active: u64,
    pub disabled: u64,
    pub manual: u64,
    pub limited: u64,
    pub expired: u64,
    pub pending: u64,
    pub online: u64,
}
