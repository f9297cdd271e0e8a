//! Disable that really disconnects, over real TCP on loopback:
//! - three v2ray clients, each leaving from its own loopback address (127.0.0.2, .3, .4),
//!   hold long downloads through the real v2ray's VLESS inbound; veild manages that port
//!   and asks the fake Xray core for each key's online addresses, which the test sets to
//!   what the kernel shows for the real sockets (checked against the sock_diag dump);
//! - disabling one key ends exactly its download, within a second of the reply; the other
//!   two complete byte-exact; a connection from the same address to another port lives on;
//!   the cut is in the audit trail, `health` and the key's `event.disconnect`;
//! - veild without CAP_NET_ADMIN (setpriv drops it) says cutting is unavailable, and
//!   disabling works as before.
//!
//! Every wait is a bounded poll on a condition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::core_harness::{FakeXrayCore, V2rayClient, V2rayServer, free_port, test_bytes};
use support::daemon::{CoreSection, Daemon, DaemonConfig, minimal_v2fly_core_config, poll_until};
use support::{serial, tempdir};
use veild::applier::email_for;
use veild::disconnect::sockdiag;

const CONVERGE: Duration = Duration::from_secs(30);
/// Long enough to be mid-transfer when the key is disabled: about 4 s at the pace below.
const BODY_LEN: usize = 6 << 20;
const CHUNK: usize = 16 << 10;
const PACE: Duration = Duration::from_millis(10);

/// An HTTP server that sends one body slowly (a chunk per `PACE`), counting responses
/// begun, so a test knows when every download is under way.
struct SlowServer {
    port: u16,
    begun: Arc<AtomicUsize>,
}

impl SlowServer {
    fn start(body: Arc<Vec<u8>>) -> SlowServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let begun = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&begun);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (body, begun) = (Arc::clone(&body), Arc::clone(&counter));
                std::thread::spawn(move || serve_slowly(conn, &body, &begun));
            }
        });
        SlowServer { port, begun }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/long.bin", self.port)
    }
}

fn serve_slowly(mut conn: TcpStream, body: &[u8], begun: &AtomicUsize) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 << 10 {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let header = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if conn.write_all(header.as_bytes()).is_err() {
        return;
    }
    for (i, chunk) in body.chunks(CHUNK).enumerate() {
        if conn.write_all(chunk).is_err() {
            return;
        }
        if i == 0 {
            begun.fetch_add(1, Ordering::SeqCst);
        }
        std::thread::sleep(PACE); // the pace of the download, not a wait for anything
    }
}

/// One download through a client's HTTP proxy, read as it arrives.
struct Download {
    /// The body received (all of it, or up to where it stopped).
    body: Vec<u8>,
    complete: bool,
    /// When the last byte arrived.
    last_byte: Instant,
}

/// GETs `url` through `proxy`, reading until the body is complete, the connection ends,
/// or nothing arrives for `SILENCE` (a tunnel cut without a close reaching this side).
fn download(proxy: SocketAddr, url: &str) -> Download {
    const SILENCE: Duration = Duration::from_secs(3);
    let host = url.trim_start_matches("http://").split('/').next().unwrap();
    let mut stream = TcpStream::connect(proxy).unwrap();
    stream.set_read_timeout(Some(SILENCE)).unwrap();
    let request = format!("GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let mut last_byte = Instant::now();
    let mut chunk = [0u8; 64 << 10];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                raw.extend_from_slice(&chunk[..n]);
                last_byte = Instant::now();
                let done = raw
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .is_some_and(|end| raw.len() - (end + 4) >= BODY_LEN);
                if done {
                    break;
                }
            }
        }
    }
    let body = match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => raw.split_off(end + 4),
        None => Vec::new(),
    };
    Download {
        complete: body.len() == BODY_LEN,
        body,
        last_byte,
    }
}

struct Fleet {
    d: Daemon,
    fake: FakeXrayCore,
    server: V2rayServer,
    port: u16,
    /// (key id, source address, client)
    clients: Vec<(i64, IpAddr, V2rayClient)>,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// veild on the fake Xray core (for the online map) managing port `port`, where a real
/// v2ray serves the keys alpha, beta and gamma to clients from 127.0.0.2, .3 and .4.
fn start(wrapper: &[&str], sources: [u8; 3]) -> Fleet {
    let dir = tempdir();
    let rt = support::runtime();
    let fake = rt.block_on(FakeXrayCore::start());
    let port = free_port();
    let core_config = dir.path().join("core.json");
    let mut json = minimal_v2fly_core_config(free_port(), port, &[]);
    json["policy"]["levels"]["0"]["statsUserOnline"] = json!(true);
    std::fs::write(&core_config, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            core: Some(CoreSection::xray(&fake.api_addr(), &core_config)),
            wrapper: wrapper.iter().map(|w| (*w).to_owned()).collect(),
            ..DaemonConfig::default()
        },
    );
    d.wait_core_up(CONVERGE);
    let mut keys = Vec::new();
    for name in ["alpha", "beta", "gamma"] {
        let key = d.call("key.create", json!({ "name": name }));
        assert_eq!(key["applied"], "active", "{key}");
        keys.push((
            key["id"].as_i64().unwrap(),
            key["uuid"].as_str().unwrap().to_owned(),
        ));
    }
    let emails: Vec<String> = keys.iter().map(|(id, _)| email_for(*id)).collect();
    let server_clients: Vec<(&str, &str)> = keys
        .iter()
        .zip(&emails)
        .map(|((_, uuid), email)| (uuid.as_str(), email.as_str()))
        .collect();
    let server_dir = dir.path().join("v2ray");
    std::fs::create_dir_all(&server_dir).unwrap();
    let server = rt.block_on(V2rayServer::start_on(&server_dir, &server_clients, port));
    let clients = keys
        .iter()
        .enumerate()
        .map(|(i, (id, uuid))| {
            let source: IpAddr = format!("127.0.0.{}", sources[i]).parse().unwrap();
            let client = V2rayClient::start_from(dir.path(), port, uuid, &source.to_string());
            (*id, source, client)
        })
        .collect();
    Fleet {
        d,
        fake,
        server,
        port,
        clients,
        _rt: rt,
        _dir: dir,
    }
}

impl Fleet {
    /// Tells the fake core each key's online address, after checking that the kernel
    /// shows exactly those addresses connected to the inbound.
    fn report_online(&self) {
        let shown: BTreeSet<IpAddr> = sockdiag::established(self.port)
            .unwrap()
            .iter()
            .map(sockdiag::Conn::peer_ip)
            .collect();
        let expected: BTreeSet<IpAddr> = self.clients.iter().map(|(_, ip, _)| *ip).collect();
        assert_eq!(
            shown, expected,
            "the inbound's connections are not the clients'"
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        for (id, ip, _) in &self.clients {
            self.fake
                .set_online(&email_for(*id), &[(&ip.to_string(), now)]);
        }
    }

    /// Starts every client's download; returns when all are under way.
    fn downloads(&self, slow: &SlowServer) -> Vec<JoinHandle<Download>> {
        let handles = self
            .clients
            .iter()
            .map(|(_, _, client)| {
                let (proxy, url) = (client.proxy_addr(), slow.url());
                std::thread::spawn(move || download(proxy, &url))
            })
            .collect();
        poll_until(CONVERGE, Duration::from_millis(5), || {
            (slow.begun.load(Ordering::SeqCst) >= 3).then_some(())
        })
        .expect("all three downloads under way");
        handles
    }
}

/// The key's `key.disconnect` entry in the audit trail.
fn cut_entry(d: &Daemon, key_id: i64) -> Value {
    let audit = d.call("audit.list", json!({ "key": key_id }));
    audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["method"] == "key.disconnect")
        .cloned()
        .unwrap_or_else(|| panic!("no key.disconnect in {audit}"))
}

/// A plain TCP echo listener on another port, and a connection to it from `source`.
fn side_connection(source: IpAddr) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = listener.local_addr().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::new(source, 0).into()).unwrap();
    socket.connect(&to.into()).unwrap();
    let (served, _) = listener.accept().unwrap();
    (socket.into(), served)
}

#[test]
fn disabling_a_key_cuts_exactly_its_connections() {
    let _guard = serial();
    let f = start(&[], [2, 3, 4]);
    let health = f.d.health();
    assert_eq!(health["disconnect"]["state"], "on", "{health}");

    let body = Arc::new(test_bytes(BODY_LEN, 14));
    let slow = SlowServer::start(Arc::clone(&body));
    let (alpha_id, alpha_ip, _) = &f.clients[0];
    let (mut side, mut side_served) = side_connection(*alpha_ip);
    let mut watch = f.d.raw();
    watch.call("watch", json!({}));
    let downloads = f.downloads(&slow);
    f.report_online();

    let asked = Instant::now();
    let disabled = f.d.call("key.disable", json!({ "key": alpha_id }));
    let replied = Instant::now();
    assert_eq!(disabled["state"], "disabled", "{disabled}");

    let mut ends = downloads.into_iter().map(|h| h.join().unwrap());
    let alpha = ends.next().unwrap();
    assert!(
        !alpha.complete,
        "alpha's download was not cut: {}",
        f.d.log_text()
    );
    assert!(
        alpha.body[..] == body[..alpha.body.len()],
        "alpha's bytes changed"
    );
    let after_reply = alpha.last_byte.saturating_duration_since(replied);
    println!(
        "disable → reply {:?}; disable → alpha's last byte {:?} ({} of {BODY_LEN} bytes)",
        replied - asked,
        alpha.last_byte.saturating_duration_since(asked),
        alpha.body.len()
    );
    assert!(
        after_reply <= Duration::from_secs(1),
        "{after_reply:?}; veild's log:\n{}",
        f.d.log_text()
    );
    for other in ends {
        assert!(
            other.complete && other.body == *body,
            "another key's download changed"
        );
    }
    // Alpha's tunnel is gone from the kernel's table; beta's and gamma's are not.
    let peers = || -> BTreeSet<IpAddr> {
        sockdiag::established(f.port)
            .unwrap()
            .iter()
            .map(sockdiag::Conn::peer_ip)
            .collect()
    };
    assert!(!peers().contains(alpha_ip), "{:?}", peers());

    // The same address's connection to another port is untouched.
    side.write_all(b"still here").unwrap();
    let mut buf = [0u8; 10];
    side_served.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"still here");

    // Told everywhere: the audit trail, health, the watchers.
    let entry = cut_entry(&f.d, *alpha_id);
    let detail = entry["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("disconnected 1 connection from 1 address (127.0.0.2)"),
        "{detail}"
    );
    assert_eq!(
        entry["actor"],
        json!({"kind": "daemon", "task": "disconnect"})
    );
    let health = f.d.health();
    assert_eq!(health["disconnect"]["connections_cut"], 1, "{health}");
    // Each read waits for the next line (bounded by the client's read timeout).
    let event = (0..1000)
        .map(|_| watch.read_line())
        .find(|line: &Value| line["method"] == "event.disconnect")
        .expect("an event.disconnect");
    assert_eq!(event["params"]["key_id"], *alpha_id);
    assert_eq!(event["params"]["addresses"], json!(["127.0.0.2"]));
    assert!(f.server.is_running());
}

#[test]
fn without_cap_net_admin_cutting_is_unavailable_and_disable_still_works() {
    let _guard = serial();
    let f = start(
        &[
            "setpriv",
            "--inh-caps=-net_admin",
            "--bounding-set=-net_admin",
            "--",
        ],
        [2, 3, 4],
    );
    let health = f.d.health();
    assert_eq!(health["disconnect"]["state"], "unavailable", "{health}");
    assert_eq!(
        health["disconnect"]["reason"], "veild lacks CAP_NET_ADMIN",
        "{health}"
    );
    let (id, _, _) = &f.clients[1];
    let disabled = f.d.call("key.disable", json!({ "key": id }));
    assert_eq!(disabled["state"], "disabled");
    assert_eq!(disabled["applied"], "disabled");
    assert!(
        f.fake
            .users("vless-in")
            .iter()
            .all(|u| u.email != email_for(*id)),
        "the key is still in the core"
    );
    let (code, out, err) = f.d.veil(&["health"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("unavailable: veild lacks CAP_NET_ADMIN"),
        "{out}"
    );
}

/// One household: alpha and gamma share 127.0.0.2. The cut is by address, so gamma's
/// download ends too (its key stays valid: a new connection works at once), and the
/// report says so; beta, elsewhere, is untouched.
#[test]
fn a_shared_address_is_cut_for_every_key_on_it_and_counted() {
    let _guard = serial();
    let f = start(&[], [2, 3, 2]);
    let body = Arc::new(test_bytes(BODY_LEN, 15));
    let slow = SlowServer::start(Arc::clone(&body));
    let downloads = f.downloads(&slow);
    f.report_online();
    let (alpha_id, _, _) = &f.clients[0];
    f.d.call("key.disable", json!({ "key": alpha_id }));
    let ended: Vec<Download> = downloads.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(!ended[0].complete, "alpha's download was not cut");
    assert!(
        ended[1].complete && ended[1].body == *body,
        "beta's download changed"
    );
    assert!(
        !ended[2].complete,
        "gamma shares alpha's address and was not cut"
    );

    let detail = cut_entry(&f.d, *alpha_id)["detail"].clone();
    assert_eq!(
        detail,
        "disconnected 2 connections from 1 address (127.0.0.2); \
         cut along: 1 other key online from the same address"
    );
    // Gamma's key is still good: a new download through its client completes.
    let (_, _, gamma) = &f.clients[2];
    let again = download(gamma.proxy_addr(), &slow.url());
    assert!(
        again.complete && again.body == *body,
        "gamma cannot reconnect"
    );
}
