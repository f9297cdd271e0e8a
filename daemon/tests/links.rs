//! Issue 4, share links and client configs, through the real `veild` and `veil`:
//! - a key's `key.config`, fed to a real v2ray 4.34 client, carries an HTTP download through
//!   the real v2ray server veild manages (and stops doing so once the key is disabled);
//! - on an Xray REALITY config (the fake core answers the API), `key.link` carries the
//!   public key derived from the config's private key, the shared shortId, the server name
//!   and Vision, encoded exactly, for names that break naive encoders.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::core_harness::{
    FakeXrayCore, HttpFileServer, V2RAY_BIN, V2rayServer, fetch_via_proxy, free_port, test_bytes,
    v2ray_test_config,
};
use support::daemon::{CoreSection, Daemon, DaemonConfig};
use support::{runtime, serial, tempdir};
use veil_shared::link::encode_component;

const CONVERGE: Duration = Duration::from_secs(60);
const WORKS_WITHIN: Duration = Duration::from_secs(15);

/// A keypair made by OpenSSL (see veil-shared's tests/links.rs).
const PRIVATE_KEY: &str = "sA2yGdRHTLJZ5I04MWQusVHurkBlxJEdvRxo-7bVmXI";
const PUBLIC_KEY: &str = "efDFnWUKOkIqOhu4nlcP9-Gx_jIutsZCFYgI8q9ebwo";

/// A v2ray client process started on a config file; killed on drop.
struct ClientProcess {
    child: Child,
    log: PathBuf,
}

impl ClientProcess {
    /// Starts `v2ray -config PATH` and waits (bounded) until `port` accepts connections.
    fn start(config: &Path, port: u16) -> ClientProcess {
        let log = config.with_extension("log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(V2RAY_BIN)
            .arg("-config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap();
        let mut client = ClientProcess { child, log };
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return client;
            }
            if let Some(status) = client.child.try_wait().unwrap() {
                panic!("the v2ray client exited ({status}): {}", client.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "the v2ray client's port {port} did not open: {}",
            client.log()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ClientProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one end-to-end run: server, key, client config, download"
)]
fn key_config_carries_a_download_through_a_real_v2ray() {
    let _serial = serial();
    let dir = tempdir();
    let rt = runtime();
    let server = rt.block_on(V2rayServer::start(dir.path(), &[]));
    let body = test_bytes(256 * 1024, 11);
    let files = HttpFileServer::start(body.clone());
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            core: Some(CoreSection::v2fly(&server.api_addr(), server.config_path())),
            ..Default::default()
        },
    );
    d.wait_core_up(CONVERGE);

    let name = "Маша 🦊 a+b=c&d #1 100%";
    let key = d.call("key.create", json!({"name": name}));
    let id = key["id"].as_i64().unwrap();
    let uuid = key["uuid"].as_str().unwrap().to_owned();
    d.wait_no_pending(CONVERGE);

    // The plain-VLESS link of a v2fly trial setup.
    let link = d.call("key.link", json!({"key": id}))["link"].clone();
    assert_eq!(
        link,
        format!(
            "vless://{uuid}@127.0.0.1:{}?encryption=none&security=none&type=tcp&headerType=none\
             #%D0%9C%D0%B0%D1%88%D0%B0%20%F0%9F%A6%8A%20a%2Bb%3Dc%26d%20%231%20100%25",
            server.vless_port()
        )
    );

    let (socks, http) = (free_port(), free_port());
    let result = d.call(
        "key.config",
        json!({"key": name, "socks_port": socks, "http_port": http}),
    );
    let mut config = result["config"].clone();
    let out = &config["outbounds"][0];
    assert_eq!(out["settings"]["vnext"][0]["address"], "127.0.0.1");
    assert_eq!(out["settings"]["vnext"][0]["port"], server.vless_port());
    assert_eq!(out["settings"]["vnext"][0]["users"][0]["id"], uuid.as_str());
    assert_eq!(out["streamSettings"]["security"], "none");
    let as_given = dir.path().join("client.json");
    std::fs::write(&as_given, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    v2ray_test_config(&as_given).unwrap_or_else(|e| panic!("v2ray -test: {e}"));

    // The CLI prints the same config.
    let (code, printed, err) = d.veil(&[
        "key",
        "config",
        &id.to_string(),
        "--socks-port",
        &socks.to_string(),
        "--http-port",
        &http.to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&printed).unwrap(), config);

    // The file server and the VPN server both live on this machine's loopback, which the
    // config rightly sends direct on a real client; here everything must go through the
    // server, so the test drops the private-range rules.
    config["routing"]["rules"] = json!([]);
    let for_test = dir.path().join("client-test.json");
    std::fs::write(&for_test, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let client = ClientProcess::start(&for_test, http);
    let proxy = std::net::SocketAddr::from(([127, 0, 0, 1], http));
    let deadline = Instant::now() + WORKS_WITHIN;
    let got = loop {
        match fetch_via_proxy(proxy, &files.url(), Duration::from_secs(10)) {
            Ok(got) => break got,
            Err(e) if Instant::now() >= deadline => panic!(
                "no download through the key's config: {e:#}\nclient log:\n{}\nserver log:\n{}",
                client.log(),
                server.log()
            ),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    assert!(got == body, "downloaded bytes differ");

    // It really went through the server: with the key disabled, new downloads fail.
    d.call("key.disable", json!({"key": id}));
    d.wait_no_pending(CONVERGE);
    let deadline = Instant::now() + WORKS_WITHIN;
    loop {
        if fetch_via_proxy(proxy, &files.url(), Duration::from_secs(5)).is_err() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a disabled key still downloads: the traffic did not go through the server"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(client);
}

/// An Xray REALITY config like `veil init` writes, with the API at `api` (the fake core).
fn reality_config(api: &str, port: u16) -> Value {
    json!({
        "log": {"loglevel": "warning"},
        "api": {"tag": "api", "listen": api, "services": ["HandlerService", "StatsService"]},
        "stats": {},
        "policy": {"levels": {"0": {"statsUserUplink": true, "statsUserDownlink": true}}},
        "inbounds": [{
            "tag": "vless-in", "listen": "0.0.0.0", "port": port, "protocol": "vless",
            "settings": {"clients": [], "decryption": "none", "flow": "xtls-rprx-vision"},
            "streamSettings": {"network": "raw", "security": "reality", "realitySettings": {
                "target": "www.example.com:443", "xver": 0,
                "serverNames": ["www.example.com", "cdn.example.com"],
                "privateKey": PRIVATE_KEY,
                "shortIds": ["", "0123456789abcdef", "ab"],
                "minClientVer": "1.8.0"
            }}
        }],
        "outbounds": [{"tag": "direct", "protocol": "freedom"}]
    })
}

struct Reality {
    d: Daemon,
    config: PathBuf,
    port: u16,
    _fake: FakeXrayCore,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Reality {
    fn start() -> Reality {
        let dir = tempdir();
        let rt = runtime();
        let fake = rt.block_on(FakeXrayCore::start());
        let port = 8443;
        let config = dir.path().join("xray.json");
        let json = reality_config(&fake.api_addr(), port);
        std::fs::write(&config, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
        let d = Daemon::start_with(
            dir.path(),
            &DaemonConfig {
                core: Some(CoreSection::xray(&fake.api_addr(), &config)),
                ..Default::default()
            },
        );
        d.wait_core_up(CONVERGE);
        Reality {
            d,
            config,
            port,
            _fake: fake,
            _rt: rt,
            _dir: dir,
        }
    }

    fn expected_link(&self, uuid: &str, fragment: &str) -> String {
        format!(
            "vless://{uuid}@127.0.0.1:{}?encryption=none&flow=xtls-rprx-vision&security=reality\
             &sni=www.example.com&fp=chrome&pbk={PUBLIC_KEY}&sid=0123456789abcdef&spx=%2F\
             &type=tcp&headerType=none#{fragment}",
            self.port
        )
    }
}

#[test]
fn reality_links_carry_the_servers_keys_and_exact_names() {
    let _serial = serial();
    let r = Reality::start();
    let cases = [
        ("alice", "alice"),
        ("two words", "two%20words"),
        ("a+b=c&d", "a%2Bb%3Dc%26d"),
        ("#hash 100%", "%23hash%20100%25"),
        ("Ольга", "%D0%9E%D0%BB%D1%8C%D0%B3%D0%B0"),
        ("🦊", "%F0%9F%A6%8A"),
    ];
    for (name, fragment) in cases {
        let key = r.d.call("key.create", json!({"name": name}));
        let uuid = key["uuid"].as_str().unwrap();
        let link = r.d.call("key.link", json!({"key": name}))["link"].clone();
        assert_eq!(link, r.expected_link(uuid, fragment), "{name}");
        assert_eq!(encode_component(name), fragment);
    }

    // The client config carries the same REALITY settings.
    let config = r.d.call("key.config", json!({"key": "alice"}))["config"].clone();
    let out = &config["outbounds"][0];
    let user = &out["settings"]["vnext"][0]["users"][0];
    assert_eq!(user["flow"], "xtls-rprx-vision");
    assert_eq!(user["encryption"], "none");
    assert_eq!(out["settings"]["vnext"][0]["port"], r.port);
    let rs = &out["streamSettings"]["realitySettings"];
    assert_eq!(
        *rs,
        json!({"serverName": "www.example.com", "fingerprint": "chrome", "publicKey": PUBLIC_KEY,
               "shortId": "0123456789abcdef", "spiderX": "/"})
    );
    assert_eq!(config["inbounds"][0]["port"], 10808);
    assert_eq!(config["inbounds"][1]["port"], 10809);

    // The CLI: link, --json, QR code.
    let alice = r.d.call("key.get", json!({"key": "alice"}));
    let link = r.expected_link(alice["uuid"].as_str().unwrap(), "alice");
    let (code, out, err) = r.d.veil(&["key", "link", "alice"]);
    assert_eq!(
        (code, out.as_str()),
        (0, format!("{link}\n").as_str()),
        "{err}"
    );
    assert_eq!(r.d.veil_json(&["key", "link", "1"]), json!({"link": link}));
    let (code, out, err) = r.d.veil(&["key", "qr", "alice"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&link), "{out}");
    assert!(out.contains('█') && out.contains('▀'), "{out}");
    let code: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(['█', '▀', '▄']))
        .collect();
    assert!(code.len() > 20, "{out}");
    assert!(
        code.iter().all(|l| l.chars().count() <= 80),
        "QR wider than 80 columns:\n{out}"
    );

    // Refusals: no such key, deleted key, clashing ports.
    let mut raw = r.d.raw();
    assert_eq!(
        raw.call_err("key.link", json!({"key": "nobody"})),
        "not_found"
    );
    let fox = r.d.call("key.delete", json!({"key": "🦊"}))["id"].clone();
    assert_eq!(raw.call_err("key.link", json!({"key": fox})), "conflict");
    assert_eq!(raw.call_err("key.config", json!({"key": fox})), "conflict");
    assert_eq!(
        raw.call_err(
            "key.config",
            json!({"key": "alice", "socks_port": 7000, "http_port": 7000})
        ),
        "invalid_input"
    );

    // A broken private key is never turned into a link: the error names it and the doctor.
    let mut file: Value = serde_json::from_slice(&std::fs::read(&r.config).unwrap()).unwrap();
    file["inbounds"][0]["streamSettings"]["realitySettings"]["privateKey"] = json!("not-a-key");
    std::fs::write(&r.config, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    let resp = raw.request("key.link", json!({"key": "alice"}));
    assert_eq!(resp["error"]["data"]["code"], "internal", "{resp}");
    let message = resp["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("privateKey") && message.contains("veil doctor"),
        "{message}"
    );
}
