//! Keys into the real core (Debian v2ray 4.34), in one run against the same core:
//! 1. bulk create of 10,000 keys through veild's socket (one `key.create_bulk` call), timed
//!    until every key is live;
//! 2. the raw floor: 10,000 AddUser calls straight to the core, pipelined;
//! 3. their ratio (goal <= 1.2);
//! 4. the config file writes veild used for the bulk;
//! 5. the resync of 10,000 keys into a freshly started core (kill -9, start again).
//!
//! Run: `cargo bench -p veild --bench core` (or `scripts/bench`). Prints figures; asserts
//! nothing about speed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/daemon.rs"]
#[allow(dead_code)]
mod daemon;

#[path = "../tests/support/core_harness.rs"]
#[allow(dead_code)]
mod core_harness;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinSet;

use core_harness::{V2rayServer, VLESS_TAG};
use daemon::{CoreSection, Daemon, DaemonConfig};
use veild::corelink::{AddOutcome, CoreUser, RemoveOutcome};

const KEYS: u32 = 10_000;
/// AddUser calls in flight for the raw floor.
const IN_FLIGHT: usize = 128;
const CONVERGE: Duration = Duration::from_secs(600);

fn per_sec(n: u32, took: Duration) -> f64 {
    f64::from(n) / took.as_secs_f64()
}

/// Sends `users` to the core, `IN_FLIGHT` at a time; with `remove`, removes them instead.
async fn pipelined(link: &veild::corelink::CoreLink, users: &[CoreUser], remove: bool) {
    let mut set = JoinSet::new();
    for user in users {
        while set.len() >= IN_FLIGHT {
            set.join_next().await.unwrap().unwrap();
        }
        let (link, user) = (link.clone(), user.clone());
        set.spawn(async move {
            if remove {
                let outcome = link.remove_user(VLESS_TAG, &user.email).await.unwrap();
                assert_eq!(outcome, RemoveOutcome::Removed);
            } else {
                let outcome = link.add_user(VLESS_TAG, &user).await.unwrap();
                assert_eq!(outcome, AddOutcome::Added);
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
}

fn writes(health: &Value) -> u64 {
    health["config"]["writes"].as_u64().unwrap_or(0)
}

#[allow(
    clippy::too_many_lines,
    reason = "the benchmark's steps in the order they run"
)]
fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("core bench: run with `cargo bench -p veild --bench core`");
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("veil-bench-core-")
        .tempdir()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut server = rt.block_on(V2rayServer::start(dir.path(), &[]));
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            core: Some(CoreSection::v2fly(&server.api_addr(), server.config_path())),
            ..Default::default()
        },
    );
    d.wait_health("core up", CONVERGE, |h| h["core"]["status"] == "up");
    println!("core: {} (v2ray 4.34), {KEYS} keys", server.api_addr());

    // (2) The raw floor first, on the same core; its users are removed again afterwards so
    // the bulk meets the same empty inbound.
    let raw: Vec<CoreUser> = (0..KEYS)
        .map(|n| CoreUser {
            email: format!("raw-{n}@bench"),
            uuid: uuid::Uuid::new_v4().to_string(),
            level: 0,
            flow: String::new(),
        })
        .collect();
    let link = rt.block_on(async { server.link() });
    let start = Instant::now();
    rt.block_on(pipelined(&link, &raw, false));
    let raw_took = start.elapsed();
    let start = Instant::now();
    rt.block_on(pipelined(&link, &raw, true));
    let raw_remove_took = start.elapsed();

    // (1) Bulk create through the socket, until every key is live.
    let before = d.wait_no_pending(CONVERGE);
    let mut c = d.raw();
    let start = Instant::now();
    let bulk = c.call("key.create_bulk", json!({"count": KEYS, "prefix": "bench"}));
    let replied = start.elapsed();
    let pending_in_reply = bulk["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["pending"] == true)
        .count();
    let after = if pending_in_reply == 0 {
        d.health()
    } else {
        d.wait_no_pending(CONVERGE)
    };
    let bulk_took = start.elapsed();
    if std::env::var_os("VEIL_BENCH_LOG").is_some() {
        for line in d.log_text().lines().filter(|l| l.contains("applier pass")) {
            println!("  {line}");
        }
    }
    let bulk_writes = writes(&after) - writes(&before);

    println!(
        "bulk create via socket:  {KEYS} keys live in {bulk_took:.2?} = {:.0} keys/s \
         (reply after {replied:.2?}, {pending_in_reply} pending in it)",
        per_sec(KEYS, bulk_took)
    );
    println!(
        "raw floor (AddUser x{KEYS}, {IN_FLIGHT} in flight): {raw_took:.2?} = {:.0} users/s \
         (RemoveUser x{KEYS}: {raw_remove_took:.2?})",
        per_sec(KEYS, raw_took)
    );
    println!(
        "ratio bulk / raw:        {:.2} (goal <= 1.2)",
        bulk_took.as_secs_f64() / raw_took.as_secs_f64()
    );
    println!("config writes for bulk:  {bulk_writes}");
    println!("summary bulk_s {:.4}", bulk_took.as_secs_f64());
    println!("summary raw_s {:.4}", raw_took.as_secs_f64());

    // (5) Resync into a freshly started core.
    let last = after["core"]["last_resync"].clone();
    server.kill9();
    let start = Instant::now();
    rt.block_on(server.start_again());
    let core_up = start.elapsed();
    let health = d.wait_health("a resync after the core restart", CONVERGE, |h| {
        h["core"]["last_resync"] != last && h["core"]["last_resync"]["keys"].as_u64() >= Some(1)
    });
    let wall = start.elapsed();
    let r = &health["core"]["last_resync"];
    println!(
        "resync after kill -9:    {} keys in {} ms (veild's figure, reason {}); \
         wall {wall:.2?} from core start, core API up after {core_up:.2?}",
        r["keys"], r["duration_ms"], r["reason"]
    );
    if let Some(ms) = r["duration_ms"].as_f64() {
        println!("summary resync_s {:.4}", ms / 1e3);
    }
    let settled = d.wait_no_pending(CONVERGE);
    println!(
        "after the resync:        {} pending, {} config writes in all",
        settled["pending"],
        writes(&settled)
    );
}
