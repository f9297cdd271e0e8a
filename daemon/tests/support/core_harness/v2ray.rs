//! A real v2ray 4.34 server and client, started as processes on loopback ports.

use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use veild::corelink::{CoreLink, Flavor};

use super::{V2RAY_BIN, fetch_via_proxy, free_port, test_link};
// `daemon` is this harness's sibling wherever it is included (`support::daemon` in the
// tests, `crate::daemon` in the benches).
use super::super::daemon::minimal_v2fly_core_config;

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
/// and a plain (no TLS) VLESS inbound tagged [`VLESS_TAG`](super::VLESS_TAG).
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
        Self::start_on(dir, clients, free_port()).await
    }

    /// As [`start`](Self::start), with the VLESS inbound on `vless_port`.
    pub async fn start_on(dir: &Path, clients: &[(&str, &str)], vless_port: u16) -> V2rayServer {
        let api_port = free_port();
        let mut config = minimal_v2fly_core_config(api_port, vless_port, clients);
        config["policy"]["system"] =
            json!({"statsInboundUplink": true, "statsInboundDownlink": true});
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
        Self::start_from(dir, server_port, uuid, "127.0.0.1")
    }

    /// As [`start`](Self::start), its connections to the server leaving from `source`
    /// (a loopback address such as `127.0.0.2`: `sendThrough`).
    pub fn start_from(dir: &Path, server_port: u16, uuid: &str, source: &str) -> V2rayClient {
        let proxy_port = free_port();
        let config = json!({
            "log": {"loglevel": "warning"},
            "inbounds": [{
                "tag": "http-in", "listen": "127.0.0.1", "port": proxy_port,
                "protocol": "http", "settings": {}
            }],
            "outbounds": [{
                "protocol": "vless", "sendThrough": source,
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
