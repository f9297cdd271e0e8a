//! The `/metrics` endpoint (`[metrics] listen`) of the real `veild` on the real core
//! (Debian's v2ray 4.34), scraped over TCP like Prometheus does:
//! - the text parses, every sample belongs to a family with a `# TYPE` line, and every
//!   metric veild documents is there with its type;
//! - a key created through the socket and a real download through it move the figures:
//!   active keys, socket requests, core calls, config writes, traffic cycles and bytes;
//! - a client's method name never becomes a label; anything but `GET /metrics` is a 404;
//! - a bad or busy address stops veild at start with the setting named.
//!
//! Every wait is a bounded poll on a condition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use support::core_harness::{HttpFileServer, V2rayClient, V2rayServer, free_port, test_bytes};
use support::daemon::{CoreSection, Daemon, DaemonConfig, poll_until, start_refused, veild_bin};
use support::{serial, tempdir, uuid_of};

/// Bound for anything veild does after a request (a cycle, a pass, a download).
const CONVERGE: Duration = Duration::from_secs(60);
const BODY_LEN: usize = 256 * 1024;

/// Every metric veild documents, with its type as the text format names it.
const EXPECTED: [(&str, &str); 20] = veild::metrics::DOCUMENTED;

// ---------------------------------------------------------------------------------------
// A tiny HTTP/1.1 client and a parser of the text format

struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

/// One request on a fresh TCP connection; the server closes it after answering.
fn http(addr: SocketAddr, method: &str, path: &str) -> Answer {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    let text = String::from_utf8(raw).expect("a UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
    let mut lines = head.lines();
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

type Labels = BTreeMap<String, String>;

/// A parsed exposition: each family's type, and every sample.
struct Exposition {
    types: BTreeMap<String, String>,
    samples: Vec<(String, Labels, f64)>,
}

impl Exposition {
    /// Parses the Prometheus text format 0.0.4, checking as it goes that every sample
    /// belongs to a family announced by a `# TYPE` line before it.
    fn parse(text: &str) -> Exposition {
        let mut types = BTreeMap::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if line.is_empty() || line.starts_with("# HELP ") {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE NAME KIND");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "unknown type in {line:?}"
                );
                let before = types.insert(name.to_owned(), kind.to_owned());
                assert!(before.is_none(), "{name} typed twice");
                continue;
            }
            assert!(!line.starts_with('#'), "unexpected comment {line:?}");
            let (name, labels, value) = parse_sample(line);
            let family = family_of(&types, &name)
                .unwrap_or_else(|| panic!("sample {name} has no # TYPE line before it"));
            assert!(family.starts_with("veild_"), "{family} lacks the prefix");
            samples.push((name, labels, value));
        }
        Exposition { types, samples }
    }

    /// The sum of the samples named `name` whose labels include every pair of `having`.
    fn sum(&self, name: &str, having: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, labels, _)| {
                n == name
                    && having
                        .iter()
                        .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| v)
            .sum()
    }

    fn has(&self, name: &str, having: &[(&str, &str)]) -> bool {
        self.samples.iter().any(|(n, labels, _)| {
            n == name
                && having
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
    }
}

/// The family a sample belongs to: its own name, or a histogram's for `_bucket`, `_sum`
/// and `_count`.
fn family_of(types: &BTreeMap<String, String>, name: &str) -> Option<String> {
    if types.contains_key(name) {
        return Some(name.to_owned());
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = name.strip_suffix(suffix)?;
        (types.get(base).map(String::as_str) == Some("histogram")).then(|| base.to_owned())
    })
}

/// `name{k="v",…} value`, label values unescaped.
fn parse_sample(line: &str) -> (String, Labels, f64) {
    let name_end = line.find(['{', ' ']).expect("a sample line");
    let name = &line[..name_end];
    assert!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
        "bad metric name in {line:?}"
    );
    let mut labels = Labels::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut key = String::new();
        loop {
            let (i, c) = chars.next().expect("unterminated label set");
            match c {
                '}' => {
                    rest = &inner[i + 1..];
                    break;
                }
                ',' => {}
                '=' => {
                    assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "in {line:?}");
                    let mut value = String::new();
                    loop {
                        match chars.next().expect("unterminated label value").1 {
                            '"' => break,
                            '\\' => match chars.next().expect("escape").1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            other => value.push(other),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                other => key.push(other),
            }
        }
    }
    let value = rest.trim();
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse()
            .unwrap_or_else(|e| panic!("bad value in {line:?}: {e}")),
    };
    (name.to_owned(), labels, value)
}

/// Scrapes `/metrics`, checking the answer's status and content type.
fn scrape(addr: SocketAddr) -> Exposition {
    let answer = http(addr, "GET", "/metrics");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.headers.get("content-type").map(String::as_str),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    Exposition::parse(&answer.body)
}

// ---------------------------------------------------------------------------------------

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario: scrape, act through the socket and a client, scrape again"
)]
fn a_key_and_a_download_move_the_figures_a_scrape_reads() {
    let _serial = serial();
    let dir = tempdir();
    let rt = support::runtime();
    let server = rt.block_on(V2rayServer::start(dir.path(), &[]));
    let files = HttpFileServer::start(test_bytes(BODY_LEN, 7));
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            core: Some(CoreSection::v2fly(&server.api_addr(), server.config_path())),
            extra_toml: format!("\n[metrics]\nlisten = \"{addr}\"\n"),
            ..DaemonConfig::default()
        },
    );
    d.wait_core_up(CONVERGE);

    let before = scrape(addr);
    for (name, kind) in EXPECTED {
        assert_eq!(
            before.types.get(name).map(String::as_str),
            Some(kind),
            "{name} should be a {kind}"
        );
    }
    assert!(before.has(
        "veild_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))]
    ));
    assert_eq!(before.sum("veild_core_up", &[]), 1.0);
    assert!(before.sum("veild_core_uptime_seconds", &[]) >= 0.0);
    for state in ["active", "disabled", "expired", "over_limit", "deleted"] {
        assert!(before.has("veild_keys", &[("state", state)]), "{state}");
    }
    // The health watcher's polls already talked to the core.
    assert!(
        before.sum(
            "veild_core_calls_total",
            &[("call", "sys_stats"), ("outcome", "ok")]
        ) >= 1.0
    );

    // Through the socket: a key (the core gets it), a method that does not exist.
    let key = d.call("key.create", json!({"name": "metered"}));
    assert_eq!(key["pending"], false, "the core is up: {key}");
    let mut raw = d.raw();
    let refused = raw.request("no.such\"method", json!({}));
    assert!(refused.get("error").is_some(), "{refused}");

    // A real download through the key, then cycles until the bytes are accounted.
    let client = V2rayClient::start(dir.path(), server.vless_port(), &uuid_of(&key));
    let (body, _) = client
        .fetch_until(&files.url(), Instant::now() + CONVERGE)
        .unwrap_or_else(|e| panic!("download failed: {e:#}\nveild log:\n{}", d.log_text()));
    assert_eq!(body.len(), BODY_LEN);
    let downlink = ("direction", "downlink");
    let downlink_before = before.sum("veild_traffic_bytes_total", &[downlink]);
    // The config file follows a create within core.file_delay_ms.
    d.wait_no_pending(CONVERGE);
    let after = poll_until(CONVERGE, Duration::from_millis(100), || {
        d.call("traffic.sync", json!({}));
        let now = scrape(addr);
        let moved = now.sum("veild_traffic_bytes_total", &[downlink]) - downlink_before;
        (moved >= BODY_LEN as f64 && now.sum("veild_keys_pending", &[]) == 0.0).then_some(now)
    })
    .unwrap_or_else(|| panic!("the download never showed in the metrics\n{}", d.log_text()));

    let delta =
        |name: &str, having: &[(&str, &str)]| after.sum(name, having) - before.sum(name, having);
    assert_eq!(delta("veild_keys", &[("state", "active")]), 1.0);
    assert_eq!(after.sum("veild_keys_pending", &[]), 0.0);
    assert!(delta("veild_socket_requests_total", &[]) >= 3.0);
    assert_eq!(
        delta(
            "veild_socket_requests_total",
            &[("method", "key.create"), ("outcome", "ok")]
        ),
        1.0
    );
    assert!(delta("veild_socket_requests_total", &[("method", "traffic.sync")]) >= 1.0);
    assert!(
        delta(
            "veild_socket_requests_total",
            &[("method", "unknown"), ("outcome", "error")]
        ) >= 1.0
    );
    assert!(
        after
            .samples
            .iter()
            .all(|(_, labels, _)| labels.values().all(|v| !v.contains("no.such"))),
        "a client's method name became a label"
    );
    assert!(
        delta(
            "veild_socket_request_duration_seconds_count",
            &[("method", "key.create")]
        ) >= 1.0
    );
    assert!(
        delta(
            "veild_core_calls_total",
            &[("call", "add_user"), ("outcome", "ok")]
        ) >= 1.0
    );
    assert!(
        delta(
            "veild_core_calls_total",
            &[("call", "query_stats"), ("outcome", "ok")]
        ) >= 1.0
    );
    assert!(
        delta(
            "veild_core_call_duration_seconds_count",
            &[("call", "add_user")]
        ) >= 1.0
    );
    assert!(delta("veild_core_config_writes_total", &[]) >= 1.0);
    assert_eq!(
        after.sum("veild_core_resyncs_total", &[("reason", "start")]),
        1.0
    );
    assert_eq!(
        after.sum("veild_core_config_write_failures_total", &[]),
        0.0
    );
    assert!(delta("veild_applier_pass_duration_seconds_count", &[]) >= 1.0);
    assert!(delta("veild_traffic_cycle_duration_seconds_count", &[]) >= 1.0);
    assert!(after.sum("veild_applier_queue_depth", &[]) >= 0.0);
    assert!(
        after.sum("veild_socket_connections", &[]) >= 1.0,
        "the raw client's is open"
    );
    // A histogram's buckets are cumulative and end at +Inf with the count.
    let inf = after.sum(
        "veild_traffic_cycle_duration_seconds_bucket",
        &[("le", "+Inf")],
    );
    assert_eq!(
        inf,
        after.sum("veild_traffic_cycle_duration_seconds_count", &[])
    );
    drop(raw);

    // Anything but GET /metrics is a 404.
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/metrics/x"),
        ("POST", "/metrics"),
        ("HEAD", "/metrics"),
        ("DELETE", "/metrics"),
    ] {
        assert_eq!(http(addr, method, path).status, 404, "{method} {path}");
    }
    // A request with a query string is still a scrape.
    assert_eq!(http(addr, "GET", "/metrics?x=1").status, 200);
}

#[test]
fn a_bad_or_busy_metrics_address_stops_veild_at_start_naming_the_setting() {
    let _serial = serial();
    let dir = tempdir();
    // Refused by the config check: not an address.
    let config = Daemon::write_config(
        dir.path(),
        &DaemonConfig {
            extra_toml: "\n[metrics]\nlisten = \"localhost:8390\"\n".into(),
            ..DaemonConfig::default()
        },
    );
    let out = Command::new(veild_bin())
        .arg("--check")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("metrics.listen = \"localhost:8390\""),
        "{stderr}"
    );

    // Valid, but taken by someone else: veild stops before serving.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap();
    let stderr = start_refused(
        dir.path(),
        &format!("\n[metrics]\nlisten = \"{busy}\"\n"),
        CONVERGE,
    );
    assert!(
        stderr.contains(&format!("metrics.listen = \"{busy}\": cannot listen")),
        "{stderr}"
    );
    assert!(!dir.path().join("veil.sock").exists(), "it never served");
    drop(taken);
}

#[test]
fn the_grafana_dashboard_names_only_metrics_veild_exports() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/grafana/veild.json");
    let text = std::fs::read_to_string(path).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(dashboard["__inputs"][0]["name"], "DS_PROMETHEUS");
    let exported: Vec<&str> = EXPECTED.iter().map(|(name, _)| *name).collect();
    let mut named = 0;
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if !word.starts_with("veild_") {
            continue;
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| word.strip_suffix(s))
            .filter(|base| exported.contains(base))
            .unwrap_or(word);
        assert!(exported.contains(&family), "the dashboard names {word}");
        named += 1;
    }
    assert!(named >= 15, "only {named} metric names in the dashboard");
}

#[test]
fn idle_connections_are_cut_and_cannot_starve_a_scrape_for_long() {
    let _serial = serial();
    let dir = tempdir();
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            extra_toml: format!("\n[metrics]\nlisten = \"{addr}\"\n"),
            ..DaemonConfig::default()
        },
    );
    // A greedy local user takes every slot (16) and sends nothing.
    let started = Instant::now();
    let mut idle: Vec<TcpStream> = (0..16)
        .map(|_| {
            let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            s
        })
        .collect();
    // A scrape still gets through once the idle ones are cut (5 s for a request head).
    let scraper = std::thread::spawn(move || {
        let exposition = scrape(addr);
        (exposition.sum("veild_core_up", &[]), Instant::now())
    });
    for s in &mut idle {
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest); // EOF or reset: closed either way
    }
    let cut = started.elapsed();
    assert!(
        cut < Duration::from_secs(25),
        "idle connections lasted {cut:?}"
    );
    let (core_up, at) = scraper.join().unwrap();
    assert_eq!(core_up, 0.0, "this daemon has no core");
    // It waited for a slot: the cap held.
    let waited = at - started;
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(25),
        "the scrape took {waited:?}"
    );
    assert!(d.is_running());
}
