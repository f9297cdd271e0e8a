//! The traffic poller's cycle (one `QueryStats` for every user, deltas, one transaction) at
//! 1,000, 10,000 and 100,000 keys that all have counters, with the release `veild`:
//! - **fake**: the in-process `FakeXrayCore` serving 2 counters per key (every point);
//! - **real**: Debian's v2ray 4.34 at 1,000 and 10,000 keys, each key's counters made by a
//!   real VLESS connection through it (a minimal VLESS client below).
//!
//! For each point it prints the cycle's wall time (veild's own figure, `took_us`: the core
//! calls and the database transaction; median of the runs), veild's CPU time per cycle
//! (all its threads, from `/proc/PID/task/*/schedstat`, mean over the runs) and veild's RSS,
//! for cycles where every key moved, a tenth moved, and none moved.
//!
//! Run: `cargo bench -p veild --bench traffic` (or `scripts/bench`). Goal: ≤ 20 ms per
//! cycle at 10,000 keys. Prints figures; asserts nothing about speed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/daemon.rs"]
#[allow(dead_code)]
mod daemon;

#[path = "../tests/support/core_harness.rs"]
#[allow(dead_code)]
mod core_harness;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use core_harness::{FakeXrayCore, HttpFileServer, V2rayServer};
use daemon::{CoreSection, Daemon, DaemonConfig};

/// Cycles measured per case.
const RUNS: usize = 9;
const CONVERGE: Duration = Duration::from_secs(900);
const BULK: u64 = 10_000;
/// The body the real core's traffic fetches, and the whole HTTP answer for it.
const BODY: usize = 512;
const ANSWER: usize = 99 + BODY;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("traffic bench: run with `cargo bench -p veild --bench traffic`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "traffic cycle: wall = veild's took_us (median of {RUNS}), CPU = veild's threads per cycle (mean), RSS = veild now (peak)"
    );
    println!(
        "{:<5} {:>7} {:>8} {:>7}  {:>10}  {:>10}  {:>17}",
        "core", "keys", "counters", "moved", "wall", "CPU", "RSS (peak)"
    );
    // `VEIL_BENCH_POINTS=fake:10000,real:1000` runs only those points.
    let only = std::env::var("VEIL_BENCH_POINTS").ok();
    let wanted = |core: &str, keys: u64| {
        only.as_deref().is_none_or(|list| {
            list.split(',')
                .any(|p| p.trim() == format!("{core}:{keys}"))
        })
    };
    for keys in [1_000, 10_000, 100_000] {
        if wanted("fake", keys) {
            fake_point(&rt, keys);
        }
    }
    for keys in [1_000, 10_000] {
        if wanted("real", keys) {
            real_point(&rt, keys);
        }
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("veil-bench-traffic-")
        .tempdir()
        .unwrap()
}

/// Creates `n` keys (bulk calls of 10,000) and waits until the core has them all.
fn create_keys(d: &Daemon, n: u64) {
    let mut c = d.raw();
    let mut made = 0;
    while made < n {
        let count = (n - made).min(BULK);
        c.call(
            "key.create_bulk",
            json!({"count": count, "prefix": format!("b{made}")}),
        );
        made += count;
    }
    d.wait_no_pending(CONVERGE);
}

fn start_veild(dir: &Path, core: CoreSection) -> Daemon {
    let d = Daemon::start_with(
        dir,
        &DaemonConfig {
            core: Some(core),
            // Only `traffic.sync` cycles: the bench decides when a cycle runs.
            extra_core: "\n[traffic]\ninterval_ms = 3600000\n".into(),
            ..Default::default()
        },
    );
    d.wait_health("core up", CONVERGE, |h| h["core"]["status"] == "up");
    d
}

/// CPU time of every thread of `pid`, in ns.
fn cpu_ns(pid: i32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(std::result::Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// (RSS, peak RSS) of `pid` in KiB.
fn rss_kib(pid: i32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// veild's RSS once its keys are made, before any cycle saw their counters.
fn report_rss(core: &str, keys: u64, d: &Daemon) {
    let (rss, peak) = rss_kib(d.pid());
    println!(
        "{core:<5} {keys:>7} {:>8} {:>7}  {:>10}  {:>10}  {:>6.1} ({:>5.1}) MiB  [keys made, no cycle yet]",
        "-",
        "-",
        "-",
        "-",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}

/// Runs `RUNS` cycles, each after `before` (which makes the counters move), and prints a line.
fn measure(core: &str, keys: u64, d: &Daemon, case: &str, mut before: impl FnMut()) {
    let pid = d.pid();
    let mut c = d.raw();
    let mut walls = Vec::with_capacity(RUNS);
    let mut cpu = 0u64;
    let mut last = Value::Null;
    for _ in 0..RUNS {
        before();
        let start = cpu_ns(pid);
        last = c.call("traffic.sync", json!({}));
        cpu += cpu_ns(pid) - start;
        walls.push(last["took_us"].as_u64().unwrap_or(0));
    }
    walls.sort_unstable();
    let wall_ms = walls[RUNS / 2] as f64 / 1000.0;
    let cpu_ms = cpu as f64 / RUNS as f64 / 1e6;
    let (rss, peak) = rss_kib(pid);
    // `VEIL_BENCH_LOG=1`: veild's own breakdown of the last cycle.
    if std::env::var_os("VEIL_BENCH_LOG").is_some() {
        let log = d.log_text();
        for line in log
            .lines()
            .filter(|l| l.contains("traffic cycle"))
            .rev()
            .take(2)
        {
            println!("    {line}");
        }
    }
    println!(
        "{core:<5} {keys:>7} {:>8} {:>7}  {:>7.2} ms  {:>7.2} ms  {:>6.1} ({:>5.1}) MiB  [{case}]",
        last["counters"],
        last["moved"],
        wall_ms,
        cpu_ms,
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    // The rows of scripts/bench's table: CPU per cycle, and RSS once cycles ran.
    let k = keys / 1000;
    let shape = match case {
        "all moved" => Some("moving"),
        "idle" => Some("idle"),
        _ => None,
    };
    if let Some(shape) = shape
        && ((core == "real" && keys == 10_000) || (core == "fake" && keys == 100_000))
    {
        println!("summary cycle_{k}k_{shape}_cpu_ms {cpu_ms:.3}");
    }
    if case == "idle" && ((core == "real" && keys == 10_000) || keys == 100_000) {
        println!("summary rss_{k}k_mb {:.1}", rss as f64 * 1024.0 / 1e6);
    }
}

fn counter_names(n: u64) -> Vec<String> {
    (1..=n)
        .flat_map(|id| {
            [
                format!("user>>>key-{id}@veil>>>traffic>>>uplink"),
                format!("user>>>key-{id}@veil>>>traffic>>>downlink"),
            ]
        })
        .collect()
}

fn fake_point(rt: &tokio::runtime::Runtime, keys: u64) {
    let dir = tempdir();
    let core = rt.block_on(FakeXrayCore::start());
    let config = dir.path().join("core.json");
    let json = daemon::minimal_v2fly_core_config(1, 2, &[]);
    std::fs::write(&config, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let d = start_veild(dir.path(), CoreSection::xray(&core.api_addr(), &config));
    create_keys(&d, keys);
    report_rss("fake", keys, &d);
    let names = counter_names(keys);
    core.set_stats(names.iter().map(|n| (n.as_str(), 1_000)));
    // First sight of every counter.
    d.call("traffic.sync", json!({}));
    measure("fake", keys, &d, "all moved", || {
        core.bump_stats("user>>>key-", 1_500);
    });
    // Ids ending in 0: a tenth.
    measure("fake", keys, &d, "1/10 moved", || {
        core.bump_stats("0@veil>>>traffic", 1_500);
    });
    measure("fake", keys, &d, "idle", || {});
    dashboard_open("fake", keys, &d);
}

/// What the dashboard's open asks veild for: every key (`key.list`) and every key's traffic
/// (`traffic.list`), timed as a client sees them (the JSON decoded); then veild's RSS after
/// one more cycle.
fn dashboard_open(core: &str, keys: u64, d: &Daemon) {
    let mut c = d.raw();
    let start = Instant::now();
    let list = c.call("key.list", json!({}));
    let list_ms = start.elapsed().as_secs_f64() * 1e3;
    let start = Instant::now();
    let traffic = c.call("traffic.list", json!({}));
    let traffic_ms = start.elapsed().as_secs_f64() * 1e3;
    let count = |v: &Value| v["keys"].as_array().map_or(0, Vec::len);
    println!(
        "{core:<5} {keys:>7}  dashboard open: key.list {list_ms:.0} ms ({} keys) + traffic.list {traffic_ms:.0} ms ({} keys)",
        count(&list),
        count(&traffic)
    );
    drop((list, traffic));
    if keys == 100_000 {
        println!(
            "summary veild_open_100k_s {:.3}",
            (list_ms + traffic_ms) / 1e3
        );
    }
    c.call("traffic.sync", json!({}));
    let (rss, peak) = rss_kib(d.pid());
    println!(
        "{core:<5} {keys:>7} {:>8} {:>7}  {:>10}  {:>10}  {:>6.1} ({:>5.1}) MiB  [after those and a cycle]",
        "-",
        "-",
        "-",
        "-",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}

/// A minimal VLESS (v2fly 4.34, no flow) client: one TCP request to `target` as `uuid`,
/// sending `payload` and reading `expect` bytes of answer (the core holds a finished
/// connection open for a while, so reading to the end would wait for that).
fn vless_request(
    vless_port: u16,
    uuid: &uuid::Uuid,
    target_port: u16,
    payload: &[u8],
    expect: usize,
) -> usize {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", vless_port)) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut header = Vec::with_capacity(26 + payload.len());
    header.push(0); // version
    header.extend_from_slice(uuid.as_bytes());
    header.push(0); // no addons
    header.push(1); // TCP
    header.extend_from_slice(&target_port.to_be_bytes());
    header.push(1); // IPv4
    header.extend_from_slice(&[127, 0, 0, 1]);
    header.extend_from_slice(payload);
    if s.write_all(&header).is_err() {
        return 0;
    }
    let mut got = 0;
    let mut buf = [0u8; 4096];
    while got < expect {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    got
}

/// Moves some bytes through every key in `uuids`, 8 connections at a time.
fn traffic_through(vless_port: u16, uuids: &[uuid::Uuid], files_port: u16) {
    let payload =
        format!("GET /f HTTP/1.1\r\nHost: 127.0.0.1:{files_port}\r\nConnection: close\r\n\r\n");
    std::thread::scope(|scope| {
        for chunk in uuids.chunks(uuids.len().div_ceil(8).max(1)) {
            let payload = payload.as_bytes();
            scope.spawn(move || {
                for uuid in chunk {
                    // The VLESS response header (2 bytes), then the file server's answer.
                    vless_request(vless_port, uuid, files_port, payload, 2 + ANSWER);
                }
            });
        }
    });
}

fn real_point(rt: &tokio::runtime::Runtime, keys: u64) {
    let dir = tempdir();
    let server = rt.block_on(V2rayServer::start(dir.path(), &[]));
    let files = HttpFileServer::start(vec![7u8; BODY]);
    let files_port: u16 = files
        .url()
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap();
    let d = start_veild(
        dir.path(),
        CoreSection::v2fly(&server.api_addr(), server.config_path()),
    );
    create_keys(&d, keys);
    report_rss("real", keys, &d);
    let mut uuids = Vec::with_capacity(keys as usize);
    let mut offset = 0;
    while offset < keys {
        let page = d.call(
            "key.list",
            json!({"offset": offset, "limit": BULK, "state": "active"}),
        );
        for k in page["keys"].as_array().unwrap() {
            uuids.push(uuid::Uuid::parse_str(k["uuid"].as_str().unwrap()).unwrap());
        }
        offset += BULK;
    }
    let start = Instant::now();
    traffic_through(server.vless_port(), &uuids, files_port);
    let served = files.served();
    eprintln!(
        "real {keys}: {served} requests through the core in {:.1?}",
        start.elapsed()
    );
    d.call("traffic.sync", json!({}));
    let tenth: Vec<uuid::Uuid> = uuids.iter().step_by(10).copied().collect();
    // Each cycle after traffic through every key / a tenth of them (not timed: only the
    // cycle is).
    measure("real", keys, &d, "all moved", || {
        traffic_through(server.vless_port(), &uuids, files_port);
    });
    measure("real", keys, &d, "1/10 moved", || {
        traffic_through(server.vless_port(), &tenth, files_port);
    });
    measure("real", keys, &d, "idle", || {});
}
