//! Issue 5, traffic accounting, against the real core (Debian's v2ray 4.34, flavor v2fly) with
//! a real v2ray client moving HTTP downloads through a key, and the real `veild`:
//! - a 5 MiB download is counted to within a few KiB;
//! - veild killed with SIGKILL many times during a continuous transfer: the final total is
//!   what the client moved, never more;
//! - the core restarted mid-transfer: the new epoch continues the total, nothing negative
//!   or doubled;
//! - a key over its 1 MiB limit is disabled (new connections fail); raising the limit
//!   enables it again.
//!
//! Then the parts that need no traffic, with the core down or faked: expiry, the limit
//! rules, resets, history, `event.traffic`, online users, the CLI.
//!
//! The real-core tests run one at a time. Every wait is a bounded poll on a condition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::core_harness::{FakeXrayCore, HttpFileServer, V2rayClient, V2rayServer, test_bytes};
use support::daemon::{CoreSection, Daemon, DaemonConfig, poll_until};
use support::{id_of, runtime, serial, tempdir, uuid_of};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;
/// A key that should work does so within this long (client start-up, first connection).
const WORKS_WITHIN: Duration = Duration::from_secs(10);
/// Bound for veild to converge after an event.
const CONVERGE: Duration = Duration::from_secs(60);

/// The `[traffic]` table for veild.toml.
fn traffic_section(interval_ms: u64) -> String {
    format!("\n[traffic]\ninterval_ms = {interval_ms}\n")
}

/// The exact bytes the file server sends for a body of `len` bytes: its header, then the
/// body. This is what the core counts as the key's downlink for one download.
fn response_bytes(len: usize) -> u64 {
    let header = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    (header.len() + len) as u64
}

fn u64_of(v: &Value, member: &str) -> u64 {
    v[member]
        .as_u64()
        .unwrap_or_else(|| panic!("{member} is not an unsigned integer in {v}"))
}

/// One real core, a file server and veild on both.
struct Live {
    d: Daemon,
    files: HttpFileServer,
    body_len: usize,
    server: V2rayServer,
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl Live {
    fn start(body_len: usize, interval_ms: u64) -> Live {
        let dir = tempdir();
        let rt = runtime();
        let server = rt.block_on(V2rayServer::start(dir.path(), &[]));
        let files = HttpFileServer::start(test_bytes(body_len, 11));
        let d = Daemon::start_with(
            dir.path(),
            &DaemonConfig {
                core: Some(CoreSection::v2fly(&server.api_addr(), server.config_path())),
                extra_core: traffic_section(interval_ms),
                ..Default::default()
            },
        );
        d.wait_core_up(CONVERGE);
        Live {
            d,
            files,
            body_len,
            server,
            rt,
            dir,
        }
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn client(&self, uuid: &str) -> V2rayClient {
        V2rayClient::start(self.dir(), self.server.vless_port(), uuid)
    }

    /// A live key (the core has it).
    fn key(&self, params: Value) -> Value {
        let key = self.d.call("key.create", params);
        assert_eq!(key["pending"], false, "the core is up: {key}");
        key
    }

    /// One whole download through `client`, retried until the key works.
    fn download(&self, client: &V2rayClient) -> u64 {
        let (body, _) = client
            .fetch_until(&self.files.url(), Instant::now() + WORKS_WITHIN)
            .unwrap_or_else(|e| {
                panic!("download failed: {e:#}\nveild log:\n{}", self.d.log_text())
            });
        assert_eq!(body.len(), self.body_len);
        response_bytes(self.body_len)
    }

    fn sync(&self) -> Value {
        self.d.call("traffic.sync", json!({}))
    }

    fn traffic(&self, id: i64) -> Value {
        self.d.call("traffic.get", json!({"key": id}))
    }

    /// Syncs until the key's downlink is at least `at_least` (the core's counters trail
    /// the client by a buffer).
    fn sync_until_downlink(&self, id: i64, at_least: u64) -> Value {
        let mut last = Value::Null;
        poll_until(CONVERGE, Duration::from_millis(50), || {
            self.sync();
            last = self.traffic(id);
            (u64_of(&last, "downlink") >= at_least).then(|| last.clone())
        })
        .unwrap_or_else(|| panic!("downlink never reached {at_least}: {last}"))
    }
}

// ---------------------------------------------------------------------------------------
// Against the real core

#[test]
fn a_five_mib_download_is_counted_to_within_a_few_kib() {
    let _serial = serial();
    let live = Live::start(5 * MIB as usize, 10_000);
    let key = live.key(json!({"name": "five"}));
    let id = id_of(&key);
    let client = live.client(&uuid_of(&key));
    let moved = live.download(&client);

    let t = live.sync_until_downlink(id, moved - 4 * KIB);
    let down = u64_of(&t, "downlink");
    let up = u64_of(&t, "uplink");
    eprintln!("moved {moved} B; veild counted downlink {down} B, uplink {up} B");
    assert!(
        down.abs_diff(moved) <= 4 * KIB,
        "downlink {down} is not within 4 KiB of the {moved} bytes moved"
    );
    assert!(up > 0 && up < 4 * KIB, "uplink {up}: one request");
    assert_eq!(u64_of(&t, "lifetime_downlink"), down);
    assert!(t["last_active"].is_i64(), "{t}");
    // Another sync with nothing moving changes nothing.
    let report = live.sync();
    assert_eq!(report["moved"], 0, "{report}");
    assert_eq!(u64_of(&live.traffic(id), "downlink"), down);
    // The list carries the same integers.
    let list = live.d.call("traffic.list", json!({}));
    let row = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .cloned()
        .unwrap();
    assert_eq!(
        (u64_of(&row, "uplink"), u64_of(&row, "downlink")),
        (up, down)
    );
    // v2fly has no online statistics: unsupported, never zero.
    assert_eq!(t["online"]["status"], "unsupported", "{t}");
    // History: this minute's bucket holds it all, and so do this hour and day.
    for resolution in ["minute", "hour", "day"] {
        let h = live.d.call(
            "traffic.history",
            json!({"key": id, "resolution": resolution}),
        );
        let buckets = h["buckets"].as_array().unwrap();
        let sum: u64 = buckets.iter().map(|b| u64_of(b, "downlink")).sum();
        assert_eq!(sum, down, "{resolution}: {h}");
    }
}

/// A thread downloading through one client until told to stop; counts what it moved.
struct Transfer {
    stop: Arc<AtomicBool>,
    moved: Arc<AtomicU64>,
    fetches: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl Transfer {
    fn start(client: V2rayClient, url: String, body_len: usize) -> Transfer {
        let stop = Arc::new(AtomicBool::new(false));
        let moved = Arc::new(AtomicU64::new(0));
        let fetches = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, moved, fetches) = (stop.clone(), moved.clone(), fetches.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let body = client.fetch(&url).map_err(|e| format!("{e:#}"))?;
                    if body.len() != body_len {
                        return Err(format!("short body: {}", body.len()));
                    }
                    moved.fetch_add(response_bytes(body_len), Ordering::SeqCst);
                    fetches.fetch_add(1, Ordering::SeqCst);
                }
                Ok(())
            })
        };
        Transfer {
            stop,
            moved,
            fetches,
            thread: Some(thread),
        }
    }

    fn moved(&self) -> u64 {
        self.moved.load(Ordering::SeqCst)
    }

    fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        let result = self.thread.take().unwrap().join().expect("transfer thread");
        result.unwrap_or_else(|e| panic!("the transfer failed: {e}"));
        (self.moved(), self.fetches.load(Ordering::SeqCst))
    }
}

/// A small xorshift generator, seeded from the clock (the seed is printed to replay a run).
struct Rng(u64);

impl Rng {
    fn from_clock() -> Rng {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        eprintln!("kill schedule seed: {seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn kill9_veild_many_times_mid_transfer_the_total_is_what_moved_never_more() {
    let _serial = serial();
    const BODY: usize = 256 * KIB as usize;
    const KILLS: usize = 15;
    // A short interval, so kills land before, during and after cycles and their commits.
    let mut live = Live::start(BODY, 50);
    let key = live.key(json!({"name": "crashy"}));
    let id = id_of(&key);
    let client = live.client(&uuid_of(&key));
    // The first download proves the key works before the clock starts.
    let first = live.download(&client);
    let transfer = Transfer::start(client, live.files.url(), BODY);
    let mut rng = Rng::from_clock();
    for round in 0..KILLS {
        // Random moments: a cycle takes a few ms out of every 50.
        let wait = Duration::from_millis(100 + rng.below(900));
        std::thread::sleep(wait);
        live.d.kill9();
        let moved_at_kill = first + transfer.moved();
        live.d.restart();
        // After every restart: never more than what moved (plus one download in flight).
        let now = u64_of(&live.traffic(id), "downlink");
        let ceiling = first + transfer.moved() + response_bytes(BODY);
        eprintln!(
            "round {round}: killed after {wait:?} with {moved_at_kill} B moved; veild has {now} B"
        );
        assert!(
            now <= ceiling,
            "round {round}: counted {now} B, more than the {ceiling} B moved"
        );
    }
    let (moved, fetches) = transfer.finish();
    let moved = first + moved;
    let t = live.sync_until_downlink(id, moved.saturating_sub(KIB));
    // Let the counters settle: a last sync after the client stopped.
    let report = live.sync();
    let down = u64_of(&live.traffic(id), "downlink");
    eprintln!(
        "{KILLS} kills, {fetches} downloads: moved {moved} B, counted {down} B (last sync: {report})"
    );
    assert!(
        down <= moved + KIB,
        "counted {down} B, more than the {moved} B moved: something was counted twice"
    );
    assert!(
        moved - down.min(moved) <= 2 * KIB,
        "counted {down} B of {moved} B moved: bytes were lost ({t})"
    );
    let log = live.d.log_text();
    assert!(
        log.matches("veild ready").count() > KILLS,
        "veild did not restart {KILLS} times"
    );
}

/// Downloads through the proxy reading slowly (about 3 MB/s), so a transfer is still under
/// way when the core is killed; returns the bytes received before the connection ended.
fn slow_fetch(proxy: std::net::SocketAddr, url: &str, len: u64) -> u64 {
    use std::io::{Read, Write};
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    let Ok(mut stream) = std::net::TcpStream::connect(proxy) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let request = format!("GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut got = 0u64;
    let mut chunk = [0u8; 16 * 1024];
    // Bounded: at most the whole body and its header, at a steady pace.
    while got < len + 1024 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n as u64,
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    got
}

#[test]
fn a_core_restart_mid_transfer_begins_a_new_epoch_that_continues_the_total() {
    let _serial = serial();
    const SMALL: usize = MIB as usize;
    // Only `traffic.sync` cycles after the first: the test decides when counters are read.
    let mut live = Live::start(SMALL, 3_600_000);
    let big_files = HttpFileServer::start(test_bytes(64 * MIB as usize, 5));
    let key = live.key(json!({"name": "epochs"}));
    let id = id_of(&key);
    let uuid = uuid_of(&key);
    let client = live.client(&uuid);
    let one = live.download(&client);
    let before = live.sync_until_downlink(id, one - KIB);
    let epoch_before = live.sync()["epoch"].as_u64().unwrap();
    let counted_before = u64_of(&before, "downlink");

    // A big download in flight; once veild has counted part of it, the core dies.
    let in_flight = {
        let url = big_files.url();
        let proxy = client.proxy_addr();
        std::thread::spawn(move || slow_fetch(proxy, &url, 64 * MIB))
    };
    let mid = live.sync_until_downlink(id, counted_before + MIB);
    let counted_at_kill = u64_of(&mid, "downlink");
    // The old core must have lived long enough that its start is told from the new one's.
    let link = {
        let _runtime = live.rt.enter();
        live.server.link()
    };
    poll_until(CONVERGE, Duration::from_millis(100), || {
        let up = live.rt.block_on(link.sys_stats()).ok()?.uptime_secs;
        (up >= 4).then_some(())
    })
    .expect("core uptime");
    live.server.kill9();
    let got = in_flight.join().unwrap();
    assert!(got < 64 * MIB, "the download survived the core");
    live.rt.block_on(live.server.start_again());
    // veild re-adds the key; new downloads through a fresh client.
    let client = live.client(&uuid);
    // More than the old epoch's counter reached: only the epoch tells these bytes from the
    // old ones (a counter lower than its baseline would count from zero anyway).
    let mut after = 0;
    for _ in 0..256 {
        after += live.download(&client);
        if after > counted_at_kill + MIB {
            break;
        }
    }
    assert!(after > counted_at_kill + MIB);
    let t = live.sync_until_downlink(id, counted_at_kill + after - KIB);
    let report = live.sync();
    let down = u64_of(&live.traffic(id), "downlink");
    eprintln!(
        "counted {counted_at_kill} B before the restart, moved {after} B after; counted {down} B ({t}); {report}"
    );
    assert!(
        report["epoch"].as_u64().unwrap() > epoch_before,
        "no new epoch after the core restart: {report}"
    );
    let new_epoch = down - counted_at_kill;
    assert!(
        new_epoch.abs_diff(after) <= 2 * KIB,
        "the new epoch added {new_epoch} B for {after} B moved (doubled or lost)"
    );
}

#[test]
fn a_key_over_its_limit_is_disabled_and_raising_the_limit_enables_it() {
    let _serial = serial();
    let live = Live::start(MIB as usize + 100 * KIB as usize, 200);
    let key = live.key(json!({"name": "capped", "data_limit": MIB}));
    assert_eq!(key["data_limit"], MIB);
    let id = id_of(&key);
    let uuid = uuid_of(&key);
    let client = live.client(&uuid);
    live.download(&client);

    // The poller sees it pass the limit and disables it through the applier.
    let mut last = Value::Null;
    let disabled = poll_until(CONVERGE, Duration::from_millis(50), || {
        last = live.d.call("key.get", json!({"key": id}));
        (last["state"] == "disabled" && last["pending"] == false).then(|| last.clone())
    })
    .unwrap_or_else(|| panic!("never disabled: {last}\n{}", live.d.log_text()));
    assert_eq!(disabled["disable_reason"], "limited", "{disabled}");
    assert_eq!(disabled["applied"], "disabled");
    // New connections fail.
    let refused = live.client(&uuid);
    let served = live.files.served();
    assert!(
        refused.fetch(&live.files.url()).is_err(),
        "a limited key still works"
    );
    assert_eq!(live.files.served(), served);
    // The audit names the daemon's own change.
    let audit = live.d.call("audit.list", json!({"key": id}));
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["method"] == "traffic.enforce"),
        "{audit}"
    );

    // Raising the limit enables it at once, and it carries traffic again.
    let raised = live
        .d
        .call("key.update", json!({"key": id, "data_limit": 100 * MIB}));
    assert_eq!(raised["state"], "active", "{raised}");
    assert_eq!(raised["pending"], false, "{raised}");
    assert_eq!(raised["disable_reason"], Value::Null);
    live.download(&live.client(&uuid));
}

// ---------------------------------------------------------------------------------------
// Without traffic: the core is down (or faked)

fn coreless(interval_ms: u64) -> (tempfile::TempDir, Daemon) {
    let dir = tempdir();
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            extra_core: traffic_section(interval_ms),
            ..Default::default()
        },
    );
    (dir, d)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[test]
fn expiry_disables_by_itself_and_extending_it_enables_the_key() {
    let (_dir, d) = coreless(100);
    // Already past: disabled by the create itself.
    let past = d.call(
        "key.create",
        json!({"name": "old", "expires_at": now() - 10}),
    );
    assert_eq!(past["state"], "disabled", "{past}");
    assert_eq!(past["disable_reason"], "expired");
    // Soon: the poller disables it although the core is down.
    let soon = d.call(
        "key.create",
        json!({"name": "soon", "expires_at": now() + 2}),
    );
    assert_eq!(soon["state"], "active");
    let mut last = Value::Null;
    poll_until(Duration::from_secs(20), Duration::from_millis(50), || {
        last = d.call("key.get", json!({"key": "soon"}));
        (last["state"] == "disabled").then_some(())
    })
    .unwrap_or_else(|| panic!("never expired: {last}"));
    assert_eq!(last["disable_reason"], "expired");
    // A manually disabled key is never enabled by the daemon.
    let manual = d.call(
        "key.create",
        json!({"name": "manual", "expires_at": now() - 10}),
    );
    assert_eq!(manual["disable_reason"], "expired");
    let manual = d.call("key.disable", json!({"key": "manual"}));
    assert_eq!(manual["disable_reason"], "manual");
    let manual = d.call("key.update", json!({"key": "manual", "expires_at": null}));
    assert_eq!(manual["state"], "disabled", "{manual}");
    assert_eq!(manual["disable_reason"], "manual");
    // Extending or clearing the expiry enables the others.
    let extended = d.call(
        "key.update",
        json!({"key": "soon", "expires_at": now() + 86_400}),
    );
    assert_eq!(extended["state"], "active", "{extended}");
    assert_eq!(extended["expires_at"], now_plus_day_close(&extended));
    let cleared = d.call("key.update", json!({"key": "old", "expires_at": null}));
    assert_eq!(cleared["state"], "active", "{cleared}");
    assert_eq!(cleared["expires_at"], Value::Null);
}

fn now_plus_day_close(key: &Value) -> Value {
    let at = key["expires_at"].as_i64().unwrap();
    assert!((at - (now() + 86_400)).abs() < 60);
    json!(at)
}

#[test]
fn limits_resets_and_sync_without_a_core() {
    let (_dir, d) = coreless(3_600_000);
    // A zero limit is used up at once; raising it enables the key; clearing keeps it on.
    let zero = d.call("key.create", json!({"name": "zero", "data_limit": 0}));
    assert_eq!(zero["state"], "disabled", "{zero}");
    assert_eq!(zero["disable_reason"], "limited");
    let raised = d.call("key.update", json!({"key": "zero", "data_limit": 10}));
    assert_eq!(raised["state"], "active", "{raised}");
    let lowered = d.call("key.update", json!({"key": "zero", "data_limit": 0}));
    assert_eq!(lowered["disable_reason"], "limited");
    let cleared = d.call("key.update", json!({"key": "zero", "data_limit": null}));
    assert_eq!(
        (cleared["state"].clone(), cleared["data_limit"].clone()),
        (json!("active"), Value::Null)
    );
    // Bad values are refused.
    let mut c = d.raw();
    assert_eq!(
        c.call_err("key.create", json!({"name": "x", "data_limit": u64::MAX})),
        "invalid_input"
    );
    assert_eq!(
        c.call_err("key.update", json!({"key": "zero", "reset": "hourly"})),
        "invalid_input"
    );
    // A reset schedule is reported with its next reset.
    let monthly = d.call(
        "key.create",
        json!({"name": "monthly", "reset": "monthly:1"}),
    );
    let t = d.call("traffic.get", json!({"key": id_of(&monthly)}));
    assert_eq!(t["reset"], "monthly:1", "{t}");
    assert!(t["next_reset_at"].as_i64().unwrap() > now());
    assert_eq!(
        (t["uplink"].clone(), t["downlink"].clone()),
        (json!(0), json!(0))
    );
    // traffic.reset is logged with the usage it cleared.
    let reset = d.call("traffic.reset", json!({"key": "monthly"}));
    assert_eq!(reset["uplink"], 0);
    assert!(reset["last_reset_at"].is_i64(), "{reset}");
    let t = d.call("traffic.get", json!({"key": "monthly"}));
    assert_eq!(t["resets"][0]["reason"], "manual", "{t}");
    let audit = d.call("audit.list", json!({"key": "monthly"}));
    assert_eq!(audit["entries"][0]["method"], "traffic.reset", "{audit}");
    assert!(
        audit["entries"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("cleared uplink 0 B"),
        "{audit}"
    );
    // With the core down, a sync says so.
    assert_eq!(c.call_err("traffic.sync", json!({})), "core_unavailable");
    // The list works, and knows the poller's interval.
    let list = d.call("traffic.list", json!({"sort": "usage", "limit": 2}));
    assert_eq!(list["keys"].as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list["total"], 2);
    assert_eq!(list["poller"]["interval_ms"], 3_600_000);
    // Unknown keys are not found; deleted keys cannot be reset.
    assert_eq!(
        c.call_err("traffic.get", json!({"key": "ghost"})),
        "not_found"
    );
    d.call("key.delete", json!({"key": "zero"}));
    assert_eq!(
        c.call_err("traffic.reset", json!({"key": id_of(&zero)})),
        "conflict"
    );
}

#[test]
fn bad_traffic_config_is_refused_with_the_key_named() {
    let dir = tempdir();
    let config = Daemon::write_config(
        dir.path(),
        &DaemonConfig {
            extra_core: traffic_section(5),
            ..Default::default()
        },
    );
    let out = std::process::Command::new(support::daemon::veild_bin())
        .arg("--check")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("traffic.interval_ms = 5"), "{err}");
}

// ---------------------------------------------------------------------------------------
// A fake Xray core: exact counters, epochs, events, online users

struct Fake {
    core: FakeXrayCore,
    d: Daemon,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn fake(online_policy: bool) -> Fake {
    let dir = tempdir();
    let rt = runtime();
    let core = rt.block_on(FakeXrayCore::start());
    let config = dir.path().join("core.json");
    let mut json = support::daemon::minimal_v2fly_core_config(1, 2, &[]);
    json["policy"]["levels"]["0"]["statsUserOnline"] = json!(online_policy);
    std::fs::write(&config, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            core: Some(CoreSection::xray(&core.api_addr(), &config)),
            extra_core: traffic_section(3_600_000),
            ..Default::default()
        },
    );
    Fake {
        core,
        d,
        _rt: rt,
        _dir: dir,
    }
}

fn set_counters(core: &FakeXrayCore, id: i64, up: i64, down: i64) {
    core.set_stat(&format!("user>>>key-{id}@veil>>>traffic>>>uplink"), up);
    core.set_stat(&format!("user>>>key-{id}@veil>>>traffic>>>downlink"), down);
}

fn totals(d: &Daemon, id: i64) -> (u64, u64) {
    let t = d.call("traffic.get", json!({"key": id}));
    (u64_of(&t, "uplink"), u64_of(&t, "downlink"))
}

#[test]
fn counters_are_accounted_exactly_across_resets_restarts_and_strangers() {
    let f = fake(false);
    let a = id_of(&f.d.call("key.create", json!({"name": "a"})));
    let b = id_of(&f.d.call("key.create", json!({"name": "b"})));
    set_counters(&f.core, a, 100, 1_000);
    // A user Veil does not own, and the inbound's own counters: ignored.
    f.core
        .set_stat("user>>>stranger@example>>>traffic>>>downlink", 7);
    f.core
        .set_stat("user>>>key-999@veil>>>traffic>>>downlink", 7);
    f.core
        .set_stat("inbound>>>vless-in>>>traffic>>>downlink", 9);
    let r = f.d.call("traffic.sync", json!({}));
    assert_eq!(
        (r["moved"].clone(), r["counters"].clone()),
        (json!(1), json!(3)),
        "{r}"
    );
    assert_eq!(totals(&f.d, a), (100, 1_000));
    assert_eq!(totals(&f.d, b), (0, 0));
    // Nothing new: nothing added, however often it is read.
    for _ in 0..3 {
        assert_eq!(f.d.call("traffic.sync", json!({}))["moved"], 0);
    }
    assert_eq!(totals(&f.d, a), (100, 1_000));
    set_counters(&f.core, a, 150, 1_500);
    set_counters(&f.core, b, 1, 2);
    f.d.call("traffic.sync", json!({}));
    assert_eq!(totals(&f.d, a), (150, 1_500));
    assert_eq!(totals(&f.d, b), (1, 2));
    // Someone reset the counters behind Veil's back: they count from zero.
    set_counters(&f.core, a, 10, 20);
    f.d.call("traffic.sync", json!({}));
    assert_eq!(totals(&f.d, a), (160, 1_520));
    // veild restarts: the baselines come from the database, nothing is counted again.
    let mut d = f.d;
    d.stop();
    d.restart();
    d.call("traffic.sync", json!({}));
    assert_eq!(totals(&d, a), (160, 1_520));
    // The core restarts and its counters grow past the old values: a new epoch, so all of
    // them count.
    let epoch = d.call("traffic.sync", json!({}))["epoch"].as_u64().unwrap();
    // A core's start is known to about a second: the old one must have run a few.
    poll_until(Duration::from_secs(10), Duration::from_millis(50), || {
        (f.core.uptime_secs() >= 3).then_some(())
    })
    .expect("fake core uptime");
    f.core.restart_stats();
    set_counters(&f.core, a, 500, 5_000);
    let r = d.call("traffic.sync", json!({}));
    assert_eq!(r["epoch"].as_u64().unwrap(), epoch + 1, "{r}");
    assert_eq!(r["new_epoch"], true);
    assert_eq!(totals(&d, a), (660, 6_520));
    // The lifetime totals survive a reset; the resets list keeps the usage cleared.
    let reset = d.call("traffic.reset", json!({"key": a}));
    assert_eq!(
        (reset["uplink"].clone(), reset["downlink"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(reset["lifetime_downlink"], 6_520);
    set_counters(&f.core, a, 501, 5_001);
    d.call("traffic.sync", json!({}));
    assert_eq!(totals(&d, a), (1, 1));
    let t = d.call("traffic.get", json!({"key": a}));
    assert_eq!(t["resets"][0]["downlink"], 6_520, "{t}");
    assert_eq!(t["online"]["status"], "off", "{t}");
}

#[test]
fn watchers_get_the_rates_of_the_keys_that_moved() {
    let f = fake(true);
    let a = id_of(&f.d.call("key.create", json!({"name": "a"})));
    let b = id_of(&f.d.call("key.create", json!({"name": "b"})));
    f.d.call("traffic.sync", json!({}));
    let mut watcher = f.d.raw();
    watcher.call("watch", json!({}));
    // Nothing moved: no event.
    f.d.call("traffic.sync", json!({}));
    set_counters(&f.core, b, 0, 4_000);
    f.d.call("traffic.sync", json!({}));
    let event = watcher.read_line();
    assert_eq!(event["method"], "event.traffic", "{event}");
    let keys = event["params"]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "only the key that moved: {event}");
    assert_eq!(keys[0]["id"], b);
    assert_eq!(keys[0]["downlink"], 4_000);
    let span = u64_of(&event["params"], "interval_ms");
    assert!(span > 0, "{event}");
    assert_eq!(u64_of(&keys[0], "downlink_rate"), 4_000 * 1_000 / span);
    // The rate shows in traffic.get until the next cycle.
    let t = f.d.call("traffic.get", json!({"key": b}));
    assert_eq!(t["downlink_rate"], keys[0]["downlink_rate"]);
    let list = f.d.call("traffic.list", json!({"sort": "rate"}));
    assert_eq!(list["keys"][0]["id"], b, "{list}");
    assert_eq!(list["keys"][1]["id"], a);
    // Online users, as the core reports them (the policy turns them on here).
    let t = f.d.call("traffic.get", json!({"key": a}));
    assert_eq!(
        t["online"],
        json!({"status": "known", "count": 0, "ips": []}),
        "{t}"
    );
    f.core
        .set_online(&format!("key-{a}@veil"), &[("203.0.113.9", 1_795_708_980)]);
    let t = f.d.call("traffic.get", json!({"key": a}));
    assert_eq!(t["online"]["count"], 1, "{t}");
    assert_eq!(t["online"]["ips"][0]["ip"], "203.0.113.9");
}

#[test]
fn the_cli_shows_sets_and_resets_traffic() {
    let f = fake(false);
    let out = f.d.veil_json(&[
        "key",
        "add",
        "alice",
        "--limit",
        "50GiB",
        "--expires",
        "30d",
        "--reset",
        "monthly:1",
    ]);
    assert_eq!(out["data_limit"], 50 * 1024 * MIB, "{out}");
    let expires = out["expires_at"].as_i64().unwrap();
    assert!((expires - (now() + 30 * 86_400)).abs() < 120, "{out}");
    let id = id_of(&out);
    set_counters(&f.core, id, 2_048, 3 * MIB as i64);
    let (code, text, err) = f.d.veil(&["traffic", "sync"]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("1 key moved"), "{text}");
    let (code, text, err) = f.d.veil(&["traffic"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("alice") && text.contains("3.0 MiB") && text.contains("50.0 GiB"),
        "{text}"
    );
    let (code, text, err) = f.d.veil(&["traffic", "show", "alice"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("monthly:1") && text.contains("2.0 KiB"),
        "{text}"
    );
    let shown = f.d.veil_json(&["traffic", "show", "alice"]);
    assert_eq!(shown["downlink"], 3 * MIB);
    let updated = f.d.veil_json(&[
        "key",
        "update",
        "alice",
        "--limit",
        "none",
        "--expires",
        "never",
    ]);
    assert_eq!(
        (updated["data_limit"].clone(), updated["expires_at"].clone()),
        (Value::Null, Value::Null)
    );
    // A bare date as an expiry means the end of that day (UTC): the key works on the 1st.
    let updated =
        f.d.veil_json(&["key", "update", "alice", "--expires", "2027-01-01"]);
    assert_eq!(updated["expires_at"], 1_798_847_999);
    let (code, text, err) = f.d.veil(&["traffic", "reset", "alice"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("3.0 MiB"),
        "the usage cleared is shown: {text}"
    );
    assert_eq!(totals(&f.d, id), (0, 0));
    let (code, text, err) = f.d.veil(&["traffic", "history", "alice", "--by", "minute"]);
    assert_eq!(code, 0, "{err}");
    assert!(text.lines().count() >= 2, "{text}");
    let (code, _, err) = f.d.veil(&["key", "add", "bob", "--limit", "lots"]);
    assert_eq!(code, 2, "{err}");
}

/// `veil watch` prints a traffic line for a cycle in which a key moved.
#[test]
fn veil_watch_prints_traffic_lines() {
    let f = fake(false);
    let id = id_of(&f.d.call("key.create", json!({"name": "w"})));
    f.d.call("traffic.sync", json!({}));
    let mut child = std::process::Command::new(support::daemon::veil_bin())
        .arg("--socket")
        .arg(&f.d.socket)
        .arg("watch")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The watch is subscribed once an event it did not miss arrives: change the note until
    // a line comes (bounded).
    let first = poll_until(Duration::from_secs(20), Duration::from_millis(10), || {
        f.d.call("key.update", json!({"key": id, "note": "mark"}));
        rx.recv_timeout(Duration::from_millis(200)).ok()
    })
    .expect("veil watch printed nothing");
    assert!(first.contains("updated"), "{first}");
    while rx.recv_timeout(Duration::from_millis(300)).is_ok() {}
    set_counters(&f.core, id, 10, 20 * KIB as i64);
    f.d.call("traffic.sync", json!({}));
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("no traffic line");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.contains("traffic") && line.contains(&format!("key {id}")),
        "{line}"
    );
}
