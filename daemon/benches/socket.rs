//! Socket throughput and latency of the real `veild` binary (release build), with a real
//! core (Debian v2ray) behind it, so every create is answered only once it is live in the
//! core (the config file follows within `core.file_delay_ms`):
//! - `key.create` throughput with 1 client and with 100 concurrent clients;
//! - `key.get` p50/p99 with 10,000 keys in the database.
//!
//! Run: `cargo bench -p veild --bench socket` (or `scripts/bench`). Prints figures; asserts
//! nothing about speed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/daemon.rs"]
#[allow(dead_code)]
mod daemon;

#[path = "../tests/support/core_harness.rs"]
#[allow(dead_code)]
mod core_harness;

use std::time::{Duration, Instant};

use serde_json::json;

use core_harness::V2rayServer;
use daemon::{CoreSection, Daemon, DaemonConfig, RawClient};

/// veild with a freshly started real core in `dir`.
fn start_veild(rt: &tokio::runtime::Runtime, dir: &std::path::Path) -> (V2rayServer, Daemon) {
    let server = rt.block_on(V2rayServer::start(dir, &[]));
    let d = Daemon::start_with(
        dir,
        &DaemonConfig {
            core: Some(CoreSection::v2fly(&server.api_addr(), server.config_path())),
            ..Default::default()
        },
    );
    d.wait_health("core up", Duration::from_secs(60), |h| {
        h["core"]["status"] == "up"
    });
    (server, d)
}

fn per_sec(n: usize, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

#[allow(
    clippy::too_many_lines,
    reason = "the benchmark's steps in the order they run"
)]
fn main() {
    // `cargo bench` passes --bench; a plain `cargo test --benches` run passes nothing and
    // would otherwise spend a minute here.
    if !std::env::args().any(|a| a == "--bench") {
        println!("socket bench: run with `cargo bench -p veild --bench socket`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::Builder::new()
        .prefix("veil-bench-")
        .tempdir()
        .unwrap();
    let (_core, d) = start_veild(&rt, dir.path());

    // 1 client, sequential creates (each answered once live in the core).
    let n = 500;
    let mut c = d.raw();
    let start = Instant::now();
    for i in 0..n {
        c.call("key.create", json!({"name": format!("one-{i}")}));
    }
    let took = start.elapsed();
    println!(
        "key.create, 1 client:        {n} keys in {took:.2?} = {:.0} keys/s",
        per_sec(n, took)
    );
    println!("summary create_1 {:.0}", per_sec(n, took));

    // 100 concurrent clients, 100 creates each.
    let clients = 100;
    let each = 100;
    let socket = d.socket.clone();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|t| {
            let socket = socket.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut c = RawClient::connect(&socket);
                barrier.wait();
                for i in 0..each {
                    c.call("key.create", json!({"name": format!("many-{t}-{i}")}));
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for t in threads {
        t.join().unwrap();
    }
    let took = start.elapsed();
    let total = clients * each;
    println!(
        "key.create, 100 clients:     {total} keys in {took:.2?} = {:.0} keys/s",
        per_sec(total, took)
    );
    println!("summary create_100 {:.0}", per_sec(total, took));

    drop(d);

    // A fresh database with exactly 10,000 keys, then key.get by id, UUID and name.
    let dir = tempfile::Builder::new()
        .prefix("veil-bench-")
        .tempdir()
        .unwrap();
    let (_core, d) = start_veild(&rt, dir.path());
    let start = Instant::now();
    d.raw().call(
        "key.create_bulk",
        json!({"count": 10_000, "prefix": "fill"}),
    );
    println!(
        "key.create_bulk, 10,000:     one call in {:.2?}",
        start.elapsed()
    );
    let keys = d.raw().call("key.list", json!({}))["keys"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(keys.len(), 10_000);
    let mut lat = Vec::with_capacity(keys.len());
    let mut c = d.raw();
    let start = Instant::now();
    for (i, k) in keys.iter().enumerate() {
        let key = match i % 3 {
            0 => k["id"].clone(),
            1 => k["uuid"].clone(),
            _ => k["name"].clone(),
        };
        let t = Instant::now();
        c.call("key.get", json!({"key": key}));
        lat.push(t.elapsed());
    }
    let took = start.elapsed();
    lat.sort();
    println!(
        "key.get, 10,000 keys in db:  {} lookups (id/uuid/name) in {took:.2?}; p50 {:.0?} p99 {:.0?} max {:.0?}",
        lat.len(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        lat[lat.len() - 1]
    );
}
