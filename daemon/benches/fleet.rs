//! A fleet of three nodes on one PostgreSQL registry (a throwaway cluster, Debian's
//! server), each veild with its own real v2ray core:
//! 1. 10,000 keys created on node A (one `key.create_bulk`): the time until every key is
//!    live on A, B and C;
//! 2. the steady state afterwards (no change, no traffic) over 30 s: each node's CPU and
//!    its PostgreSQL statements per minute (pg_stat_statements, by the node's role).
//!
//! Run: `cargo bench -p veild --bench fleet` (or `scripts/bench fleet`). Prints figures;
//! asserts nothing about speed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/daemon.rs"]
#[allow(dead_code)]
mod daemon;

#[path = "../tests/support/core_harness.rs"]
#[allow(dead_code)]
mod core_harness;

#[path = "../tests/support/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use std::time::{Duration, Instant};

use serde_json::json;

use core_harness::V2rayServer;
use daemon::{CoreSection, Daemon, DaemonConfig, poll_until};
use postgres::Postgres;

const KEYS: u64 = 10_000;
const CONVERGE: Duration = Duration::from_secs(600);
const STEADY: Duration = Duration::from_secs(30);
const NODES: [&str; 3] = ["a", "b", "c"];

/// CPU seconds (user + system) of a process so far.
fn cpu_secs(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // USER_HZ is 100 on Linux.
    ticks / 100.0
}

/// Statements the node's role ran so far.
fn statements(pg: &Postgres, node: &str) -> u64 {
    pg.psql(&format!(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid \
          WHERE r.rolname = 'veil_node_{node}'"
    ))
    .parse()
    .unwrap()
}

#[allow(
    clippy::too_many_lines,
    reason = "the benchmark's steps in the order they run"
)]
fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("fleet bench: run with `cargo bench -p veild --bench fleet`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pg = Postgres::start_with("-c shared_preload_libraries=pg_stat_statements");
    pg.psql("CREATE EXTENSION pg_stat_statements");
    pg.fleet_admin(&["init"]);
    let secrets = tempfile::tempdir().unwrap();
    let mut nodes = Vec::new();
    for name in NODES {
        let file = secrets.path().join(name);
        pg.fleet_admin(&["add-node", name, "--password-file", file.to_str().unwrap()]);
        let password = std::fs::read_to_string(&file).unwrap().trim().to_owned();
        let dir = tempfile::Builder::new()
            .prefix("veil-bench-fleet-")
            .tempdir()
            .unwrap();
        let server = rt.block_on(V2rayServer::start(dir.path(), &[]));
        let d = Daemon::start_with(
            dir.path(),
            &DaemonConfig {
                core: Some(CoreSection::v2fly(&server.api_addr(), server.config_path())),
                extra_toml: format!(
                    "[fleet]\nnode = \"{name}\"\ndatabase = \"{}\"\n",
                    pg.node_url(&format!("veil_node_{name}"), &password)
                ),
                ..Default::default()
            },
        );
        d.wait_health("core and registry up", CONVERGE, |h| {
            h["core"]["status"] == "up" && h["fleet"]["up"] == true
        });
        nodes.push((name, dir, server, d));
    }
    println!(
        "fleet: 3 nodes (v2ray 4.34 each), PostgreSQL on 127.0.0.1:{}",
        pg.port()
    );

    // (1) 10,000 keys made on A, until live on every node.
    let start = Instant::now();
    let bulk = nodes[0]
        .3
        .raw()
        .call("key.create_bulk", json!({"count": KEYS, "prefix": "fleet"}));
    let replied = start.elapsed();
    assert_eq!(bulk["keys"].as_array().unwrap().len() as u64, KEYS);
    let mut live_at = Vec::new();
    let mut pending: Vec<usize> = (0..nodes.len()).collect();
    poll_until(CONVERGE, Duration::from_millis(20), || {
        pending.retain(|&i| {
            let h = nodes[i].3.health();
            let done = h["database"]["keys"]["active"] == KEYS && h["pending"] == 0;
            if done {
                live_at.push((nodes[i].0, start.elapsed()));
            }
            !done
        });
        pending.is_empty().then_some(())
    })
    .expect("every node converges");
    println!("create_bulk {KEYS} on a: reply after {replied:.2?}");
    for (name, at) in &live_at {
        println!("  all {KEYS} live on {name} after {at:.2?}");
    }
    let slowest = live_at.iter().map(|(_, at)| *at).max().unwrap();
    println!("summary fleet_converge_10k_s {:.3}", slowest.as_secs_f64());

    // (2) Steady state: nothing changes; each node re-reads, exchanges traffic, beats.
    for node in &nodes {
        node.3.wait_no_pending(CONVERGE);
    }
    let before: Vec<(f64, u64)> = nodes
        .iter()
        .map(|n| (cpu_secs(n.3.pid()), statements(&pg, n.0)))
        .collect();
    let window = Instant::now();
    // The window itself: nothing to wait for but time (bounded by STEADY).
    poll_until(
        STEADY + Duration::from_secs(1),
        Duration::from_millis(500),
        || (window.elapsed() >= STEADY).then_some(()),
    );
    let secs = window.elapsed().as_secs_f64();
    let mut worst_cpu = 0.0_f64;
    let mut worst_q = 0.0_f64;
    for (node, (cpu0, q0)) in nodes.iter().zip(before) {
        let cpu = (cpu_secs(node.3.pid()) - cpu0) / secs * 100.0;
        let q = (statements(&pg, node.0) - q0) as f64 / secs * 60.0;
        worst_cpu = worst_cpu.max(cpu);
        worst_q = worst_q.max(q);
        println!(
            "steady state {} with {KEYS} keys: {cpu:.2}% of one core, {q:.0} PostgreSQL statements/min",
            node.0
        );
    }
    println!("summary fleet_steady_cpu_pct {worst_cpu:.2}");
    println!("summary fleet_steady_queries_per_min {worst_q:.0}");
    drop(nodes);
}
