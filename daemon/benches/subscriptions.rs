//! `GET /sub/{token}` throughput and latency: veild's service in process (REALITY config,
//! the fake Xray core answering the API) with 10,000 keys, 1,000 of them with a
//! subscription, behind `veild::subscribe::routes_with_limit` (the per-address limit
//! raised: every client here is 127.0.0.1) on a loopback listener; 100 clients on
//! keep-alive connections fetch random tokens (base64 links, sing-box and mihomo in turn).
//!
//! Run: `cargo bench -p veild --bench subscriptions`. Prints figures; asserts nothing
//! about speed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/daemon.rs"]
#[allow(dead_code)]
mod daemon;

#[path = "../tests/support/core_harness.rs"]
#[allow(dead_code)]
mod core_harness;

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use veil_shared::api::{Actor, KeyCreateBulk, KeySub};
use veil_shared::model::KeyRef;

const KEYS: u32 = 10_000;
const WITH_SUB: usize = 1_000;
const CLIENTS: usize = 100;
const PER_CLIENT: usize = 200;
const AGENTS: [&str; 3] = [
    "v2rayNG/1.9.16",
    "SFA/1.12.0 (1; sing-box 1.12.0; language en)",
    "clash-verge/v2.2.3",
];

/// One GET on a keep-alive connection; the status.
async fn fetch(stream: &mut BufReader<tokio::net::TcpStream>, path: &str, agent: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: {agent}\r\n\r\n");
    stream
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut length = 0usize;
    loop {
        line.clear();
        stream.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    status
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

#[allow(
    clippy::too_many_lines,
    reason = "one run: setup, 100 clients, figures; the steps share the state"
)]
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (fake, running) = common::start(dir.path()).await;
        let service = Arc::clone(&running.service);
        let actor = Actor::Token {
            name: "bench".into(),
            remote: "127.0.0.1".into(),
        };
        let made = service
            .create_bulk(
                &actor,
                KeyCreateBulk {
                    prefix: "bench".into(),
                    count: KEYS,
                },
            )
            .await
            .unwrap();
        let mut paths = Vec::with_capacity(WITH_SUB);
        for key in made.keys.iter().take(WITH_SUB) {
            let sub = KeySub {
                key: KeyRef::Id(key.id),
                rotate: false,
                revoke: false,
            };
            let result = service.key_sub(&actor, sub).await.unwrap();
            paths.push(format!("/sub/{}", result.token.unwrap()));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = veild::subscribe::routes_with_limit(Arc::clone(&service), 1_000_000, 1_000_000);
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });

        let paths = Arc::new(paths);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for client in 0..CLIENTS {
            let paths = Arc::clone(&paths);
            tasks.push(tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                let mut stream = BufReader::new(stream);
                let mut times = Vec::with_capacity(PER_CLIENT);
                for i in 0..PER_CLIENT {
                    let path = &paths[(client * 7919 + i * 104_729) % paths.len()];
                    let agent = AGENTS[(client + i) % AGENTS.len()];
                    let t = Instant::now();
                    let status = fetch(&mut stream, path, agent).await;
                    times.push(t.elapsed());
                    assert_eq!(status, 200);
                }
                times
            }));
        }
        let mut all = Vec::with_capacity(CLIENTS * PER_CLIENT);
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        let wall = start.elapsed();
        all.sort();
        println!(
            "GET /sub/{{token}}: {} fetches by {CLIENTS} clients ({} keys, {WITH_SUB} with a \
             subscription) in {wall:.2?}: {:.0}/s; p50 {:.2?}, p99 {:.2?}, max {:.2?}",
            all.len(),
            KEYS,
            all.len() as f64 / wall.as_secs_f64(),
            percentile(&all, 0.50),
            percentile(&all, 0.99),
            all[all.len() - 1]
        );
        println!(
            "summary sub_p99_ms {:.3}",
            percentile(&all, 0.99).as_secs_f64() * 1e3
        );
        running.stop().await;
        drop(fake);
    });
}
