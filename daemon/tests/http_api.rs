//! The HTTP API (`[http] listen`) of the real `veild` on the real core (Debian's v2ray
//! 4.34), over real HTTP/1.1 on loopback, with tokens made by `veil token add`:
//! - every route, naming keys by id, by UUID and by a Unicode name (percent-encoded);
//!   `Location` on create, `202`/`pending` semantics, the one error shape and its statuses;
//! - tokens: missing, wrong, read-only, revoked and expired ones; failed attempts limited;
//! - limits: the 11th create in a minute from one address is 429 with `Retry-After` while
//!   `GET /health` still answers; `X-Forwarded-For` from an untrusted peer is ignored; a
//!   create shows in `veil audit` with the token's name and the client's address;
//! - browsers: a preflight from an origin not listed gets no allow headers; a body over the
//!   cap is 413.
//!
//! Every wait is a bounded poll on a condition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};
use support::core_harness::{V2rayServer, free_port};
use support::daemon::{CoreSection, Daemon, DaemonConfig, poll_until, start_refused};
use support::{serial, tempdir};

/// Bound for anything veild does after a request.
const CONVERGE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// A small HTTP/1.1 client

struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The error code of an error answer.
    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code: {} {}", self.status, self.body))
            .to_owned()
    }
}

/// One request on a fresh connection (`Connection: close`).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    if let Some(body) = body {
        // The server may answer (413) and close before reading it all.
        let _ = stream.write_all(body.as_bytes());
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8(raw).expect("a UTF-8 answer");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header block in {text:?}"));
    let mut lines = head.lines();
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = BTreeMap::new();
    for (k, v) in lines.filter_map(|l| l.split_once(':')) {
        headers
            .entry(k.trim().to_ascii_lowercase())
            .and_modify(|old: &mut String| {
                old.push_str(", ");
                old.push_str(v.trim());
            })
            .or_insert_with(|| v.trim().to_owned());
    }
    let body = if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    for _ in 0..10_000 {
        let Some((size, after)) = rest.split_once("\r\n") else {
            break;
        };
        let size = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    out
}

/// Every byte but the unreserved ones as `%XX`.
fn pct(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// A daemon with the API on

struct Env {
    d: Daemon,
    addr: SocketAddr,
    _server: V2rayServer,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Env {
    /// veild on a real core with `[http]` listening on a free port plus `extra` lines.
    fn start(extra: &str) -> Env {
        let dir = tempdir();
        let rt = support::runtime();
        let server = rt.block_on(V2rayServer::start(dir.path(), &[]));
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let d = Daemon::start_with(
            dir.path(),
            &DaemonConfig {
                core: Some(CoreSection::v2fly(&server.api_addr(), server.config_path())),
                extra_toml: format!("\n[http]\nlisten = \"{addr}\"\n{extra}\n"),
                ..DaemonConfig::default()
            },
        );
        d.wait_core_up(CONVERGE);
        Env {
            d,
            addr,
            _server: server,
            _rt: rt,
            _dir: dir,
        }
    }

    /// `veil token add NAME ARGS…`: the secret it printed, once.
    fn token(&self, name: &str, args: &[&str]) -> String {
        let mut full = vec!["token", "add", name];
        full.extend_from_slice(args);
        let (code, out, err) = self.d.veil(&full);
        assert_eq!(code, 0, "veil token add: {err}");
        assert!(out.contains("not shown again"), "{out}");
        out.lines()
            .find(|l| l.starts_with("veil_"))
            .unwrap_or_else(|| panic!("no secret in {out}"))
            .to_owned()
    }

    fn call(&self, secret: &str, method: &str, path: &str, body: Option<&str>) -> Answer {
        let bearer = format!("Bearer {secret}");
        let answer = http(self.addr, method, path, &[("Authorization", &bearer)], body);
        if path.starts_with("/api/") {
            assert_eq!(answer.header("cache-control"), Some("no-store"), "{path}");
            assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        }
        answer
    }
}

/// A change answered: 200 when live, 202 while pending (the key says which).
fn assert_changed(a: &Answer, what: &str) -> Value {
    let key = a.json();
    let expected = if key["pending"] == true { 202 } else { 200 };
    assert_eq!(a.status, expected, "{what}: {}", a.body);
    key
}

// ---------------------------------------------------------------------------------------

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario: every route, by each kind of key reference"
)]
fn every_route_answers_by_id_uuid_and_unicode_name() {
    let _serial = serial();
    let env = Env::start("create_delete_per_minute = 1000\nrate_per_minute = 10000\n");
    let token = env.token("admin", &[]);

    let health = http(env.addr, "GET", "/health", &[], None);
    assert_eq!(health.status, 200, "{}", health.body);
    let h = health.json();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["core"]["status"], "up");
    assert_eq!(h["database"]["ok"], true);
    assert!(
        !health.body.contains("/"),
        "no paths in /health: {}",
        health.body
    );

    // One key per kind of reference, and a bulk of three.
    let names = ["by-id", "by-uuid", "Маша 🦊 ключ"];
    let mut keys = Vec::new();
    for name in names {
        let body = json!({"name": name, "note": "made over HTTP"}).to_string();
        let a = env.call(&token, "POST", "/api/keys", Some(&body));
        let key = a.json();
        let expected = if key["pending"] == true { 202 } else { 201 };
        assert_eq!(a.status, expected, "{}", a.body);
        assert_eq!(key["name"], name);
        let id = key["id"].as_i64().unwrap();
        assert_eq!(
            a.header("location"),
            Some(format!("/api/keys/{id}").as_str())
        );
        keys.push(key);
    }
    let bulk = env.call(
        &token,
        "POST",
        "/api/keys",
        Some(&json!({"count": 3, "prefix": "bulk"}).to_string()),
    );
    assert!([201, 202].contains(&bulk.status), "{}", bulk.body);
    assert_eq!(bulk.json()["keys"].as_array().unwrap().len(), 3);

    for (kind, key) in ["id", "uuid", "name"].into_iter().zip(&keys) {
        let id = key["id"].as_i64().unwrap();
        let mut r = match kind {
            "id" => id.to_string(),
            "uuid" => key["uuid"].as_str().unwrap().to_owned(),
            _ => pct(key["name"].as_str().unwrap()),
        };
        let at = |r: &str, tail: &str| format!("/api/keys/{r}{tail}");

        let got = env.call(&token, "GET", &at(&r, ""), None);
        assert_eq!(got.status, 200, "{kind}: {}", got.body);
        assert_eq!(got.json()["id"], id, "{kind}");

        let patched = env.call(&token, "PATCH", &at(&r, ""), Some(r#"{"note": "changed"}"#));
        assert_eq!(assert_changed(&patched, kind)["note"], "changed");

        let link = env.call(&token, "GET", &at(&r, "/link"), None);
        assert_eq!(link.status, 200, "{kind}: {}", link.body);
        assert!(
            link.json()["link"]
                .as_str()
                .unwrap()
                .starts_with("vless://")
        );

        let config = env.call(&token, "GET", &at(&r, "/config?socks_port=1080"), None);
        assert_eq!(config.status, 200, "{kind}: {}", config.body);
        assert!(config.json()["config"].is_object());

        let traffic = env.call(&token, "GET", &at(&r, "/traffic"), None);
        assert_eq!(traffic.status, 200, "{kind}: {}", traffic.body);

        let off = env.call(&token, "POST", &at(&r, "/disable"), None);
        assert_eq!(assert_changed(&off, kind)["state"], "disabled");
        let on = env.call(&token, "POST", &at(&r, "/enable"), None);
        assert_eq!(assert_changed(&on, kind)["state"], "active");

        let reset = env.call(&token, "POST", &at(&r, "/reset"), None);
        assert_eq!(reset.status, 200, "{kind}: {}", reset.body);

        let rotated = env.call(&token, "POST", &at(&r, "/rotate"), None);
        let rotated = assert_changed(&rotated, kind);
        assert_ne!(rotated["uuid"], key["uuid"], "{kind}");
        if kind == "uuid" {
            r = rotated["uuid"].as_str().unwrap().to_owned();
        }

        let audit = env.call(&token, "GET", &format!("/api/audit?key={r}&limit=50"), None);
        assert_eq!(audit.status, 200, "{kind}: {}", audit.body);
        let entries = audit.json()["entries"].as_array().unwrap().clone();
        assert!(entries.len() >= 6, "{kind}: {entries:?}");
        assert!(entries.iter().all(|e| e["actor"]["kind"] == "token"));

        let deleted = env.call(&token, "DELETE", &at(&r, ""), None);
        assert_eq!(assert_changed(&deleted, kind)["state"], "deleted");
    }

    let list = env.call(&token, "GET", "/api/keys?search=bulk&limit=2", None);
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json()["total"], 3);
    assert_eq!(list.json()["keys"].as_array().unwrap().len(), 2);
    let deleted = env.call(&token, "GET", "/api/keys?state=deleted", None);
    assert_eq!(deleted.json()["total"], 3);
    let traffic = env.call(&token, "GET", "/api/traffic?sort=usage", None);
    assert_eq!(traffic.status, 200, "{}", traffic.body);
    let sync = env.call(&token, "POST", "/api/traffic/sync", None);
    assert_eq!(sync.status, 200, "{}", sync.body);
    let audit = env.call(&token, "GET", "/api/audit", None);
    assert_eq!(audit.status, 200, "{}", audit.body);

    // The OpenAPI document, without a token, names every route used above.
    let doc = http(env.addr, "GET", "/api/openapi.json", &[], None);
    assert_eq!(doc.status, 200, "{}", doc.body);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for (method, path) in [
        ("get", "/health"),
        ("get", "/api/keys"),
        ("post", "/api/keys"),
        ("get", "/api/keys/{ref}"),
        ("patch", "/api/keys/{ref}"),
        ("delete", "/api/keys/{ref}"),
        ("post", "/api/keys/{ref}/disable"),
        ("post", "/api/keys/{ref}/enable"),
        ("post", "/api/keys/{ref}/rotate"),
        ("post", "/api/keys/{ref}/reset"),
        ("get", "/api/keys/{ref}/link"),
        ("get", "/api/keys/{ref}/config"),
        ("get", "/api/keys/{ref}/traffic"),
        ("get", "/api/traffic"),
        ("post", "/api/traffic/sync"),
        ("get", "/api/audit"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }

    // The subscriptions are served by the same listener, without an API token; an unknown
    // subscription token is a bare 404.
    let sub = http(
        env.addr,
        "GET",
        "/sub/0123456789abcdef0123456789abcdef",
        &[],
        None,
    );
    assert_eq!(sub.status, 404, "{}", sub.body);

    // Errors: one shape, the socket's codes, fitting statuses.
    for (method, path, body, status, code) in [
        ("GET", "/api/keys/999999", None, 404, "not_found"),
        ("GET", "/api/keys/0", None, 404, "not_found"),
        ("GET", "/api/keys/%FF%FE", None, 400, "invalid_input"),
        ("GET", "/api/keys?bogus=1", None, 400, "invalid_input"),
        ("GET", "/api/keys?state=frozen", None, 400, "invalid_input"),
        (
            "POST",
            "/api/keys",
            Some(r#"{"name": ""}"#),
            422,
            "invalid_input",
        ),
        (
            "POST",
            "/api/keys",
            Some(r#"{"name": "x", "bogus": 1}"#),
            422,
            "invalid_input",
        ),
        (
            "POST",
            "/api/keys",
            Some(r#"{"name": "bulk-1"}"#),
            409,
            "conflict",
        ),
        ("POST", "/api/keys", Some("{not json"), 400, "invalid_input"),
        ("POST", "/api/keys", Some("[1]"), 400, "invalid_input"),
        (
            "PATCH",
            "/api/keys/bulk-2",
            Some(r#"{"key": 1}"#),
            422,
            "invalid_input",
        ),
        ("GET", "/api/nowhere", None, 404, "not_found"),
        ("PUT", "/api/keys", None, 405, "method_not_allowed"),
    ] {
        let a = env.call(&token, method, path, body);
        assert_eq!(
            (a.status, a.code().as_str()),
            (status, code),
            "{method} {path}: {}",
            a.body
        );
    }
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one daemon: each kind of bad token, then CORS, body cap and failure limits"
)]
fn tokens_are_checked_and_browsers_kept_out() {
    let _serial = serial();
    let env = Env::start(
        "cors_origins = [\"https://admin.example\"]\nmax_body_bytes = 2048\nrate_per_minute = 10000\n",
    );
    let admin = env.token("admin", &[]);
    let reader = env.token("reader", &["--read-only"]);
    let gone = env.token("gone", &["--expires", "30d"]);

    // Missing and wrong tokens.
    let missing = http(env.addr, "GET", "/api/keys", &[], None);
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (401, "unauthorized")
    );
    assert!(missing.header("www-authenticate").is_some());
    let wrong = env.call(
        "veil_0000000000000000000000000000000000000000000000000000000000000000",
        "GET",
        "/api/keys",
        None,
    );
    assert_eq!((wrong.status, wrong.code().as_str()), (401, "unauthorized"));
    let basic = http(
        env.addr,
        "GET",
        "/api/keys",
        &[("Authorization", &format!("Basic {admin}"))],
        None,
    );
    assert_eq!(basic.status, 401);

    // Good ones, by either header.
    assert_eq!(env.call(&admin, "GET", "/api/keys", None).status, 200);
    let by_key = http(env.addr, "GET", "/api/keys", &[("X-API-Key", &admin)], None);
    assert_eq!(by_key.status, 200, "{}", by_key.body);

    // Read-only: reads yes, changes no.
    assert_eq!(env.call(&reader, "GET", "/api/keys", None).status, 200);
    for (method, path, body) in [
        ("POST", "/api/keys", Some(r#"{"name": "nope"}"#)),
        ("POST", "/api/traffic/sync", None),
        ("DELETE", "/api/keys/1", None),
    ] {
        let a = env.call(&reader, method, path, body);
        assert_eq!(
            (a.status, a.code().as_str()),
            (403, "forbidden"),
            "{method} {path}"
        );
    }

    // Revoked.
    assert_eq!(env.call(&gone, "GET", "/api/keys", None).status, 200);
    let (code, out, err) = env.d.veil(&["token", "revoke", "gone"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("revoked"), "{out}");
    assert_eq!(env.call(&gone, "GET", "/api/keys", None).status, 401);

    // Expired: a token that lives three seconds.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let brief = env
        .d
        .call("token.add", json!({"name": "brief", "expires_at": now + 4}));
    let brief = brief["secret"].as_str().unwrap().to_owned();
    assert_eq!(env.call(&brief, "GET", "/api/keys", None).status, 200);
    let expired = poll_until(Duration::from_secs(15), Duration::from_millis(250), || {
        (env.call(&brief, "GET", "/api/keys", None).status == 401).then_some(())
    });
    assert!(expired.is_some(), "the expired token still works");

    // The list shows no secret and no digest.
    let list = env.d.veil_json(&["token", "list"]);
    let text = list.to_string();
    for secret in [&admin, &reader, &gone, &brief] {
        assert!(!text.contains(secret.as_str()));
    }
    assert!(!text.contains("hash"), "{text}");
    assert_eq!(list["tokens"].as_array().unwrap().len(), 4);
    let (_, table, _) = env.d.veil(&["token", "list"]);
    assert!(
        table.contains("revoked") && table.contains("expired") && table.contains("read-only"),
        "{table}"
    );

    // CORS: a listed origin is allowed, another gets nothing that allows anything.
    let preflight = |origin: &str| {
        http(
            env.addr,
            "OPTIONS",
            "/api/keys",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "authorization"),
            ],
            None,
        )
    };
    let evil = preflight("https://evil.example");
    assert!(
        !evil
            .headers
            .keys()
            .any(|k| k.starts_with("access-control-allow")),
        "{:?}",
        evil.headers
    );
    let good = preflight("https://admin.example");
    assert_eq!(
        good.header("access-control-allow-origin"),
        Some("https://admin.example")
    );
    assert!(
        good.header("access-control-allow-methods")
            .is_some_and(|m| m.contains("POST"))
    );

    // A body over the cap.
    let big = json!({"name": "big", "note": "x".repeat(4096)}).to_string();
    let a = env.call(&admin, "POST", "/api/keys", Some(&big));
    assert_eq!(
        (a.status, a.code().as_str()),
        (413, "too_large"),
        "{}",
        a.body
    );

    // Failed authentications are limited per address (10 a minute), then even a good
    // token from there waits; the log never holds a presented token.
    let guess = "veil_guess_1234567890";
    let mut limited = None;
    for _ in 0..12 {
        let a = env.call(guess, "GET", "/api/keys", None);
        if a.status == 429 {
            limited = Some(a);
            break;
        }
        assert_eq!(a.status, 401);
    }
    let limited = limited.expect("failed authentications are limited");
    assert!(limited.header("retry-after").is_some());
    assert_eq!(env.call(&admin, "GET", "/api/keys", None).status, 429);
    assert_eq!(http(env.addr, "GET", "/health", &[], None).status, 200);
    let log = env.d.log_text();
    assert!(log.contains("authentication refused"), "{log}");
    assert!(
        !log.contains(guess) && !log.contains(&admin),
        "a token reached the log"
    );

    // Health tells the operator.
    let h = env.d.health();
    assert_eq!(h["http"]["listen"], env.addr.to_string());
    assert!(h["http"]["requests_last_minute"].as_u64().unwrap() > 10);
    assert_eq!(h["http"]["auth_failures"][0]["remote"], "127.0.0.1");
    let (_, text, _) = env.d.veil(&["health"]);
    assert!(
        text.contains(&format!("listening on {}", env.addr)),
        "{text}"
    );
    assert!(text.contains("auth failed:"), "{text}");
}

#[test]
fn the_eleventh_create_in_a_minute_waits_and_audit_names_the_token() {
    let _serial = serial();
    let env = Env::start("");
    let token = env.token("limits", &[]);
    // A spoofed header from a peer that is not a trusted proxy changes nothing.
    let spoof = [
        ("Authorization", format!("Bearer {token}")),
        ("X-Forwarded-For", "203.0.113.77".to_owned()),
    ];
    let spoof: Vec<(&str, &str)> = spoof.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for n in 1..=10 {
        let body = json!({"name": format!("rate-{n}")}).to_string();
        let a = http(env.addr, "POST", "/api/keys", &spoof, Some(&body));
        assert!([201, 202].contains(&a.status), "create {n}: {}", a.body);
    }
    let body = json!({"name": "rate-11"}).to_string();
    let eleventh = http(env.addr, "POST", "/api/keys", &spoof, Some(&body));
    assert_eq!(
        (eleventh.status, eleventh.code().as_str()),
        (429, "rate_limited"),
        "{}",
        eleventh.body
    );
    let retry: u64 = eleventh.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Deletes share that allowance; reads and /health do not.
    assert_eq!(
        env.call(&token, "DELETE", "/api/keys/rate-1", None).status,
        429
    );
    let health = http(env.addr, "GET", "/health", &[], None);
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(
        env.call(&token, "GET", "/api/keys", None).json()["total"],
        10
    );

    // The audit names the token and the real peer, never the spoofed address.
    let (code, text, err) = env.d.veil(&["audit", "--key", "rate-1"]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("token 'limits' from 127.0.0.1"), "{text}");
    let page = env.d.veil_json(&["audit", "--limit", "20"]);
    let creates: Vec<&Value> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["method"] == "key.create")
        .collect();
    assert_eq!(creates.len(), 10);
    for e in creates {
        assert_eq!(
            e["actor"],
            json!({"kind": "token", "name": "limits", "remote": "127.0.0.1"})
        );
    }
    assert!(!page.to_string().contains("203.0.113.77"));
    // Making the token was audited too, as the socket peer who asked.
    let made = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["method"] == "token.add")
        .expect("token.add audited");
    assert_eq!(made["actor"]["kind"], "peer");
}

#[test]
fn a_public_listener_without_tls_or_a_busy_port_stops_veild_naming_the_setting() {
    use std::process::Command;
    use support::daemon::veild_bin;

    let _serial = serial();
    let dir = tempdir();
    for (http, needle) in [
        (
            "listen = \"0.0.0.0:8080\"",
            "http.listen = \"0.0.0.0:8080\": a listener beyond loopback needs TLS",
        ),
        (
            "listen = \"127.0.0.1:8080\"\ntls_cert = \"/etc/c.pem\"",
            "http.tls_cert",
        ),
        (
            "listen = \"127.0.0.1:8080\"\ncors_origins = [\"*\"]",
            "http.cors_origins",
        ),
    ] {
        let config = Daemon::write_config(
            dir.path(),
            &DaemonConfig {
                extra_toml: format!("\n[http]\n{http}\n"),
                ..DaemonConfig::default()
            },
        );
        let out = Command::new(veild_bin())
            .args(["--check", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{http}");
        assert!(stderr.contains(needle), "{http}: {stderr}");
    }

    // Valid, but the port is taken: veild stops before serving.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap();
    let stderr = start_refused(
        dir.path(),
        &format!("\n[http]\nlisten = \"{busy}\"\n"),
        CONVERGE,
    );
    assert!(
        stderr.contains(&format!("http.listen = \"{busy}\": cannot listen")),
        "{stderr}"
    );
    drop(taken);
}
