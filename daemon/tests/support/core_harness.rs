//! Test doubles and real processes for exercising the core link:
//! a real v2ray 4.34 server and client, a tiny HTTP file server, and a fake
//! Xray core speaking the `xray.` service names.
//!
//! Everything listens on 127.0.0.1 only. Readiness is always an observed
//! signal (an API answer, an accepting port) polled a bounded number of times.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fs::File;
use std::io::{Read, Write};
use std::marker::PhantomData;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use prost::Message;
use serde_json::json;
use tonic::codegen::http;
use tonic::server::NamedService;
use tonic::{Request, Response, Status};
use veil_core_proto as pb;
use veil_core_proto::handler_service_server::{HandlerService, HandlerServiceServer};
use veil_core_proto::stats_service_server::{StatsService, StatsServiceServer};

use veild::corelink::{CoreLink, Flavor, LinkOptions, RetryPolicy};

/// The v2ray binary Debian's `v2ray` package installs.
pub const V2RAY_BIN: &str = "/usr/bin/v2ray";
/// Tag of the VLESS inbound in [`V2rayServer`] and [`FakeXrayCore`].
pub const VLESS_TAG: &str = "vless-in";

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    listener.local_addr().expect("local addr").port()
}

/// A link with short timeouts, suitable for loopback tests.
pub fn test_link(flavor: Flavor, api: &str) -> CoreLink {
    CoreLink::new(LinkOptions {
        flavor,
        api: api.to_owned(),
        call_timeout: Duration::from_secs(2),
        retry: fast_retry(3),
    })
    .expect("core link")
}

/// A retry policy with millisecond delays so retry tests stay fast.
pub fn fast_retry(tries: u32) -> RetryPolicy {
    RetryPolicy {
        tries,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
    }
}

/// Deterministic pseudo-random bytes (xorshift), so downloads are not
/// trivially compressible or aligned.
pub fn test_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// `(id, email)` of every client of inbound `tag` in a core config file, in file order.
pub fn config_clients(path: &Path, tag: &str) -> Vec<(String, String)> {
    let text =
        std::fs::read(path).unwrap_or_else(|e| panic!("read core config {}: {e}", path.display()));
    let config: serde_json::Value = serde_json::from_slice(&text)
        .unwrap_or_else(|e| panic!("core config {} is not JSON: {e}", path.display()));
    let inbound = config["inbounds"]
        .as_array()
        .and_then(|ins| ins.iter().find(|i| i["tag"] == tag))
        .unwrap_or_else(|| panic!("no inbound {tag:?} in {}", path.display()));
    inbound["settings"]["clients"]
        .as_array()
        .map(|clients| {
            clients
                .iter()
                .map(|c| {
                    (
                        c["id"].as_str().unwrap_or_default().to_owned(),
                        c["email"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `v2ray -test -config PATH`; `Err` carries its output when it refuses.
pub fn v2ray_test_config(path: &Path) -> Result<(), String> {
    let out = Command::new(V2RAY_BIN)
        .arg("-test")
        .arg("-config")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run {V2RAY_BIN}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn spawn_v2ray(config: &Path, log: &Path) -> Child {
    let out = File::create(log).expect("create v2ray log");
    let err = out.try_clone().expect("clone log handle");
    Command::new(V2RAY_BIN)
        .arg("-config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {V2RAY_BIN} (apt-get install -y v2ray?): {e}"))
}

fn kill_child(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

// ---------------------------------------------------------------------------
// Real v2ray server
// ---------------------------------------------------------------------------

/// A real v2ray 4.34 server: API through a dokodemo-door inbound, stats on,
/// and a plain (no TLS) VLESS inbound tagged [`VLESS_TAG`].
pub struct V2rayServer {
    config_path: PathBuf,
    log_path: PathBuf,
    api_port: u16,
    vless_port: u16,
    child: Option<Child>,
}

impl V2rayServer {
    /// Writes `server.json` in `dir` with the given `(uuid, email)` clients,
    /// starts v2ray and waits until its API answers GetSysStats.
    pub async fn start(dir: &Path, clients: &[(&str, &str)]) -> V2rayServer {
        let api_port = free_port();
        let vless_port = free_port();
        let clients: Vec<_> = clients
            .iter()
            .map(|(id, email)| json!({"id": id, "email": email, "level": 0}))
            .collect();
        let config = json!({
            "log": {"loglevel": "warning"},
            "api": {"tag": "api", "services": ["HandlerService", "StatsService"]},
            "stats": {},
            "policy": {
                "levels": {"0": {"statsUserUplink": true, "statsUserDownlink": true}},
                "system": {"statsInboundUplink": true, "statsInboundDownlink": true}
            },
            "inbounds": [
                {
                    "tag": "api-in", "listen": "127.0.0.1", "port": api_port,
                    "protocol": "dokodemo-door", "settings": {"address": "127.0.0.1"}
                },
                {
                    "tag": VLESS_TAG, "listen": "127.0.0.1", "port": vless_port,
                    "protocol": "vless",
                    "settings": {"clients": clients, "decryption": "none"},
                    "streamSettings": {"network": "tcp", "security": "none"}
                }
            ],
            "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}],
            "routing": {"rules": [
                {"type": "field", "inboundTag": ["api-in"], "outboundTag": "api"}
            ]}
        });
        let config_path = dir.join("server.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap())
            .expect("write server config");
        let mut server = V2rayServer {
            log_path: dir.join("server.log"),
            config_path,
            api_port,
            vless_port,
            child: None,
        };
        server.spawn_and_wait().await;
        server
    }

    async fn spawn_and_wait(&mut self) {
        self.child = Some(spawn_v2ray(&self.config_path, &self.log_path));
        let link = test_link(Flavor::V2fly, &self.api_addr());
        for _ in 0..200 {
            if link.sys_stats().await.is_ok() {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("v2ray exited early ({status}): {}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("v2ray API did not answer within ~10 s: {}", self.log());
    }

    /// `127.0.0.1:PORT` of the API (dokodemo-door inbound `api-in`).
    pub fn api_addr(&self) -> String {
        format!("127.0.0.1:{}", self.api_port)
    }

    /// Port of the VLESS inbound.
    pub fn vless_port(&self) -> u16 {
        self.vless_port
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// What v2ray printed so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// A link to this server's API with test timeouts.
    pub fn link(&self) -> CoreLink {
        test_link(Flavor::V2fly, &self.api_addr())
    }

    /// Whether the server process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the server again (after [`kill9`](Self::kill9)) on the same config file and
    /// ports, and waits until its API answers.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "start_again a killed server only");
        self.spawn_and_wait().await;
    }

    /// SIGKILL the process (no graceful shutdown) and reap it.
    pub fn kill9(&mut self) {
        kill_child(&mut self.child);
    }

    /// Kill (if running) and start again with the same config and ports.
    pub async fn restart(&mut self) {
        self.kill9();
        self.spawn_and_wait().await;
    }
}

impl Drop for V2rayServer {
    fn drop(&mut self) {
        kill_child(&mut self.child);
    }
}

// ---------------------------------------------------------------------------
// Real v2ray client
// ---------------------------------------------------------------------------

/// A v2ray 4.34 client: an HTTP proxy inbound on loopback, forwarding over
/// plain VLESS to `127.0.0.1:server_port` as the given uuid.
pub struct V2rayClient {
    proxy_port: u16,
    log_path: PathBuf,
    child: Option<Child>,
}

impl V2rayClient {
    /// Starts the client and waits until its proxy port accepts connections.
    pub fn start(dir: &Path, server_port: u16, uuid: &str) -> V2rayClient {
        let proxy_port = free_port();
        let config = json!({
            "log": {"loglevel": "warning"},
            "inbounds": [{
                "tag": "http-in", "listen": "127.0.0.1", "port": proxy_port,
                "protocol": "http", "settings": {}
            }],
            "outbounds": [{
                "protocol": "vless",
                "settings": {"vnext": [{
                    "address": "127.0.0.1", "port": server_port,
                    "users": [{"id": uuid, "encryption": "none", "level": 0}]
                }]},
                "streamSettings": {"network": "tcp", "security": "none"}
            }]
        });
        let config_path = dir.join(format!("client-{proxy_port}.json"));
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap())
            .expect("write client config");
        let log_path = dir.join(format!("client-{proxy_port}.log"));
        let mut client = V2rayClient {
            proxy_port,
            child: Some(spawn_v2ray(&config_path, &log_path)),
            log_path,
        };
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", proxy_port)).is_ok() {
                return client;
            }
            if let Some(status) = client
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("v2ray client exited early ({status}): {}", client.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "v2ray client proxy did not accept within ~10 s: {}",
            client.log()
        );
    }

    pub fn proxy_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.proxy_port))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// HTTP GET `url` (an `http://127.0.0.1:…` URL) through the proxy, on a new
    /// connection. Errors unless the answer is a 200 with the whole body.
    /// Blocking; from async tests call it via `spawn_blocking`/`block_in_place`.
    pub fn fetch(&self, url: &str) -> anyhow::Result<Vec<u8>> {
        fetch_via_proxy(self.proxy_addr(), url, Duration::from_secs(15))
    }

    /// Retries [`fetch`](Self::fetch) (each on a new connection) until one succeeds or
    /// `deadline` passes; returns the body and when it arrived, or the last error.
    pub fn fetch_until(&self, url: &str, deadline: Instant) -> anyhow::Result<(Vec<u8>, Instant)> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt = fetch_via_proxy(
                self.proxy_addr(),
                url,
                left.clamp(Duration::from_millis(500), Duration::from_secs(15)),
            );
            match attempt {
                Ok(body) => return Ok((body, Instant::now())),
                Err(e) if Instant::now() >= deadline => {
                    return Err(e.context(format!(
                        "no successful download by the deadline; client log: {}",
                        self.log()
                    )));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(25)),
            }
        }
    }
}

impl Drop for V2rayClient {
    fn drop(&mut self) {
        kill_child(&mut self.child);
    }
}

/// A plain HTTP/1.1 proxy request (absolute URI) over a fresh TCP connection.
pub fn fetch_via_proxy(proxy: SocketAddr, url: &str, timeout: Duration) -> anyhow::Result<Vec<u8>> {
    let host = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .context("only http:// URLs are supported")?;
    let mut stream = TcpStream::connect_timeout(&proxy, timeout).context("connect to proxy")?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let request = format!("GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    read_http_response(&mut stream, Instant::now() + timeout)
}

/// Reads one response; the body must be exactly `Content-Length` bytes.
fn read_http_response(stream: &mut TcpStream, deadline: Instant) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let header_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if Instant::now() > deadline || buf.len() > 64 * 1024 {
            bail!("no complete response header");
        }
        let n = stream.read(&mut chunk).context("read response header")?;
        if n == 0 {
            bail!(
                "connection closed before a response header ({} bytes)",
                buf.len()
            );
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let status_line = head.lines().next().unwrap_or_default().to_owned();
    if status_line.split_whitespace().nth(1) != Some("200") {
        bail!("proxy answered {status_line:?}");
    }
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .context("response without Content-Length")?;
    let mut body = buf.split_off(header_end);
    while body.len() < length {
        if Instant::now() > deadline {
            bail!("timed out after {} of {length} body bytes", body.len());
        }
        let n = stream.read(&mut chunk).context("read response body")?;
        if n == 0 {
            bail!(
                "connection closed after {} of {length} body bytes",
                body.len()
            );
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(body)
}

// ---------------------------------------------------------------------------
// HTTP file server
// ---------------------------------------------------------------------------

/// Serves one fixed body at every path, on loopback, from a std thread.
pub struct HttpFileServer {
    port: u16,
    served: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpFileServer {
    pub fn start(bytes: Vec<u8>) -> HttpFileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind file server");
        let port = listener.local_addr().unwrap().port();
        let served = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let body = Arc::new(bytes);
        let thread = {
            let (served, stop) = (served.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (body, served) = (body.clone(), served.clone());
                    std::thread::spawn(move || {
                        if serve_one(conn, &body).is_ok() {
                            served.fetch_add(1, Ordering::SeqCst);
                        }
                    });
                }
            })
        };
        HttpFileServer {
            port,
            served,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/file.bin", self.port)
    }

    /// How many responses were written completely so far.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }
}

fn serve_one(mut conn: TcpStream, body: &[u8]) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte)? == 0 || head.len() > 16 * 1024 {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
        head.push(byte[0]);
    }
    let header = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(header.as_bytes())?;
    conn.write_all(body)?;
    conn.flush()?;
    let _ = conn.shutdown(Shutdown::Write);
    Ok(())
}

impl Drop for HttpFileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------
// Fake Xray core
// ---------------------------------------------------------------------------

/// A user as the fake core stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeUser {
    pub email: String,
    pub uuid: String,
    pub level: u32,
    pub flow: String,
}

#[derive(Default)]
struct FakeState {
    /// inbound tag -> lower-cased email -> user.
    inbounds: BTreeMap<String, BTreeMap<String, FakeUser>>,
    stats: BTreeMap<String, i64>,
    fail_next: u32,
    calls: usize,
    /// Every `TypedMessage.type` string received, in order.
    type_strings: Vec<String>,
    /// Online users: email -> source IP -> last seen (Unix seconds).
    online: BTreeMap<String, BTreeMap<String, i64>>,
    /// Set by [`FakeXrayCore::restart_stats`]: uptime counts from here, like a restarted core.
    restarted_at: Option<Instant>,
}

#[derive(Clone)]
struct Fake {
    state: Arc<Mutex<FakeState>>,
    started: Instant,
}

impl Fake {
    /// Counts the call and applies an injected fault, if any is pending.
    fn enter(&self) -> Result<std::sync::MutexGuard<'_, FakeState>, Status> {
        let mut st = self.state.lock().unwrap();
        st.calls += 1;
        if st.fail_next > 0 {
            st.fail_next -= 1;
            return Err(Status::unavailable("fake core: injected fault"));
        }
        Ok(st)
    }
}

const X_ADD_OP: &str = "xray.app.proxyman.command.AddUserOperation";
const X_REMOVE_OP: &str = "xray.app.proxyman.command.RemoveUserOperation";
const X_VLESS_ACCOUNT: &str = "xray.proxy.vless.Account";

fn handler_not_found(tag: &str) -> Status {
    Status::unknown(format!(
        "app/proxyman/command: failed to get handler: {tag} > app/proxyman/inbound: handler not found: {tag}"
    ))
}

#[tonic::async_trait]
impl HandlerService for Fake {
    async fn alter_inbound(
        &self,
        request: Request<pb::AlterInboundRequest>,
    ) -> Result<Response<pb::AlterInboundResponse>, Status> {
        let req = request.into_inner();
        let mut st = self.enter()?;
        let op = req.operation.unwrap_or_default();
        st.type_strings.push(op.r#type.clone());
        if op.r#type != X_ADD_OP && op.r#type != X_REMOVE_OP {
            return Err(Status::unknown(format!(
                "app/proxyman/command: unknown operation > proto: not found: {}",
                op.r#type
            )));
        }
        if !st.inbounds.contains_key(&req.tag) {
            return Err(handler_not_found(&req.tag));
        }
        if op.r#type == X_ADD_OP {
            let add = pb::AddUserOperation::decode(op.value.as_slice())
                .map_err(|e| Status::unknown(format!("decode: {e}")))?;
            let user = add.user.unwrap_or_default();
            let account = user
                .account
                .ok_or_else(|| Status::unknown("common/protocol: Account is missing"))?;
            st.type_strings.push(account.r#type.clone());
            if account.r#type != X_VLESS_ACCOUNT {
                return Err(Status::unknown(
                    "app/proxyman/command: failed to parse user",
                ));
            }
            let account = pb::VlessAccount::decode(account.value.as_slice())
                .map_err(|e| Status::unknown(format!("decode: {e}")))?;
            let users = st.inbounds.get_mut(&req.tag).unwrap();
            let key = user.email.to_lowercase();
            if users.contains_key(&key) {
                return Err(Status::unknown(format!(
                    "proxy/vless: User {} already exists.",
                    user.email
                )));
            }
            users.insert(
                key,
                FakeUser {
                    email: user.email,
                    uuid: account.id,
                    level: user.level,
                    flow: account.flow,
                },
            );
        } else {
            let remove = pb::RemoveUserOperation::decode(op.value.as_slice())
                .map_err(|e| Status::unknown(format!("decode: {e}")))?;
            let users = st.inbounds.get_mut(&req.tag).unwrap();
            if users.remove(&remove.email.to_lowercase()).is_none() {
                return Err(Status::unknown(format!(
                    "proxy/vless: User {} not found.",
                    remove.email
                )));
            }
        }
        Ok(Response::new(pb::AlterInboundResponse {}))
    }

    async fn get_inbound_users(
        &self,
        request: Request<pb::GetInboundUserRequest>,
    ) -> Result<Response<pb::GetInboundUserResponse>, Status> {
        let req = request.into_inner();
        let st = self.enter()?;
        let users = st
            .inbounds
            .get(&req.tag)
            .ok_or_else(|| handler_not_found(&req.tag))?;
        let to_proto = |u: &FakeUser| pb::User {
            level: u.level,
            email: u.email.clone(),
            account: Some(pb::TypedMessage {
                r#type: X_VLESS_ACCOUNT.to_owned(),
                value: pb::VlessAccount {
                    id: u.uuid.clone(),
                    flow: u.flow.clone(),
                    encryption: String::new(),
                }
                .encode_to_vec(),
            }),
        };
        let users = if req.email.is_empty() {
            users.values().map(to_proto).collect()
        } else {
            // Like Xray: an unknown email yields one all-default user.
            vec![
                users
                    .get(&req.email.to_lowercase())
                    .map(to_proto)
                    .unwrap_or_default(),
            ]
        };
        Ok(Response::new(pb::GetInboundUserResponse { users }))
    }

    async fn get_inbound_users_count(
        &self,
        request: Request<pb::GetInboundUserRequest>,
    ) -> Result<Response<pb::GetInboundUsersCountResponse>, Status> {
        let req = request.into_inner();
        let st = self.enter()?;
        let users = st
            .inbounds
            .get(&req.tag)
            .ok_or_else(|| handler_not_found(&req.tag))?;
        Ok(Response::new(pb::GetInboundUsersCountResponse {
            count: users.len() as i64,
        }))
    }
}

#[tonic::async_trait]
impl StatsService for Fake {
    async fn get_stats(
        &self,
        request: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::GetStatsResponse>, Status> {
        let req = request.into_inner();
        let mut st = self.enter()?;
        let value = st
            .stats
            .get_mut(&req.name)
            .ok_or_else(|| Status::not_found(format!("{} not found.", req.name)))?;
        let stat = pb::Stat {
            name: req.name.clone(),
            value: *value,
        };
        if req.reset {
            *value = 0;
        }
        Ok(Response::new(pb::GetStatsResponse { stat: Some(stat) }))
    }

    async fn get_stats_online(
        &self,
        request: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::GetStatsResponse>, Status> {
        let req = request.into_inner();
        let st = self.enter()?;
        let ips = online_entry(&st, &req.name)?;
        Ok(Response::new(pb::GetStatsResponse {
            stat: Some(pb::Stat {
                name: req.name.clone(),
                value: ips.len() as i64,
            }),
        }))
    }

    async fn query_stats(
        &self,
        request: Request<pb::QueryStatsRequest>,
    ) -> Result<Response<pb::QueryStatsResponse>, Status> {
        let req = request.into_inner();
        let mut st = self.enter()?;
        let mut stat = Vec::new();
        for (name, value) in st
            .stats
            .iter_mut()
            .filter(|(n, _)| n.contains(&req.pattern))
        {
            stat.push(pb::Stat {
                name: name.clone(),
                value: *value,
            });
            if req.reset {
                *value = 0;
            }
        }
        Ok(Response::new(pb::QueryStatsResponse { stat }))
    }

    async fn get_sys_stats(
        &self,
        _request: Request<pb::SysStatsRequest>,
    ) -> Result<Response<pb::SysStatsResponse>, Status> {
        let st = self.enter()?;
        Ok(Response::new(pb::SysStatsResponse {
            uptime: st.restarted_at.unwrap_or(self.started).elapsed().as_secs() as u32,
            num_goroutine: 7,
            alloc: 1 << 20,
            sys: 8 << 20,
            ..Default::default()
        }))
    }

    async fn get_stats_online_ip_list(
        &self,
        request: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::GetStatsOnlineIpListResponse>, Status> {
        let req = request.into_inner();
        let st = self.enter()?;
        let ips = online_entry(&st, &req.name)?;
        Ok(Response::new(pb::GetStatsOnlineIpListResponse {
            name: req.name.clone(),
            ips: ips.iter().map(|(ip, seen)| (ip.clone(), *seen)).collect(),
        }))
    }
}

/// The online entry of `user>>>EMAIL>>>online`, NOT_FOUND (as Xray) for a user that never
/// connected.
fn online_entry<'a>(st: &'a FakeState, name: &str) -> Result<&'a BTreeMap<String, i64>, Status> {
    name.strip_prefix("user>>>")
        .and_then(|rest| rest.strip_suffix(">>>online"))
        .and_then(|email| st.online.get(email))
        .ok_or_else(|| Status::not_found(format!("{name} not found.")))
}

/// The service name a wrapped generated server is published under, and the
/// name its generated router expects.
pub trait ServiceNames {
    const REAL: &'static str;
    const OURS: &'static str;
}

pub struct XrayHandlerNames;
impl ServiceNames for XrayHandlerNames {
    const REAL: &'static str = "xray.app.proxyman.command.HandlerService";
    const OURS: &'static str = "veil.core.HandlerService";
}

pub struct XrayStatsNames;
impl ServiceNames for XrayStatsNames {
    const REAL: &'static str = "xray.app.stats.command.StatsService";
    const OURS: &'static str = "veil.core.StatsService";
}

/// Publishes a generated server under the core's real service name by
/// rewriting `/<REAL>/<Method>` to `/<OURS>/<Method>` before dispatch.
pub struct Renamed<S, N> {
    inner: S,
    _names: PhantomData<fn() -> N>,
}

impl<S, N> Renamed<S, N> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            _names: PhantomData,
        }
    }
}

impl<S: Clone, N> Clone for Renamed<S, N> {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone())
    }
}

impl<S, N: ServiceNames> NamedService for Renamed<S, N> {
    const NAME: &'static str = N::REAL;
}

impl<S, N> tonic::codegen::Service<http::Request<tonic::body::Body>> for Renamed<S, N>
where
    S: tonic::codegen::Service<http::Request<tonic::body::Body>, Error = Infallible>,
    N: ServiceNames,
{
    type Response = S::Response;
    type Error = Infallible;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<tonic::body::Body>) -> Self::Future {
        let real_prefix = format!("/{}/", N::REAL);
        if let Some(method) = req.uri().path().strip_prefix(&real_prefix) {
            let path = format!("/{}/{method}", N::OURS);
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = http::uri::PathAndQuery::try_from(path.as_str()).ok();
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
        self.inner.call(req)
    }
}

/// An in-process gRPC server answering on the **xray.** service names, with
/// user bookkeeping, real error texts and injectable faults. It knows one
/// inbound, [`VLESS_TAG`].
pub struct FakeXrayCore {
    addr: SocketAddr,
    fake: Fake,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeXrayCore {
    /// Binds a loopback port and serves on the current tokio runtime.
    pub async fn start() -> FakeXrayCore {
        let mut state = FakeState::default();
        state.inbounds.insert(VLESS_TAG.to_owned(), BTreeMap::new());
        let fake = Fake {
            state: Arc::new(Mutex::new(state)),
            started: Instant::now(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake core");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let router = tonic::transport::Server::builder()
            .add_service(Renamed::<_, XrayHandlerNames>::new(
                HandlerServiceServer::new(fake.clone()),
            ))
            .add_service(Renamed::<_, XrayStatsNames>::new(StatsServiceServer::new(
                fake.clone(),
            )));
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let task = tokio::spawn(async move {
            let _ = router
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = rx.await;
                })
                .await;
        });
        FakeXrayCore {
            addr,
            fake,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn api_addr(&self) -> String {
        self.addr.to_string()
    }

    /// A link to the fake with the Xray flavor and test timeouts.
    pub fn link(&self) -> CoreLink {
        test_link(Flavor::Xray, &self.api_addr())
    }

    /// Users of `tag`, sorted by lower-cased email.
    pub fn users(&self, tag: &str) -> Vec<FakeUser> {
        let st = self.fake.state.lock().unwrap();
        st.inbounds
            .get(tag)
            .map(|u| u.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Makes the next `n` calls (any RPC) fail with UNAVAILABLE.
    pub fn fail_next(&self, n: u32) {
        self.fake.state.lock().unwrap().fail_next = n;
    }

    /// Number of RPCs received, including failed ones.
    pub fn calls(&self) -> usize {
        self.fake.state.lock().unwrap().calls
    }

    /// Every `TypedMessage.type` received so far, in order.
    pub fn type_strings(&self) -> Vec<String> {
        self.fake.state.lock().unwrap().type_strings.clone()
    }

    pub fn set_stat(&self, name: &str, value: i64) {
        self.fake
            .state
            .lock()
            .unwrap()
            .stats
            .insert(name.to_owned(), value);
    }

    /// Changes the users of `tag` behind the daemon's back, in one step (one lock, so no
    /// audit sees half of it): removes `remove` (emails) and inserts `add`.
    pub fn tamper(&self, tag: &str, remove: &[&str], add: Vec<FakeUser>) {
        let mut st = self.fake.state.lock().unwrap();
        let users = st.inbounds.get_mut(tag).expect("known inbound");
        for email in remove {
            assert!(
                users.remove(&email.to_lowercase()).is_some(),
                "fake core: no user {email} to remove"
            );
        }
        for user in add {
            users.insert(user.email.to_lowercase(), user);
        }
    }

    /// Sets many counters under one lock (benchmarks with 100,000 keys).
    pub fn set_stats<'a>(&self, stats: impl IntoIterator<Item = (&'a str, i64)>) {
        let mut st = self.fake.state.lock().unwrap();
        for (name, value) in stats {
            st.stats.insert(name.to_owned(), value);
        }
    }

    /// Adds `delta` to every counter whose name contains `pattern` (one lock).
    pub fn bump_stats(&self, pattern: &str, delta: i64) -> usize {
        let mut st = self.fake.state.lock().unwrap();
        let mut n = 0;
        for (_, value) in st
            .stats
            .iter_mut()
            .filter(|(name, _)| name.contains(pattern))
        {
            *value += delta;
            n += 1;
        }
        n
    }

    /// The user `email`'s online IPs (`(ip, last seen)`), as GetStatsOnline and
    /// GetStatsOnlineIpList report them; an empty list leaves an entry with no IPs.
    pub fn set_online(&self, email: &str, ips: &[(&str, i64)]) {
        let mut st = self.fake.state.lock().unwrap();
        st.online.insert(
            email.to_owned(),
            ips.iter()
                .map(|(ip, seen)| ((*ip).to_owned(), *seen))
                .collect(),
        );
    }

    /// Like a core restart for the stats: every counter and online entry is gone and the
    /// uptime starts again from zero. (Users are kept; see [`Self::forget_users`].)
    pub fn restart_stats(&self) {
        let mut st = self.fake.state.lock().unwrap();
        st.stats.clear();
        st.online.clear();
        st.restarted_at = Some(Instant::now());
    }

    /// Seconds the fake reports as its uptime.
    pub fn uptime_secs(&self) -> u64 {
        let st = self.fake.state.lock().unwrap();
        st.restarted_at
            .unwrap_or(self.fake.started)
            .elapsed()
            .as_secs()
    }

    /// Drops every user, as a real core does on restart.
    pub fn forget_users(&self) {
        let mut st = self.fake.state.lock().unwrap();
        for users in st.inbounds.values_mut() {
            users.clear();
        }
    }
}

impl Drop for FakeXrayCore {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
