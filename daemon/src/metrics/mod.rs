//! Prometheus metrics: one [`Metrics`] per daemon, shared behind an `Arc` by the parts
//! that count (the socket, the applier, the core link, the traffic poller, the watcher),
//! and served as text on `GET /metrics` when `[metrics] listen` is set (see [`http`]).
//!
//! No label ever carries a key, a name or a client's string: every label has a fixed,
//! small set of values (a method of the socket's table, a core call, a key state), so
//! 10,000 keys are still the same few hundred series. What a scrape reads from the
//! database (keys by state, pending keys) and the core's state are set just before the
//! text is written, by the daemon's [`http::Collect`].
//!
//! This module names no other module of the daemon but the core link (whose observer
//! trait it implements), so every part can count without a cycle.

pub mod http;

use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

/// The label value for a socket request whose method is not in the table (or that was
/// not a request at all): a client's string never becomes a label.
pub const UNKNOWN_METHOD: &str = "unknown";

/// Every metric veild exports, with its type as the text format names it (the README's
/// table, the tests and the Grafana dashboard use exactly these).
pub const DOCUMENTED: [(&str, &str); 20] = [
    ("veild_build_info", "gauge"),
    ("veild_keys", "gauge"),
    ("veild_keys_pending", "gauge"),
    ("veild_core_up", "gauge"),
    ("veild_core_uptime_seconds", "gauge"),
    ("veild_core_calls_total", "counter"),
    ("veild_core_call_duration_seconds", "histogram"),
    ("veild_applier_queue_depth", "gauge"),
    ("veild_applier_pass_duration_seconds", "histogram"),
    ("veild_core_config_writes_total", "counter"),
    ("veild_core_config_write_failures_total", "counter"),
    ("veild_core_resyncs_total", "counter"),
    ("veild_drift_repairs_total", "counter"),
    ("veild_traffic_cycle_duration_seconds", "histogram"),
    ("veild_traffic_bytes_total", "counter"),
    ("veild_socket_requests_total", "counter"),
    ("veild_socket_request_duration_seconds", "histogram"),
    ("veild_socket_connections", "gauge"),
    ("veild_webhook_deliveries_total", "counter"),
    ("veild_disconnected_connections_total", "counter"),
];

/// Bounds (seconds) of the latency histograms: one core call, one socket request.
const CALL_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Bounds (seconds) of the histograms of whole passes and cycles (many keys, a config
/// file written and checked).
const PASS_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0,
];

fn call_histogram() -> Histogram {
    Histogram::new(CALL_BUCKETS)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    call: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabel {
    call: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabel {
    direction: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Keys by the `state` label of `veild_keys`: every key is in exactly one. A disabled
/// key is split by why: `disabled` (by hand), `expired`, `over_limit`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyStates {
    pub active: u64,
    pub disabled: u64,
    pub expired: u64,
    pub over_limit: u64,
    pub deleted: u64,
}

/// Every metric veild exports, registered under the `veild_` prefix.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    keys: Family<StateLabel, Gauge>,
    keys_pending: Gauge,
    core_up: Gauge,
    core_uptime: Gauge,
    core_calls: Family<CallLabels, Counter>,
    core_call_duration: HistogramFamily<CallLabel>,
    applier_queue: Gauge,
    applier_pass: Histogram,
    config_writes: Counter,
    config_write_failures: Counter,
    disconnected: Family<OutcomeLabel, Counter>,
    resyncs: Family<ReasonLabel, Counter>,
    drift_repairs: Counter,
    traffic_cycle: Histogram,
    traffic_bytes: Family<DirectionLabel, Counter>,
    socket_requests: Family<MethodLabels, Counter>,
    socket_request_duration: HistogramFamily<MethodLabel>,
    socket_connections: Gauge,
    webhook_deliveries: Family<OutcomeLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    #[allow(
        clippy::too_many_lines,
        reason = "one registration per metric, with its help text: a flat list reads best"
    )]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("veild");
        let build = Info::new(vec![(
            "version".to_owned(),
            veil_shared::VERSION.to_owned(),
        )]);
        registry.register("build", "The running veild's version", build);

        let keys = Family::<StateLabel, Gauge>::default();
        registry.register(
            "keys",
            "Keys by state (a disabled key by why: disabled by hand, expired, over_limit)",
            keys.clone(),
        );
        let keys_pending = Gauge::default();
        registry.register(
            "keys_pending",
            "Keys whose change is not applied to the core yet",
            keys_pending.clone(),
        );
        let core_up = Gauge::default();
        registry.register(
            "core_up",
            "1 when the core's API answered the last health poll, else 0",
            core_up.clone(),
        );
        let core_uptime = Gauge::default();
        registry.register_with_unit(
            "core_uptime",
            "The core's uptime as its stats API reports it (0 while it is down)",
            Unit::Seconds,
            core_uptime.clone(),
        );
        let core_calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "core_calls",
            "gRPC calls to the core by call and outcome",
            core_calls.clone(),
        );
        let core_call_duration =
            HistogramFamily::<CallLabel>::new_with_constructor(call_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "core_call_duration",
            "Latency of gRPC calls to the core",
            Unit::Seconds,
            core_call_duration.clone(),
        );
        let applier_queue = Gauge::default();
        registry.register(
            "applier_queue_depth",
            "Requests waiting for the applier (passes, resyncs, pings)",
            applier_queue.clone(),
        );
        let applier_pass = Histogram::new(PASS_BUCKETS);
        registry.register_with_unit(
            "applier_pass_duration",
            "Applier passes that had work: core calls, config write, marking rows applied",
            Unit::Seconds,
            applier_pass.clone(),
        );
        let config_writes = Counter::default();
        registry.register(
            "core_config_writes",
            "Writes of the core's config file",
            config_writes.clone(),
        );
        let config_write_failures = Counter::default();
        registry.register(
            "core_config_write_failures",
            "Failed writes of the core's config file (the previous file stays)",
            config_write_failures.clone(),
        );
        let disconnected = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "disconnected_connections",
            "Connections of keys removed from the core that were destroyed (outcome cut) or could not be (failed)",
            disconnected.clone(),
        );
        let resyncs = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "core_resyncs",
            "Completed resyncs (every active key re-added to the core) by reason",
            resyncs.clone(),
        );
        let drift_repairs = Counter::default();
        registry.register(
            "drift_repairs",
            "Core users the drift audit found differing from the database and repaired",
            drift_repairs.clone(),
        );
        let traffic_cycle = Histogram::new(PASS_BUCKETS);
        registry.register_with_unit(
            "traffic_cycle_duration",
            "Traffic cycles (read the core's counters, account, enforce limits)",
            Unit::Seconds,
            traffic_cycle.clone(),
        );
        let traffic_bytes = Family::<DirectionLabel, Counter>::default();
        registry.register_with_unit(
            "traffic",
            "Bytes the traffic cycles accounted to keys since veild started, by direction",
            Unit::Bytes,
            traffic_bytes.clone(),
        );
        let socket_requests = Family::<MethodLabels, Counter>::default();
        registry.register(
            "socket_requests",
            "Socket requests by method and outcome (unknown: not a method of the table)",
            socket_requests.clone(),
        );
        let socket_request_duration = HistogramFamily::<MethodLabel>::new_with_constructor(
            call_histogram as fn() -> Histogram,
        );
        registry.register_with_unit(
            "socket_request_duration",
            "Time from a socket request's line to its answer, by method",
            Unit::Seconds,
            socket_request_duration.clone(),
        );
        let socket_connections = Gauge::default();
        registry.register(
            "socket_connections",
            "Open socket connections",
            socket_connections.clone(),
        );
        let webhook_deliveries = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, retry, failed)",
            webhook_deliveries.clone(),
        );

        let metrics = Self {
            registry,
            keys,
            keys_pending,
            core_up,
            core_uptime,
            core_calls,
            core_call_duration,
            applier_queue,
            applier_pass,
            config_writes,
            config_write_failures,
            disconnected,
            resyncs,
            drift_repairs,
            traffic_cycle,
            traffic_bytes,
            socket_requests,
            socket_request_duration,
            socket_connections,
            webhook_deliveries,
        };
        // Series that exist from the start, so a dashboard shows 0 rather than nothing.
        metrics.set_keys(KeyStates::default());
        for direction in ["uplink", "downlink"] {
            metrics
                .traffic_bytes
                .get_or_create(&DirectionLabel { direction })
                .inc_by(0);
        }
        for outcome in ["delivered", "retry", "failed"] {
            metrics
                .webhook_deliveries
                .get_or_create(&OutcomeLabel { outcome })
                .inc_by(0);
        }
        for outcome in ["cut", "failed"] {
            metrics
                .disconnected
                .get_or_create(&OutcomeLabel { outcome })
                .inc_by(0);
        }
        metrics
    }

    /// The registry as Prometheus text (format 0.0.4, see [`http::CONTENT_TYPE`]).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::with_capacity(16 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    // --- set at scrape time ---

    pub fn set_keys(&self, states: KeyStates) {
        for (state, n) in [
            ("active", states.active),
            ("disabled", states.disabled),
            ("expired", states.expired),
            ("over_limit", states.over_limit),
            ("deleted", states.deleted),
        ] {
            self.keys.get_or_create(&StateLabel { state }).set(gauge(n));
        }
    }

    pub fn set_pending(&self, pending: u64) {
        self.keys_pending.set(gauge(pending));
    }

    /// The core's state from the health watcher; the uptime counts only while it is up.
    pub fn set_core(&self, up: bool, uptime_secs: Option<u64>) {
        self.core_up.set(i64::from(up));
        let uptime = if up { uptime_secs.unwrap_or(0) } else { 0 };
        self.core_uptime.set(gauge(uptime));
    }

    // --- counted where it happens ---

    /// One call to the core (`call` is a name from the link's fixed set).
    pub fn core_call(&self, call: &'static str, ok: bool, took: Duration) {
        let outcome = if ok { "ok" } else { "error" };
        self.core_calls
            .get_or_create(&CallLabels { call, outcome })
            .inc();
        self.core_call_duration
            .get_or_create(&CallLabel { call })
            .observe(took.as_secs_f64());
    }

    /// A request was queued for the applier.
    pub fn applier_queued(&self) {
        self.applier_queue.inc();
    }

    /// The applier took `n` requests off its queue (or `n` were never queued).
    pub fn applier_dequeued(&self, n: usize) {
        self.applier_queue
            .dec_by(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Times an applier pass until the returned timer is dropped.
    pub fn applier_pass_timer(&self) -> Timer {
        Timer::new(&self.applier_pass)
    }

    pub fn config_written(&self) {
        self.config_writes.inc();
    }

    pub fn config_write_failed(&self) {
        self.config_write_failures.inc();
    }

    /// Connections of removed keys destroyed, and ones that could not be.
    pub fn disconnected(&self, cut: u64, failed: u64) {
        if cut > 0 {
            self.disconnected
                .get_or_create(&OutcomeLabel { outcome: "cut" })
                .inc_by(cut);
        }
        if failed > 0 {
            self.disconnected
                .get_or_create(&OutcomeLabel { outcome: "failed" })
                .inc_by(failed);
        }
    }

    /// A resync finished (`reason`: `start`, `core_restart`, `link_restored`).
    pub fn resynced(&self, reason: &'static str) {
        self.resyncs.get_or_create(&ReasonLabel { reason }).inc();
    }

    pub fn drift_repaired(&self, users: u64) {
        self.drift_repairs.inc_by(users);
    }

    /// Times a traffic cycle until the returned timer is dropped.
    pub fn traffic_cycle_timer(&self) -> Timer {
        Timer::new(&self.traffic_cycle)
    }

    /// One webhook delivery attempt: `delivered`, `retry` (failed, tried again later) or
    /// `failed` (given up on).
    pub fn webhook_attempt(&self, outcome: &'static str) {
        self.webhook_deliveries
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    /// Bytes a cycle accounted to keys.
    pub fn traffic_accounted(&self, uplink: u64, downlink: u64) {
        for (direction, bytes) in [("uplink", uplink), ("downlink", downlink)] {
            self.traffic_bytes
                .get_or_create(&DirectionLabel { direction })
                .inc_by(bytes);
        }
    }

    /// One answered (or refused) socket request. `method` is the client's string: only a
    /// name of the method table becomes a label, anything else is [`UNKNOWN_METHOD`].
    pub fn socket_request(&self, method: &str, ok: bool, took: Duration) {
        let method = method_label(method);
        let outcome = if ok { "ok" } else { "error" };
        self.socket_requests
            .get_or_create(&MethodLabels { method, outcome })
            .inc();
        self.socket_request_duration
            .get_or_create(&MethodLabel { method })
            .observe(took.as_secs_f64());
    }

    /// Counts an open socket connection until the returned guard is dropped.
    pub fn socket_connection(&self) -> Open {
        self.socket_connections.inc();
        Open(self.socket_connections.clone())
    }
}

impl crate::corelink::CallObserver for Metrics {
    fn observe(&self, call: &'static str, ok: bool, took: Duration) {
        self.core_call(call, ok, took);
    }
}

/// The method table's own `&'static str` for `method`, or [`UNKNOWN_METHOD`].
pub fn method_label(method: &str) -> &'static str {
    veil_shared::api::Request::METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or(UNKNOWN_METHOD)
}

fn gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Observes the time since it was made into its histogram when dropped.
#[must_use = "the time is observed when the timer is dropped"]
pub struct Timer {
    histogram: Histogram,
    started: Instant,
}

impl Timer {
    fn new(histogram: &Histogram) -> Self {
        Self {
            histogram: histogram.clone(),
            started: Instant::now(),
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.histogram.observe(self.started.elapsed().as_secs_f64());
    }
}

/// One open socket connection in `veild_socket_connections`, until dropped.
#[must_use = "the connection is counted until the guard is dropped"]
pub struct Open(Gauge);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn every_metric_is_named_with_the_prefix_and_typed() {
        let m = Metrics::new();
        m.core_call("add_user", true, Duration::from_millis(3));
        m.socket_request("key.create", true, Duration::from_millis(1));
        m.resynced("start");
        let text = m.encode().unwrap();
        for (name, kind) in DOCUMENTED {
            let line = format!("# TYPE {name} {kind}\n");
            assert!(text.contains(&line), "{line:?} missing from:\n{text}");
        }
        assert!(text.contains(&format!(
            "veild_build_info{{version=\"{}\"}} 1\n",
            veil_shared::VERSION
        )));
        assert!(text.contains("veild_keys{state=\"over_limit\"} 0\n"));
    }

    #[test]
    fn a_client_string_never_becomes_a_label() {
        let m = Metrics::new();
        m.socket_request("key.create", true, Duration::ZERO);
        m.socket_request("rm -rf /\"}", false, Duration::ZERO);
        m.socket_request("Key.Create", false, Duration::ZERO);
        let text = m.encode().unwrap();
        assert!(
            text.contains("veild_socket_requests_total{method=\"key.create\",outcome=\"ok\"} 1\n")
        );
        assert!(
            text.contains("veild_socket_requests_total{method=\"unknown\",outcome=\"error\"} 2\n")
        );
        assert!(!text.contains("rm -rf"));
        assert!(!text.contains("Key.Create"));
    }

    #[test]
    fn guards_count_and_uncount() {
        let m = Metrics::new();
        let a = m.socket_connection();
        let b = m.socket_connection();
        assert_eq!(m.socket_connections.get(), 2);
        drop(a);
        drop(b);
        assert_eq!(m.socket_connections.get(), 0);
        drop(m.traffic_cycle_timer());
        assert!(
            m.encode()
                .unwrap()
                .contains("veild_traffic_cycle_duration_seconds_count 1\n")
        );
        m.applier_queued();
        m.applier_queued();
        m.applier_dequeued(2);
        assert_eq!(m.applier_queue.get(), 0);
    }

    #[test]
    fn the_core_uptime_counts_only_while_up() {
        let m = Metrics::new();
        m.set_core(true, Some(42));
        assert_eq!((m.core_up.get(), m.core_uptime.get()), (1, 42));
        m.set_core(false, Some(42));
        assert_eq!((m.core_up.get(), m.core_uptime.get()), (0, 0));
    }
}
