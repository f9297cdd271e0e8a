//! The HTTP API's throughput and latency: veild's service in process (REALITY config, the
//! fake Xray core answering the API) with 10,000 keys, served by the real `[http]` listener
//! (`veild::http::bind` + `serve`: tokens, limits raised since every client here is
//! 127.0.0.1, headers, the bounded accept loop); 100 clients on keep-alive connections
//! with a bearer token, first reading `GET /api/keys/{id}` of random keys, then creating
//! keys with `POST /api/keys`.
//!
//! Run: `cargo bench -p veild --bench http`. Prints figures; asserts nothing about speed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/daemon.rs"]
#[allow(dead_code)]
mod daemon;

#[path = "../tests/support/core_harness.rs"]
#[allow(dead_code)]
mod core_harness;

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;
use veil_shared::api::{Actor, KeyCreateBulk};
use veil_shared::token::TokenAdd;

const KEYS: u32 = 10_000;
const CLIENTS: usize = 100;
const READS_PER_CLIENT: usize = 200;
const CREATES_PER_CLIENT: usize = 10;

/// One request on a keep-alive connection; the status.
async fn request(
    stream: &mut BufReader<tokio::net::TcpStream>,
    head: &str,
    body: Option<&str>,
) -> u16 {
    let mut out = head.to_owned();
    if let Some(body) = body {
        out.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        out.push_str("\r\n");
    }
    stream.get_mut().write_all(out.as_bytes()).await.unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut length = 0usize;
    for _ in 0..100 {
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
    let mut rest = vec![0; length];
    stream.read_exact(&mut rest).await.unwrap();
    status
}

/// Prints one run's figures, and a `summary ID VALUE` line of its p99 for scripts/bench.
fn report(what: &str, id: &str, mut all: Vec<Duration>, wall: Duration) {
    all.sort();
    let at = |p: f64| all[((all.len() as f64 - 1.0) * p).round() as usize];
    println!("summary {id}_p99_ms {:.3}", at(0.99).as_secs_f64() * 1e3);
    println!(
        "summary {id}_per_s {:.0}",
        all.len() as f64 / wall.as_secs_f64()
    );
    println!(
        "{what}: {} requests by {CLIENTS} clients ({KEYS} keys) in {wall:.2?}: {:.0}/s; \
         p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        all.len(),
        all.len() as f64 / wall.as_secs_f64(),
        at(0.50),
        at(0.99),
        all[all.len() - 1]
    );
}

/// `CLIENTS` connections, each sending `per_client` requests made by `make(client, i)`.
async fn load<F>(
    addr: std::net::SocketAddr,
    per_client: usize,
    make: F,
) -> (Vec<Duration>, Duration)
where
    F: Fn(usize, usize) -> (String, Option<String>) + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let make = Arc::clone(&make);
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut stream = BufReader::new(stream);
            let mut times = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let (head, body) = make(client, i);
                let t = Instant::now();
                let status = request(&mut stream, &head, body.as_deref()).await;
                times.push(t.elapsed());
                assert!((200..=202).contains(&status), "status {status}");
            }
            times
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    (all, start.elapsed())
}

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
        let ids: Arc<Vec<i64>> = Arc::new(made.keys.iter().map(|k| k.id).collect());
        let token = service
            .token_add(
                &actor,
                TokenAdd {
                    name: "bench".into(),
                    read_only: false,
                    expires_at: None,
                },
            )
            .await
            .unwrap()
            .secret;
        let port = core_harness::free_port();
        let http: veild::config::http::HttpConfig = toml::from_str(&format!(
            "listen = \"127.0.0.1:{port}\"\nrate_per_minute = 100000000\n\
             create_delete_per_minute = 100000000\ntoken_rate_per_minute = 100000000\n\
             max_connections = 1024\n"
        ))
        .unwrap();
        let bound = veild::http::bind(Some(&http)).await.unwrap().unwrap();
        let addr = bound.addr();
        let stop = CancellationToken::new();
        tokio::spawn(veild::http::serve(
            bound,
            Arc::clone(&service),
            stop.clone(),
        ));

        let auth = format!("Authorization: Bearer {token}\r\n");
        let (head_auth, ids2) = (auth.clone(), Arc::clone(&ids));
        let (times, wall) = load(addr, READS_PER_CLIENT, move |client, i| {
            let id = ids2[(client * 7919 + i * 104_729) % ids2.len()];
            (
                format!("GET /api/keys/{id} HTTP/1.1\r\nHost: bench\r\n{head_auth}"),
                None,
            )
        })
        .await;
        report("GET /api/keys/{id}", "http_get", times, wall);

        let (times, wall) = load(addr, CREATES_PER_CLIENT, move |client, i| {
            let body = json!({"name": format!("made-{client}-{i}")}).to_string();
            (
                format!("POST /api/keys HTTP/1.1\r\nHost: bench\r\n{auth}"),
                Some(body),
            )
        })
        .await;
        report("POST /api/keys", "http_post", times, wall);
        stop.cancel();
        running.stop().await;
        drop(fake);
    });
}
