#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 12 item 7, webhooks, against the real `veild` and the real core (Debian's v2ray
//! 4.34), with a local receiver (a plain `TcpListener` on loopback in a thread):
//! - a receiver that fails the first attempts gets the event on a later one, with a valid
//!   signature and the same id each time;
//! - veild killed (SIGKILL) after the event was committed and before it was delivered:
//!   after a restart it is delivered exactly once, with its original id;
//! - disabled (manual, and expired by the daemon, announced as expiring first), deleted,
//!   and the core going down and up;
//! - `veil webhook list` and `veil health` show pending, failed and the last error, never
//!   the secret; bad `[[webhook]]` entries stop the start with the key named.
//!
//! Every wait is a bounded poll on a condition.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use support::core_harness::{V2rayServer, free_port};
use support::daemon::{CoreSection, Daemon, DaemonConfig, poll_until, start_refused};
use support::{serial, tempdir};

const SECRET: &str = "whsec-0123456789abcdef-test";
/// Bound for anything veild does by itself.
const CONVERGE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------------------
// The receiver

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Hit {
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// A loopback HTTP receiver answering the n-th request (from 0) with `answer(n)`.
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    fn start(listener: TcpListener, answer: impl Fn(usize) -> u16 + Send + 'static) -> Receiver {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let seen = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(hit) = read_request(&mut stream) else {
                    continue;
                };
                let n = {
                    let mut all = seen.lock().unwrap();
                    all.push(hit);
                    all.len() - 1
                };
                let status = answer(n);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        Receiver { hits }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived.
    fn wait_hits(&self, n: usize, d: &Daemon) -> Vec<Hit> {
        poll_until(CONVERGE, POLL, || {
            let hits = self.hits();
            (hits.len() >= n).then_some(hits)
        })
        .unwrap_or_else(|| {
            panic!(
                "{n} requests not received in time (got {:?})\nlog:\n{}",
                self.hits(),
                d.log_text()
            )
        })
    }

    /// Waits until a request of `kind` arrived that `probe` accepts.
    fn wait_event(&self, kind: &str, d: &Daemon, probe: impl Fn(&Value) -> bool) -> Hit {
        poll_until(CONVERGE, POLL, || {
            self.hits()
                .into_iter()
                .find(|h| h.header("x-veil-event") == kind && probe(&h.json()))
        })
        .unwrap_or_else(|| {
            panic!(
                "no {kind} received in time (got {:#?})\nlog:\n{}",
                self.hits()
                    .iter()
                    .map(|h| h.body.clone())
                    .collect::<Vec<_>>(),
                d.log_text()
            )
        })
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Hit> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers.get("content-length")?.parse().ok()?;
    while raw.len() < head_end + len {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8(raw[head_end..head_end + len].to_vec()).ok()?;
    Some(Hit {
        path,
        headers,
        body,
    })
}

/// Checks the headers and the signature of one delivery exactly as a receiver would.
fn verify(hit: &Hit) {
    assert_eq!(hit.header("content-type"), "application/json", "{hit:?}");
    let body = hit.json();
    assert_eq!(hit.header("x-veil-delivery"), body["id"].as_str().unwrap());
    assert_eq!(hit.header("x-veil-event"), body["type"].as_str().unwrap());
    let sig = hit.header("x-veil-signature");
    let (t, v1) = sig
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("bad signature header {sig:?}"));
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", hit.body).as_bytes());
    let expect: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expect, "signature of {}", hit.body);
    let t: i64 = t.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now - t).abs() < 300,
        "signature time {t} is not now ({now})"
    );
    assert_eq!(hit.path, "/hook?token=q");
}

// ---------------------------------------------------------------------------------------
// Set-up

/// A `[[webhook]]` entry for a receiver on `port`, retrying fast unless `extra` says
/// otherwise.
fn hook(name: &str, port: u16, events: &[&str], extra: &str) -> String {
    let events: Vec<String> = events.iter().map(|e| format!("{e:?}")).collect();
    let retry = if extra.contains("retry_initial") {
        ""
    } else {
        "retry_initial = \"100ms\"\nretry_max = \"400ms\"\n"
    };
    format!(
        "[[webhook]]\nname = \"{name}\"\nurl = \"http://127.0.0.1:{port}/hook?token=q\"\n\
         secret = \"{SECRET}\"\nevents = [{}]\n{retry}timeout = \"2s\"\n{extra}\n",
        events.join(", ")
    )
}

fn start(dir: &std::path::Path, server: &V2rayServer, toml: &str) -> Daemon {
    let cfg = DaemonConfig {
        core: Some(CoreSection::v2fly(&server.api_addr(), server.config_path())),
        extra_toml: toml.to_owned(),
        ..DaemonConfig::default()
    };
    let d = Daemon::start_with(dir, &cfg);
    d.wait_core_up(CONVERGE);
    d
}

/// `veil --json webhook list`, the entry named `name`.
fn listed(d: &Daemon, name: &str) -> Value {
    let page = d.veil_json(&["webhook", "list"]);
    page["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} not listed: {page}"))
}

fn wait_listed(d: &Daemon, name: &str, what: &str, probe: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    poll_until(CONVERGE, POLL, || {
        last = listed(d, name);
        probe(&last).then(|| last.clone())
    })
    .unwrap_or_else(|| panic!("{what} not seen: {last}\nlog:\n{}", d.log_text()))
}

/// `GET /metrics` on loopback.
fn get_metrics(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

fn free_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

// ---------------------------------------------------------------------------------------
// Tests

#[test]
fn a_failing_receiver_gets_the_event_on_a_later_attempt_with_the_same_id() {
    let _serial = serial();
    let rt = support::runtime();
    let dir = tempdir();
    let server = rt.block_on(V2rayServer::start(dir.path(), &[]));
    let listener = free_listener();
    let port = listener.local_addr().unwrap().port();
    let receiver = Receiver::start(listener, |n| if n < 2 { 500 } else { 200 });
    let d = start(
        dir.path(),
        &server,
        &hook("billing", port, &["key.created"], ""),
    );

    let key = d.veil_json(&["key", "add", "bob"]);
    receiver.wait_hits(3, &d);
    let done = wait_listed(&d, "billing", "delivered", |w| {
        w["pending"] == 0 && w["delivered"] == 1
    });
    let hits = receiver.hits();
    assert_eq!(hits.len(), 3, "two refusals then the delivery: {hits:#?}");
    let id = hits[0].header("x-veil-delivery").to_owned();
    for hit in &hits {
        verify(hit);
        assert_eq!(
            hit.header("x-veil-delivery"),
            id,
            "one id for every attempt"
        );
        assert_eq!(hit.header("x-veil-event"), "key.created");
        let body = hit.json();
        assert_eq!(body["type"], "key.created");
        assert_eq!(body["data"]["key"]["id"], key["id"]);
        assert_eq!(body["data"]["key"]["uuid"], key["uuid"]);
        assert!(body["created_at"].as_i64().unwrap() > 1_700_000_000);
        assert_eq!(body["data"]["actor"]["kind"], "peer", "{body}");
    }
    assert_eq!(done["last_error"], Value::Null, "{done}");
    assert!(done["last_success_at"].as_i64().is_some(), "{done}");
}

#[test]
fn an_event_committed_before_a_kill_is_delivered_once_after_the_restart() {
    let _serial = serial();
    let rt = support::runtime();
    let dir = tempdir();
    let server = rt.block_on(V2rayServer::start(dir.path(), &[]));
    // The receiver is down: nothing listens on its port.
    let port = free_port();
    let mut d = start(
        dir.path(),
        &server,
        &hook("billing", port, &["key.created"], ""),
    );
    let key = d.veil_json(&["key", "add", "carol"]);
    let row = wait_listed(&d, "billing", "a failed attempt", |w| {
        w["pending"] == 1 && w["last_error"].is_string()
    });
    assert!(
        row["last_error"].as_str().unwrap().contains("onnect"),
        "{row}"
    );
    let id: String = {
        let db = rusqlite::Connection::open_with_flags(
            &d.database,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        db.query_row("SELECT id FROM webhook_events", [], |r| r.get(0))
            .unwrap()
    };
    d.kill9();

    // The receiver comes up (on the same port), then veild.
    let listener = poll_until(CONVERGE, POLL, || {
        TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).ok()
    })
    .expect("the receiver's port is free again");
    let receiver = Receiver::start(listener, |_| 200);
    d.restart();
    let hits = receiver.wait_hits(1, &d);
    wait_listed(&d, "billing", "delivered", |w| {
        w["pending"] == 0 && w["delivered"] == 1
    });
    // Delivered: nothing more is sent. The queue's state is committed before this check.
    let hits_after = receiver.hits();
    assert_eq!(hits_after.len(), 1, "exactly once: {hits_after:#?}");
    verify(&hits[0]);
    assert_eq!(hits[0].header("x-veil-delivery"), id, "the original id");
    assert_eq!(hits[0].json()["data"]["key"]["id"], key["id"]);
    d.stop();
}

#[test]
fn disabled_with_reasons_deleted_expiring_and_core_transitions_are_sent() {
    let _serial = serial();
    let rt = support::runtime();
    let dir = tempdir();
    let mut server = rt.block_on(V2rayServer::start(dir.path(), &[]));
    let listener = free_listener();
    let port = listener.local_addr().unwrap().port();
    let receiver = Receiver::start(listener, |_| 204);
    let toml = format!(
        "{}[traffic]\ninterval_ms = 200\n",
        hook(
            "ops",
            port,
            &[
                "key.disabled",
                "key.deleted",
                "key.expiring",
                "core.down",
                "core.up"
            ],
            "expiry_warning = \"1h\"\n"
        )
    );
    let d = start(dir.path(), &server, &toml);

    // Manual.
    d.veil_json(&["key", "add", "dave"]);
    d.veil_json(&["key", "disable", "dave"]);
    let manual = receiver.wait_event("key.disabled", &d, |b| b["data"]["key"]["name"] == "dave");
    verify(&manual);
    let body = manual.json();
    assert_eq!(body["data"]["reason"], "manual", "{body}");
    assert_eq!(body["data"]["key"]["state"], "disabled");
    assert_eq!(body["data"]["actor"]["kind"], "peer", "{body}");

    // Expiring (at once: it expires within the hour), then expired by the daemon.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    d.call("key.create", json!({"name": "erin", "expires_at": now + 3}));
    let expiring = receiver.wait_event("key.expiring", &d, |b| b["data"]["key"]["name"] == "erin");
    verify(&expiring);
    assert_eq!(expiring.json()["data"]["expires_at"], now + 3);
    let expired = receiver.wait_event("key.disabled", &d, |b| b["data"]["key"]["name"] == "erin");
    let body = expired.json();
    assert_eq!(body["data"]["reason"], "expired", "{body}");
    assert_eq!(body["data"]["actor"]["kind"], "daemon", "{body}");

    // Deleted.
    d.veil_json(&["key", "rm", "dave"]);
    let deleted = receiver.wait_event("key.deleted", &d, |b| b["data"]["key"]["name"] == "dave");
    verify(&deleted);
    assert_eq!(deleted.json()["data"]["key"]["state"], "deleted");

    // The core goes down and comes back.
    server.kill9();
    let down = receiver.wait_event("core.down", &d, |_| true);
    verify(&down);
    rt.block_on(server.start_again());
    let up = receiver.wait_event("core.up", &d, |_| true);
    verify(&up);
    // Kinds not asked for were not sent (key.created, key.enabled).
    for hit in receiver.hits() {
        assert_ne!(hit.header("x-veil-event"), "key.created");
    }
    // Each event once: ids are unique, and the warning came once for all the cycles since.
    let hits = receiver.hits();
    let warnings = hits
        .iter()
        .filter(|h| h.header("x-veil-event") == "key.expiring")
        .count();
    assert_eq!(warnings, 1, "{hits:#?}");
    let ids: std::collections::BTreeSet<&str> =
        hits.iter().map(|h| h.header("x-veil-delivery")).collect();
    assert_eq!(ids.len(), hits.len(), "{hits:#?}");
}

#[test]
fn webhook_list_and_health_show_pending_failed_and_the_last_error() {
    let _serial = serial();
    let rt = support::runtime();
    let dir = tempdir();
    let server = rt.block_on(V2rayServer::start(dir.path(), &[]));
    let listener = free_listener();
    let port = listener.local_addr().unwrap().port();
    let _receiver = Receiver::start(listener, |_| 500);
    let down_port = free_port();
    let metrics_port = free_port();
    let toml = format!(
        "[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n{}{}",
        hook("refuses", port, &["*"], "max_attempts = 2\n"),
        hook(
            "unreachable",
            down_port,
            &["key.created"],
            "retry_initial = \"1h\"\nretry_max = \"2h\"\n"
        )
    );
    let d = start(dir.path(), &server, &toml);
    d.veil_json(&["key", "add", "frank"]);
    let refused = wait_listed(&d, "refuses", "failed", |w| {
        w["failed"] == 1 && w["pending"] == 0
    });
    assert_eq!(refused["delivered"], 0);
    assert!(
        refused["last_error"].as_str().unwrap().contains("500"),
        "{refused}"
    );
    assert_eq!(refused["url"], format!("http://127.0.0.1:{port}/hook"));
    assert_eq!(refused["events"], json!(["*"]));
    let waiting = wait_listed(&d, "unreachable", "pending", |w| {
        w["pending"] == 1 && w["last_error"].is_string()
    });
    assert_eq!(waiting["failed"], 0);

    let health = d.health();
    let hooks = health["webhooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 2, "{health}");
    assert_eq!(hooks[0]["name"], "refuses");
    assert_eq!(hooks[0]["failed"], 1);
    assert_eq!(hooks[1]["pending"], 1);

    // The metric counts the attempts: one retry, then the one given up on.
    let scrape = get_metrics(metrics_port);
    assert!(
        scrape.contains("veild_webhook_deliveries_total{outcome=\"failed\"} 1\n"),
        "{scrape}"
    );
    assert!(
        scrape.contains("veild_webhook_deliveries_total{outcome=\"retry\"}"),
        "{scrape}"
    );

    let (code, text, _) = d.veil(&["webhook", "list"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("refuses") && text.contains("unreachable"),
        "{text}"
    );
    assert!(text.contains("last error"), "{text}");
    let (_, health_text, _) = d.veil(&["health"]);
    assert!(health_text.contains("webhook:"), "{health_text}");
    assert!(health_text.contains("1 failed"), "{health_text}");
    // The secret and the URL's query never show.
    for shown in [text, health_text, health.to_string(), d.log_text()] {
        assert!(!shown.contains(SECRET), "secret leaked: {shown}");
        assert!(!shown.contains("token=q"), "query leaked: {shown}");
    }
}

#[test]
fn bad_webhook_entries_stop_the_start_naming_the_key() {
    let _serial = serial();
    let cases = [
        (
            "[[webhook]]\nurl = \"ftp://x/y\"\nsecret = \"0123456789abcdef\"\n",
            "webhook.url",
        ),
        (
            "[[webhook]]\nurl = \"http://127.0.0.1:9/h\"\n",
            "webhook.secret",
        ),
        (
            "[[webhook]]\nurl = \"http://127.0.0.1:9/h\"\nsecret = \"0123456789abcdef\"\nevents = [\"key.made\"]\n",
            "webhook.events",
        ),
        (
            "[[webhook]]\nurl = \"http://127.0.0.1:9/h\"\nsecret = \"0123456789abcdef\"\nretries = 3\n",
            "retries",
        ),
    ];
    for (toml, key) in cases {
        let dir = tempdir();
        let err = start_refused(dir.path(), toml, CONVERGE);
        assert!(err.contains(key), "{toml}: {err}");
        assert!(!err.contains("0123456789abcdef"), "secret leaked: {err}");
    }
}
