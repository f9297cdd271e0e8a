//! Issue 12 item 6, subscriptions, over real HTTP: the service of a real veild (REALITY
//! config, fake Xray core answering the API) behind `veild::subscribe::routes` on a
//! loopback listener. For each format the body parses with the REALITY fields, the headers
//! are exactly as specified, a disabled key gets its placeholder, a rotated UUID shows on
//! the next fetch, a rotated or revoked token is a bare 404, the browser page is escaped
//! and self-contained, the route's own rate limit answers 429 with `Retry-After`, and
//! `veil key sub` prints the URL and its QR code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use support::core_harness::FakeXrayCore;
use support::daemon::{CoreSection, Daemon, DaemonConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use veil_shared::api::{Actor, AuditList, KeyCreate, KeySub};
use veil_shared::model::KeyRef;
use veild::config::Config;
use veild::daemon::Running;

const PRIVATE_KEY: &str = "sA2yGdRHTLJZ5I04MWQusVHurkBlxJEdvRxo-7bVmXI";
const PUBLIC_KEY: &str = "efDFnWUKOkIqOhu4nlcP9-Gx_jIutsZCFYgI8q9ebwo";
const PORT: u16 = 8443;
const NAME: &str = "Маша 🦊 <b>&\"x\" 'y'";
const LIMIT: u64 = 10_000_000_000;

fn reality_config(api: &str) -> Value {
    json!({
        "log": {"loglevel": "warning"},
        "api": {"tag": "api", "listen": api, "services": ["HandlerService", "StatsService"]},
        "stats": {},
        "policy": {"levels": {"0": {"statsUserUplink": true, "statsUserDownlink": true}}},
        "inbounds": [{
            "tag": "vless-in", "listen": "0.0.0.0", "port": PORT, "protocol": "vless",
            "settings": {"clients": [], "decryption": "none", "flow": "xtls-rprx-vision"},
            "streamSettings": {"network": "raw", "security": "reality", "realitySettings": {
                "target": "www.example.com:443", "xver": 0,
                "serverNames": ["www.example.com"],
                "privateKey": PRIVATE_KEY,
                "shortIds": ["", "0123456789abcdef"]
            }}
        }],
        "outbounds": [{"tag": "direct", "protocol": "freedom"}]
    })
}

struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// One HTTP/1.1 GET, read to the end (`Connection: close`).
async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("an answer in time")
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn actor() -> Actor {
    Actor::Token {
        name: "billing-bot".into(),
        remote: "198.51.100.7".into(),
    }
}

fn sub(key: i64, rotate: bool, revoke: bool) -> KeySub {
    KeySub {
        key: KeyRef::Id(key),
        rotate,
        revoke,
    }
}

fn assert_reality_link(link: &str, uuid: &str) {
    let url = url::Url::parse(link).unwrap();
    assert_eq!(url.scheme(), "vless");
    assert_eq!(url.username(), uuid);
    assert_eq!(
        (url.host_str(), url.port()),
        (Some("127.0.0.1"), Some(PORT))
    );
    let q: HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["security"], "reality");
    assert_eq!(q["pbk"], PUBLIC_KEY);
    assert_eq!(q["sid"], "0123456789abcdef");
    assert_eq!(q["sni"], "www.example.com");
    assert_eq!(q["flow"], "xtls-rprx-vision");
    let name = percent_encoding::percent_decode_str(url.fragment().unwrap())
        .decode_utf8()
        .unwrap();
    assert_eq!(name, NAME);
}

struct Setup {
    running: Running,
    addr: SocketAddr,
    _fake: FakeXrayCore,
    _dir: tempfile::TempDir,
}

async fn setup(dir: tempfile::TempDir) -> Setup {
    let fake = FakeXrayCore::start().await;
    let core = dir.path().join("xray.json");
    let json = reality_config(&fake.api_addr());
    std::fs::write(&core, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let cfg = DaemonConfig {
        core: Some(CoreSection::xray(&fake.api_addr(), &core)),
        ..DaemonConfig::default()
    };
    let mut config = Config::load(&Daemon::write_config(dir.path(), &cfg)).expect("config");
    config.public.subscription_base = Some("https://vpn.example.com/sub/".into());
    config.public.support_url = Some("https://t.me/veil_support".into());
    let running = Running::start(config).await.expect("start the service");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = veild::subscribe::routes(std::sync::Arc::clone(&running.service));
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Setup {
        running,
        addr,
        _fake: fake,
        _dir: dir,
    }
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one story: every format, then the key and its token change"
)]
fn every_format_parses_and_changes_reach_the_next_fetch() {
    let _serial = support::serial();
    let rt = support::runtime();
    rt.block_on(async {
        let s = setup(support::tempdir()).await;
        let service = &s.running.service;
        let expires = veild::store::now() + 30 * 86_400;
        let key = service
            .create(
                &actor(),
                KeyCreate {
                    name: NAME.into(),
                    note: None,
                    data_limit: Some(LIMIT),
                    expires_at: Some(expires),
                    reset: None,
                    nodes: None,
                },
            )
            .await
            .expect("create");
        let made = service
            .key_sub(&actor(), sub(key.id, false, false))
            .await
            .unwrap();
        let token = made.token.clone().unwrap();
        assert_eq!(token.len(), 43);
        assert!(!token.contains(&key.uuid.simple().to_string()[..8]));
        assert_eq!(
            made.url.as_deref(),
            Some(format!("https://vpn.example.com/sub/{token}").as_str())
        );
        // Shown again: the same URL.
        let again = service
            .key_sub(&actor(), sub(key.id, false, false))
            .await
            .unwrap();
        assert_eq!(again.token, made.token);
        let path = format!("/sub/{token}");
        let uuid = key.uuid.to_string();

        // Base64 links (v2rayNG), with every header.
        let a = get(s.addr, &path, &[("User-Agent", "v2rayNG/1.9.16")]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let text = String::from_utf8(STANDARD.decode(a.body.trim()).unwrap()).unwrap();
        assert_reality_link(text.lines().next().unwrap(), &uuid);
        assert_eq!(
            a.header("subscription-userinfo"),
            format!("upload=0; download=0; total={LIMIT}; expire={expires}")
        );
        assert_eq!(
            a.header("profile-title"),
            format!("base64:{}", STANDARD.encode(NAME))
        );
        assert_eq!(a.header("profile-update-interval"), "12");
        assert!(
            a.header("content-disposition")
                .starts_with("attachment; filename=\"b_x_y.txt\"; filename*=UTF-8''"),
            "{}",
            a.header("content-disposition")
        );
        assert_eq!(a.header("support-url"), "https://t.me/veil_support");
        assert_eq!(a.header("cache-control"), "no-store");
        assert!(!a.headers.contains_key("profile-web-page-url"));

        // sing-box (SFA on 1.11: legacy DNS servers, rule actions, no strict_route).
        let a = get(
            s.addr,
            &path,
            &[(
                "User-Agent",
                "SFA/1.11.9 (589; sing-box 1.11.9; language en_US)",
            )],
        )
        .await;
        assert_eq!(a.status, 200);
        assert!(a.header("content-type").starts_with("application/json"));
        let v: Value = serde_json::from_str(&a.body).unwrap();
        let out = v["outbounds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["type"] == "vless")
            .unwrap();
        assert_eq!(out["uuid"], uuid.as_str());
        assert_eq!(out["tls"]["utls"]["enabled"], true);
        assert_eq!(out["tls"]["reality"]["public_key"], PUBLIC_KEY);
        assert_eq!(out["tls"]["reality"]["short_id"], "0123456789abcdef");
        assert!(v["inbounds"][0].get("strict_route").is_none());
        assert_eq!(v["route"]["rules"][0]["action"], "sniff");

        // mihomo YAML (Clash Verge).
        let a = get(s.addr, &path, &[("User-Agent", "clash-verge/v2.2.3")]).await;
        assert_eq!(a.status, 200);
        assert!(a.header("content-disposition").contains(".yaml"));
        let y: Value = serde_norway::from_str(&a.body).unwrap();
        let p = &y["proxies"][0];
        assert_eq!(p["name"], NAME);
        assert_eq!(p["type"], "vless");
        assert_eq!(p["tls"], true);
        assert_eq!(p["client-fingerprint"], "chrome");
        assert_eq!(p["flow"], "xtls-rprx-vision");
        assert_eq!(p["reality-opts"]["public-key"], PUBLIC_KEY);
        assert_eq!(p["reality-opts"]["short-id"], "0123456789abcdef");

        // Xray JSON, opt-in only; an unknown format is refused.
        let a = get(s.addr, &format!("{path}?format=xray"), &[]).await;
        let v: Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(v[0]["remarks"], NAME);
        assert_eq!(
            v[0]["outbounds"][0]["streamSettings"]["realitySettings"]["publicKey"],
            PUBLIC_KEY
        );
        assert_eq!(
            get(s.addr, &format!("{path}?format=nope"), &[])
                .await
                .status,
            400
        );

        // The browser page: escaped, self-contained, locked down.
        let a = get(
            s.addr,
            &path,
            &[("Accept", "text/html,application/xhtml+xml")],
        )
        .await;
        assert_eq!(a.status, 200);
        assert!(a.header("content-type").starts_with("text/html"));
        assert!(
            a.header("content-security-policy")
                .starts_with("default-src 'none'")
        );
        assert!(a.body.contains("&lt;b&gt;&amp;&quot;x&quot; &#39;y&#39;"));
        assert!(!a.body.contains("<b>"));
        assert!(!a.body.contains("<script") && !a.body.contains("src=\"http"));
        assert!(a.body.contains("<svg") && a.body.contains("<meter"));
        let encoded =
            veil_shared::link::encode_component(&format!("https://vpn.example.com/sub/{token}"));
        assert!(
            a.body
                .contains(&format!("v2rayng://install-config?url={encoded}"))
        );
        assert!(
            a.body
                .contains(&format!("sing-box://import-remote-profile?url={encoded}#"))
        );

        // A rotated UUID reaches the next fetch.
        let rotated = service.rotate(&actor(), KeyRef::Id(key.id)).await.unwrap();
        assert_ne!(rotated.uuid, key.uuid);
        let a = get(s.addr, &format!("{path}?format=links"), &[]).await;
        assert!(a.body.contains(&rotated.uuid.to_string()), "{}", a.body);
        assert!(!a.body.contains(&uuid));

        // A disabled key: a placeholder that says why, never an empty list.
        service.disable(&actor(), KeyRef::Id(key.id)).await.unwrap();
        let a = get(s.addr, &format!("{path}?format=links"), &[]).await;
        assert_eq!(a.status, 200);
        let url = url::Url::parse(a.body.trim()).unwrap();
        assert_eq!(url.username(), "00000000-0000-0000-0000-000000000000");
        assert_eq!((url.host_str(), url.port()), (Some("0.0.0.0"), Some(1)));
        let label = percent_encoding::percent_decode_str(url.fragment().unwrap())
            .decode_utf8()
            .unwrap();
        assert_eq!(label, "⛔ disabled");
        let y: Value = serde_norway::from_str(
            &get(s.addr, &path, &[("User-Agent", "mihomo/1.19")])
                .await
                .body,
        )
        .unwrap();
        assert_eq!(y["proxies"][0]["name"], "⛔ disabled");
        service.enable(&actor(), KeyRef::Id(key.id)).await.unwrap();

        // Rotating the token: the old URL is a bare 404, the new one works.
        let new = service
            .key_sub(&actor(), sub(key.id, true, false))
            .await
            .unwrap();
        let new_token = new.token.unwrap();
        assert_ne!(new_token, token);
        let old = get(s.addr, &path, &[]).await;
        assert_eq!(old.status, 404);
        assert!(old.body.is_empty(), "{:?}", old.body);
        let new_path = format!("/sub/{new_token}");
        assert_eq!(get(s.addr, &new_path, &[]).await.status, 200);

        // Revoking: 404; a later `key.sub` makes a new token, never the revoked one.
        let revoked = service
            .key_sub(&actor(), sub(key.id, false, true))
            .await
            .unwrap();
        assert!(revoked.revoked && revoked.url.is_none());
        assert_eq!(get(s.addr, &new_path, &[]).await.status, 404);
        let third = service
            .key_sub(&actor(), sub(key.id, false, false))
            .await
            .unwrap();
        assert_ne!(third.token.as_deref(), Some(new_token.as_str()));
        assert_ne!(third.token.as_deref(), Some(token.as_str()));

        // Unknown and malformed tokens: 404.
        for bad in [
            "/sub/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "/sub/x",
            "/sub/%2e%2e",
        ] {
            assert_eq!(get(s.addr, bad, &[]).await.status, 404, "{bad}");
        }

        // Made, rotated and revoked are audited (without the token).
        let audit = service
            .audit(AuditList {
                key: Some(KeyRef::Id(key.id)),
                limit: Some(50),
            })
            .await
            .unwrap();
        let methods: Vec<&str> = audit.entries.iter().map(|e| e.method.as_str()).collect();
        for m in ["key.sub", "key.sub.rotate", "key.sub.revoke"] {
            assert!(methods.contains(&m), "{methods:?}");
        }
        let dump = format!("{audit:?}");
        assert!(!dump.contains(&token) && !dump.contains(&new_token));

        // The route's own per-address limit.
        let third_path = format!("/sub/{}", third.token.unwrap());
        let mut limited = None;
        for _ in 0..200 {
            let a = get(s.addr, &third_path, &[]).await;
            if a.status == 429 {
                limited = Some(a);
                break;
            }
            assert_eq!(a.status, 200);
        }
        let a = limited.expect("429 within 200 fetches");
        let wait: u64 = a.header("retry-after").parse().unwrap();
        assert!(wait >= 1, "{wait}");

        tokio::time::timeout(Duration::from_secs(60), s.running.stop())
            .await
            .expect("the service stops");
    });
}

/// `veil key sub`: the URL (under `[public] subscription_base`) and its QR code, the same
/// URL again, a new one with `--rotate`, none after `--revoke`; the secret file is 0600.
#[test]
fn veil_key_sub_prints_the_url_and_its_qr_code() {
    use std::os::unix::fs::PermissionsExt;

    let _serial = support::serial();
    let dir = support::tempdir();
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            extra_toml: "subscription_base = \"https://vpn.example.com/sub/\"\n".into(),
            ..DaemonConfig::default()
        },
    );
    d.call("key.create", json!({"name": "phone"}));
    let (code, out, err) = d.veil(&["key", "sub", "phone"]);
    assert_eq!(code, 0, "{err}");
    let url = out
        .lines()
        .find(|l| l.starts_with("https://vpn.example.com/sub/"))
        .unwrap_or_else(|| panic!("no URL in {out}"))
        .to_owned();
    assert_eq!(url.len(), "https://vpn.example.com/sub/".len() + 43);
    assert!(out.contains('█'), "no QR code in {out}");
    let (_, again, _) = d.veil(&["key", "sub", "phone", "--no-qr"]);
    assert!(again.contains(&url) && !again.contains('█'), "{again}");

    let (code, rotated, err) = d.veil(&["key", "sub", "phone", "--rotate", "--no-qr"]);
    assert_eq!(code, 0, "{err}");
    assert!(rotated.contains("https://vpn.example.com/sub/") && !rotated.contains(&url));
    let json = d.veil_json(&["key", "sub", "phone"]);
    assert_eq!(json["revoked"], false);
    assert!(rotated.contains(json["url"].as_str().unwrap()));

    let (code, revoked, err) = d.veil(&["key", "sub", "phone", "--revoke"]);
    assert_eq!(code, 0, "{err}");
    assert!(revoked.contains("revoked"), "{revoked}");
    let (code, _, err) = d.veil(&["key", "sub", "phone", "--rotate", "--revoke"]);
    assert_ne!(code, 0, "{err}");

    let secret = dir.path().join("veil.db.sub-secret");
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::read(&secret).unwrap().len(), 32);
}

/// The browser page in headless Chromium at phone width (390 px): the screenshot holds a
/// QR code that decodes back to the subscription URL. Skipped, with a note, where the
/// Debian package `chromium` is not installed.
#[test]
fn the_page_in_chromium_shows_a_qr_code_of_the_url() {
    const CHROMIUM: &str = "/usr/bin/chromium";
    if !std::path::Path::new(CHROMIUM).exists() {
        eprintln!("SKIPPED: {CHROMIUM} is missing (apt-get install chromium)");
        return;
    }
    let _serial = support::serial();
    let rt = support::runtime();
    rt.block_on(async {
        let dir = support::tempdir();
        let shots = dir.path().join("shots");
        std::fs::create_dir(&shots).unwrap();
        let s = setup(dir).await;
        let service = &s.running.service;
        let key = service
            .create(
                &actor(),
                KeyCreate {
                    name: NAME.into(),
                    note: None,
                    data_limit: Some(LIMIT),
                    expires_at: None,
                    reset: None,
                    nodes: None,
                },
            )
            .await
            .unwrap();
        let made = service
            .key_sub(&actor(), sub(key.id, false, false))
            .await
            .unwrap();
        let url = made.url.unwrap();
        let local = format!("http://{}/sub/{}", s.addr, made.token.unwrap());
        let png = shots.join("page.png");
        let run = tokio::process::Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
                "--window-size=390,2000",
            ])
            .arg(format!(
                "--user-data-dir={}",
                shots.join("profile").display()
            ))
            .arg(format!("--screenshot={}", png.display()))
            .arg(&local)
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(120), run)
            .await
            .expect("chromium finishes")
            .unwrap();
        assert!(
            png.exists(),
            "no screenshot: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // To look at it: VEIL_KEEP_SCREENSHOT=/tmp/page.png cargo test …
        if let Ok(keep) = std::env::var("VEIL_KEEP_SCREENSHOT") {
            std::fs::copy(&png, keep).unwrap();
        }
        let decoded = decode_qr_codes(&png);
        assert!(
            decoded.contains(&url),
            "the screenshot's QR codes say {decoded:?}, not {url}"
        );
        tokio::time::timeout(Duration::from_secs(60), s.running.stop())
            .await
            .expect("the service stops");
    });
}

/// Every QR code rqrr finds in a PNG file, decoded.
fn decode_qr_codes(path: &std::path::Path) -> Vec<String> {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut decoder = png::Decoder::new(file);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => panic!("indexed colours after EXPAND"),
    };
    let (w, h) = (info.width as usize, info.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        let at = y * info.line_size + x * channels;
        let px = &buf[at..at + channels.min(3)];
        let sum: usize = px.iter().map(|&v| usize::from(v)).sum();
        u8::try_from(sum / px.len()).unwrap()
    });
    image
        .detect_grids()
        .iter()
        .filter_map(|g| g.decode().ok().map(|(_, text)| text))
        .collect()
}

/// A new server secret (the file deleted): the old URL keeps working until `key.sub` is
/// asked for it, which makes a new one (it cannot show the old one any more).
#[test]
fn a_replaced_secret_makes_a_new_url_on_the_next_ask() {
    let _serial = support::serial();
    let rt = support::runtime();
    rt.block_on(async {
        let dir = support::tempdir();
        let secret = dir.path().join("veil.db.sub-secret");
        let s = setup(dir).await;
        let service = &s.running.service;
        let key = service
            .create(
                &actor(),
                KeyCreate {
                    name: "phone".into(),
                    note: None,
                    data_limit: None,
                    expires_at: None,
                    reset: None,
                    nodes: None,
                },
            )
            .await
            .unwrap();
        let first = service
            .key_sub(&actor(), sub(key.id, false, false))
            .await
            .unwrap();
        let old_path = format!("/sub/{}", first.token.clone().unwrap());
        std::fs::remove_file(&secret).unwrap();
        assert_eq!(get(s.addr, &old_path, &[]).await.status, 200);
        let second = service
            .key_sub(&actor(), sub(key.id, false, false))
            .await
            .unwrap();
        assert_ne!(second.token, first.token);
        assert_eq!(get(s.addr, &old_path, &[]).await.status, 404);
        let new_path = format!("/sub/{}", second.token.clone().unwrap());
        let a = get(s.addr, &new_path, &[]).await;
        assert_eq!(a.status, 200);
        assert_eq!(
            a.header("subscription-userinfo"),
            "upload=0; download=0; total=0; expire=0"
        );
        let third = service
            .key_sub(&actor(), sub(key.id, false, false))
            .await
            .unwrap();
        assert_eq!(third.token, second.token);
        tokio::time::timeout(Duration::from_secs(60), s.running.stop())
            .await
            .expect("the service stops");
    });
}
