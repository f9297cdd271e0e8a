//! Backup size and time of the real `veild` (release build) with 10,000 keys, a real core
//! (Debian v2ray) behind it:
//! - the database with 10,000 keys and their audit rows;
//! - the same with a month of traffic history per key (30 days of hourly and daily rows,
//!   7.5 million rows, written straight into the stopped daemon's database);
//! - a backup taken while 8 clients create keys as fast as veild takes them;
//! - `veild --restore` of that copy.
//!
//! Run: `cargo bench -p veild --bench backup` (or `scripts/bench`). Prints figures; asserts
//! nothing about speed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/daemon.rs"]
#[allow(dead_code)]
mod daemon;

#[path = "../tests/support/core_harness.rs"]
#[allow(dead_code)]
mod core_harness;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use core_harness::V2rayServer;
use daemon::{CoreSection, Daemon, DaemonConfig, RawClient};

const KEYS: u64 = 10_000;
const DAYS: i64 = 30;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn report(what: &str, r: &Value, wall: Duration) {
    println!(
        "{what:<44} {:>8.1} MiB, {:>6} keys, {:>6} audit rows; took {} ms (wall {wall:.0?})",
        mib(r["bytes"].as_u64().unwrap()),
        r["keys"],
        r["audit_rows"],
        r["took_ms"],
    );
}

fn backup(d: &Daemon, to: &Path) -> (Value, Duration) {
    let start = Instant::now();
    let r = RawClient::connect_waiting(&d.socket, Duration::from_secs(600))
        .call("backup", json!({"to": to.to_str().unwrap()}));
    (r, start.elapsed())
}

/// A month of hourly and daily rows for every key, as the poller would have left them.
fn fill_history(db: &Path) {
    let mut conn = rusqlite::Connection::open(db).unwrap();
    let tx = conn.transaction().unwrap();
    let ids: Vec<i64> = {
        let mut stmt = tx.prepare("SELECT id FROM keys").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let now_hour = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 3600;
    {
        let mut hour = tx
            .prepare("INSERT INTO traffic_hours (key_id, hour, uplink, downlink) VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        let mut day = tx
            .prepare(
                "INSERT INTO traffic_days (key_id, day, uplink, downlink) VALUES (?1, ?2, ?3, ?4)",
            )
            .unwrap();
        for id in &ids {
            for h in 0..DAYS * 24 {
                let n = (id * 7919 + h * 104_729) % 50_000_000;
                hour.execute((id, now_hour - h, n, n * 9)).unwrap();
            }
            for d in 0..DAYS {
                let n = (id * 7919 + d * 104_729) % 900_000_000;
                day.execute((id, now_hour / 24 - d, n, n * 9)).unwrap();
            }
        }
    }
    tx.commit().unwrap();
}

/// A backup taken while 8 clients create keys as fast as veild answers; returns its path.
fn backup_under_load(d: &Daemon, dir: &Path) -> std::path::PathBuf {
    // Under load: 8 clients creating keys while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let created = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let (socket, stop, created) = (d.socket.clone(), stop.clone(), created.clone());
            std::thread::spawn(move || {
                let mut c = RawClient::connect(&socket);
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) && i < 10_000 {
                    c.call("key.create", json!({"name": format!("load-{t}-{i}")}));
                    created.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let before = created.load(Ordering::Relaxed);
    let under_load = dir.join("under-load.db");
    let (r, wall) = backup(d, &under_load);
    let during = created.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    report("the same, 8 clients creating keys meanwhile:", &r, wall);
    println!("(keys created while the backup ran: {during})");
    under_load
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("backup bench: run with `cargo bench -p veild --bench backup`");
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
    let server = rt.block_on(V2rayServer::start(dir.path(), &[]));
    let cfg = DaemonConfig {
        core: Some(CoreSection::v2fly(&server.api_addr(), server.config_path())),
        ..Default::default()
    };
    let mut d = Daemon::start_with(dir.path(), &cfg);
    d.raw()
        .call("key.create_bulk", json!({"count": KEYS, "prefix": "fill"}));

    let (r, wall) = backup(&d, &dir.path().join("keys.db"));
    report("10,000 keys:", &r, wall);

    d.stop();
    let start = Instant::now();
    fill_history(&d.database);
    println!(
        "(history: {} rows written in {:.1?})",
        KEYS as i64 * DAYS * 25,
        start.elapsed()
    );
    d.restart();
    let (r, wall) = backup(&d, &dir.path().join("history.db"));
    report("10,000 keys + 30 days of history:", &r, wall);

    let under_load = backup_under_load(&d, dir.path());

    d.stop();
    let start = Instant::now();
    let out = std::process::Command::new(daemon::veild_bin())
        .arg("--config")
        .arg(&d.config)
        .arg("--restore")
        .arg(&under_load)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("veild --restore of that copy: {:.0?}", start.elapsed());
    let start = Instant::now();
    d.restart();
    println!(
        "veild start on the restored database (resync with the core): {:.0?}",
        start.elapsed()
    );
}
