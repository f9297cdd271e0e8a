//! Test doubles and real processes for exercising the core link:
//! a real v2ray 4.34 server and client, a tiny HTTP file server, and a fake
//! Xray core speaking the `xray.` service names.
//!
//! Everything listens on 127.0.0.1 only. Readiness is always an observed
//! signal (an API answer, an accepting port) polled a bounded number of times.
//!
//! The parts live in `core_harness/`, one concern a file. They are named by `#[path]`
//! (relative to this file's folder) because the benches include this file by path too,
//! and a file included by path looks for its submodules beside itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use veild::corelink::{CoreLink, Flavor, LinkOptions};

#[path = "core_harness/fake_xray.rs"]
mod fake_xray;
#[path = "core_harness/http.rs"]
mod http;
#[path = "core_harness/renamed.rs"]
mod renamed;
#[path = "core_harness/v2ray.rs"]
mod v2ray;

// Every binary that includes this file (the tests, the benches) uses only some of these.
#[allow(unused_imports)]
pub use fake_xray::{FakeUser, FakeXrayCore};
#[allow(unused_imports)]
pub use http::{HttpFileServer, fetch_via_proxy};
#[allow(unused_imports)]
pub use renamed::{Renamed, ServiceNames, XrayHandlerNames, XrayStatsNames};
#[allow(unused_imports)]
pub use v2ray::{V2rayClient, V2rayServer};

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
    })
    .expect("core link")
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

/// A minimal Xray config (for the fake core): the API on `api`, stats on, and an empty
/// plain VLESS inbound tagged [`VLESS_TAG`]. Written as `DIR/xray.json`.
pub fn write_xray_config(dir: &Path, api: &str) -> PathBuf {
    let config = json!({
        "log": {"loglevel": "warning"},
        "api": {"tag": "api", "listen": api, "services": ["HandlerService", "StatsService"]},
        "stats": {},
        "inbounds": [{
            "tag": VLESS_TAG, "listen": "127.0.0.1", "port": 8443, "protocol": "vless",
            "settings": {"clients": [], "decryption": "none"},
            "streamSettings": {"network": "tcp", "security": "none"}
        }],
        "outbounds": [{"tag": "direct", "protocol": "freedom", "settings": {}}]
    });
    let path = dir.join("xray.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    path
}
