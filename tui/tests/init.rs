//! `veil init`: the v2fly output passes the real `v2ray -test`; the Xray output (no Xray
//! binary here) is checked field by field against what the fact sheet calls required, and
//! both are read back through the one model of the core's config that veild's config
//! writer and share links use. (The doctor's checks of init's output run in veild's
//! tests, `daemon/tests/doctor.rs`, through `veild --doctor`: veil does not link veild.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use veil_shared::coreconfig::{Flavor, ManagedInbound};
use veil_shared::reality::{self, Endpoint, Security};

const V2RAY: &str = "/usr/bin/v2ray";

fn veil(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(args)
        .env_remove("VEIL_SOCKET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Paths {
    _dir: tempfile::TempDir,
    core: PathBuf,
    veild: PathBuf,
    db: PathBuf,
    socket: PathBuf,
}

fn paths() -> Paths {
    let dir = tempfile::Builder::new()
        .prefix("veil-init-")
        .tempdir()
        .unwrap();
    let d = dir.path().to_owned();
    Paths {
        core: d.join("etc/core/config.json"),
        veild: d.join("etc/veil/veild.toml"),
        db: d.join("var/veil.db"),
        socket: d.join("run/veil.sock"),
        _dir: dir,
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `veil --json --socket S init … --core-config … --veild-config … --database …`.
/// The group init gives the core config (this process's own: tests cannot rely on
/// `xray-config` existing).
fn own_group() -> String {
    nix::unistd::Group::from_gid(nix::unistd::getegid())
        .unwrap()
        .unwrap()
        .name
}

fn init(p: &Paths, extra: &[&str]) -> (i32, String, String) {
    let group = own_group();
    let mut args = vec![
        "--json",
        "--socket",
        s(&p.socket),
        "init",
        "--core-group",
        &group,
        "--core-config",
        s(&p.core),
        "--veild-config",
        s(&p.veild),
        "--database",
        s(&p.db),
    ];
    args.extend_from_slice(extra);
    veil(&args)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The endpoint links will point at, read from `config` as veild reads it.
fn endpoint(config: &Value, flavor: Flavor) -> Endpoint {
    let inbound = ManagedInbound::read(config, "vless-in").unwrap();
    assert!(inbound.clients.is_empty());
    assert_eq!(inbound.decryption.as_deref(), Some("none"));
    Endpoint::of_inbound(&inbound, flavor).unwrap()
}

#[test]
fn v2fly_output_passes_v2ray_test() {
    let p = paths();
    let (code, out, err) = init(
        &p,
        &[
            "--flavor",
            "v2fly",
            "--host",
            "127.0.0.1",
            "--port",
            "18443",
            "--api",
            "127.0.0.1:18085",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["flavor"], "v2fly");
    assert!(summary.get("public_key").is_none());

    let test = Command::new(V2RAY)
        .args(["-test", "-config", s(&p.core)])
        .output()
        .unwrap_or_else(|e| panic!("run {V2RAY} (apt-get install v2ray): {e}"));
    assert!(
        test.status.success(),
        "v2ray -test refused veil init's config:\n{}{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
    assert!(String::from_utf8_lossy(&test.stdout).contains("Configuration OK."));

    let c = read_json(&p.core);
    assert_eq!(mode(&p.core), 0o640);
    // v2ray 4.x ignores api.listen: the API is a dokodemo-door inbound on loopback, routed
    // first to the api tag.
    assert!(c["api"].get("listen").is_none());
    let api_in = &c["inbounds"][0];
    assert_eq!(api_in["protocol"], "dokodemo-door");
    assert_eq!(api_in["listen"], "127.0.0.1");
    assert_eq!(api_in["port"], 18085);
    assert_eq!(
        c["routing"]["rules"][0],
        serde_json::json!({"type": "field", "inboundTag": ["api-in"], "outboundTag": "api"})
    );
    let vless = &c["inbounds"][1];
    assert_eq!(vless["tag"], "vless-in");
    assert_eq!(vless["port"], 18443);
    assert_eq!(vless["streamSettings"]["security"], "none");
    assert!(vless["settings"].get("flow").is_none());
    assert!(!c.to_string().contains("reality"));
    let e = endpoint(&c, Flavor::V2fly);
    assert_eq!((e.port, e.flow.as_str()), (18443, ""));
    assert_eq!(e.security, Security::None);

    let toml = std::fs::read_to_string(&p.veild).unwrap();
    for line in [
        "flavor = \"v2fly\"".to_owned(),
        "api = \"127.0.0.1:18085\"".to_owned(),
        format!("config = \"{}\"", s(&p.core)),
        format!("socket = \"{}\"", s(&p.socket)),
        format!("database = \"{}\"", s(&p.db)),
        "host = \"127.0.0.1\"".to_owned(),
    ] {
        assert!(toml.lines().any(|l| l == line), "{line} not in:\n{toml}");
    }
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one assertion per required field, in file order"
)]
fn xray_output_has_every_required_field() {
    let p = paths();
    let (code, out, err) = init(
        &p,
        &[
            "--host",
            "vpn.example.com",
            "--target",
            "www.example.com:443",
            "--server-name",
            "www.example.com",
            "--socket-group",
            "veilops",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    let c = read_json(&p.core);
    assert_eq!(
        mode(&p.core),
        0o640,
        "the config holds the private key: owner and the core's group only"
    );

    // API on loopback, with the services veild needs; stats and per-user stats on.
    assert_eq!(c["api"]["tag"], "api");
    assert_eq!(c["api"]["listen"], "127.0.0.1:10085");
    assert_eq!(
        c["api"]["services"],
        serde_json::json!(["HandlerService", "StatsService"])
    );
    assert!(c["stats"].is_object());
    let level = &c["policy"]["levels"]["0"];
    for (key, value) in [
        ("handshake", 4),
        ("connIdle", 300),
        ("uplinkOnly", 2),
        ("downlinkOnly", 5),
    ] {
        assert_eq!(level[key], value, "{key}");
    }
    for flag in ["statsUserUplink", "statsUserDownlink", "statsUserOnline"] {
        assert_eq!(level[flag], true, "{flag}");
    }
    let buffer = level["bufferSize"].as_u64().unwrap();
    assert!((1..512).contains(&buffer), "modest bufferSize: {buffer}");

    // The inbound: VLESS, decryption none, Vision, raw + REALITY.
    let inbounds = c["inbounds"].as_array().unwrap();
    assert_eq!(inbounds.len(), 1);
    let i = &inbounds[0];
    assert_eq!(i["tag"], "vless-in");
    assert_eq!(i["protocol"], "vless");
    assert_eq!(i["port"], 443);
    assert_eq!(i["settings"]["decryption"], "none");
    assert_eq!(i["settings"]["flow"], "xtls-rprx-vision");
    assert_eq!(i["settings"]["clients"], serde_json::json!([]));
    assert_eq!(i["streamSettings"]["network"], "raw");
    assert_eq!(i["streamSettings"]["security"], "reality");
    let r = &i["streamSettings"]["realitySettings"];
    assert_eq!(r["target"], "www.example.com:443");
    assert_eq!(r["serverNames"], serde_json::json!(["www.example.com"]));
    assert_eq!(r["minClientVer"], "1.8.0");
    let private_key = r["privateKey"].as_str().unwrap();
    assert_eq!(private_key.len(), reality::KEY_CHARS);
    let private = reality::decode_key(private_key).unwrap();
    assert_eq!(private, reality::clamp(private), "clamped like xray x25519");
    let short_ids = r["shortIds"].as_array().unwrap();
    assert_eq!(short_ids.len(), 1);
    let sid = short_ids[0].as_str().unwrap();
    assert_eq!(sid.len(), 16);
    assert_eq!(reality::short_id_problem(sid), None);

    // The summary gives the matching public key and never the private one.
    assert_eq!(
        summary["public_key"],
        reality::public_key_of(private_key).unwrap()
    );
    assert_eq!(summary["short_id"], sid);
    assert!(!out.contains(private_key));

    // Clients cannot reach the server's loopback (the API) or private networks.
    let rule = &c["routing"]["rules"][0];
    assert_eq!(rule["outboundTag"], "block");
    assert!(
        rule["ip"]
            .as_array()
            .unwrap()
            .contains(&"127.0.0.0/8".into())
    );
    assert!(!c.to_string().contains("geoip"));
    let e = endpoint(&c, Flavor::Xray);
    assert_eq!((e.port, e.flow.as_str()), (443, "xtls-rprx-vision"));
    let Security::Reality(r) = e.security else {
        panic!("not REALITY: {e:?}")
    };
    assert_eq!(summary["public_key"], r.public_key);
    assert_eq!(summary["short_id"], r.short_id);
    assert_eq!(r.server_name, "www.example.com");

    let toml = std::fs::read_to_string(&p.veild).unwrap();
    for line in [
        "flavor = \"xray\"",
        "socket_group = \"veilops\"",
        "inbound_tag = \"vless-in\"",
        "host = \"vpn.example.com\"",
    ] {
        assert!(toml.lines().any(|l| l == line), "{line} not in:\n{toml}");
    }
    assert!(!toml.contains(private_key));

    // The human summary says what to do next.
    let p2 = paths();
    let group = own_group();
    let (code, human, _) = veil(&[
        "init",
        "--core-group",
        &group,
        "--host",
        "vpn.example.com",
        "--target",
        "www.example.com:443",
        "--core-config",
        s(&p2.core),
        "--veild-config",
        s(&p2.veild),
    ]);
    assert_eq!(code, 0);
    assert!(
        human.contains("REALITY public key:") && human.contains("veil doctor"),
        "{human}"
    );
}

#[test]
fn existing_files_are_kept_unless_forced() {
    let p = paths();
    let xray = [
        "--host",
        "vpn.example.com",
        "--target",
        "www.example.com:443",
    ];
    assert_eq!(init(&p, &xray).0, 0);
    let before = std::fs::read(&p.core).unwrap();
    let toml_before = std::fs::read(&p.veild).unwrap();

    let (code, _, err) = init(&p, &xray);
    assert_eq!(code, 1);
    assert!(
        err.contains("--force") && err.contains("already exist"),
        "{err}"
    );
    assert_eq!(std::fs::read(&p.core).unwrap(), before);
    assert_eq!(std::fs::read(&p.veild).unwrap(), toml_before);

    // Only one of them present still refuses, and writes neither.
    std::fs::remove_file(&p.veild).unwrap();
    assert_eq!(init(&p, &xray).0, 1);
    assert!(!p.veild.exists());

    let mut forced = xray.to_vec();
    forced.push("--force");
    let (code, _, err) = init(&p, &forced);
    assert_eq!(code, 0, "{err}");
    let after = read_json(&p.core);
    assert_ne!(std::fs::read(&p.core).unwrap(), before, "a fresh keypair");
    assert_eq!(mode(&p.core), 0o640);
    assert!(after["inbounds"][0]["streamSettings"]["realitySettings"]["privateKey"].is_string());
}

#[test]
fn bad_flags_are_usage_errors() {
    let p = paths();
    let cases: &[&[&str]] = &[
        // REALITY needs a target.
        &["--host", "vpn.example.com"],
        &["--host", "vpn.example.com", "--target", "www.example.com"],
        &[
            "--host",
            "https://vpn.example.com",
            "--target",
            "a.example:443",
        ],
        &[
            "--host",
            "vpn.example.com",
            "--target",
            "a.example:443",
            "--api",
            "0.0.0.0:10085",
        ],
        &[
            "--host",
            "vpn.example.com",
            "--target",
            "a.example:443",
            "--port",
            "10085",
        ],
        &[
            "--host",
            "h.example",
            "--flavor",
            "v2fly",
            "--target",
            "a.example:443",
        ],
        &[
            "--host",
            "h.example",
            "--port",
            "0",
            "--target",
            "a.example:443",
        ],
        &[
            "--host",
            "h.example",
            "--target",
            "a.example:443",
            "--api",
            "localhost:10085",
        ],
    ];
    for extra in cases {
        let (code, _, err) = init(&p, extra);
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(
            !p.core.exists() && !p.veild.exists(),
            "{extra:?} wrote files"
        );
    }
}

/// The layout the core's user reads through: the directory belongs to the shared group with
/// mode 2770 (setgid), the file is 0640 in that group. A missing group or a shared
/// directory is refused before anything is written.
#[test]
fn core_config_gets_the_shared_group_layout() {
    use std::os::unix::fs::MetadataExt;
    let p = paths();
    let (code, _, err) = init(&p, &["--host", "127.0.0.1", "--flavor", "v2fly"]);
    assert_eq!(code, 0, "{err}");
    let gid = nix::unistd::getegid().as_raw();
    let dir = std::fs::metadata(p.core.parent().unwrap()).unwrap();
    assert_eq!(dir.mode() & 0o7777, 0o2770);
    assert_eq!(dir.gid(), gid);
    let file = std::fs::metadata(&p.core).unwrap();
    assert_eq!((file.mode() & 0o7777, file.gid()), (0o640, gid));

    let absent = paths();
    let (code, _, err) = veil(&[
        "init",
        "--host",
        "127.0.0.1",
        "--flavor",
        "v2fly",
        "--core-group",
        "veil-no-such-group",
        "--core-config",
        s(&absent.core),
        "--veild-config",
        s(&absent.veild),
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("--core-group veil-no-such-group: no such group")
            && err.contains("groupadd --system veil-no-such-group"),
        "{err}"
    );
    assert!(!absent.core.exists() && !absent.veild.exists());

    let sticky = tempfile::tempdir().unwrap();
    std::fs::set_permissions(sticky.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let core = sticky.path().join("config.json");
    let veild = sticky.path().join("veild.toml");
    let group = own_group();
    let (code, _, err) = veil(&[
        "init",
        "--host",
        "127.0.0.1",
        "--flavor",
        "v2fly",
        "--core-group",
        &group,
        "--core-config",
        s(&core),
        "--veild-config",
        s(&veild),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("is shared by others"), "{err}");
    assert!(!core.exists() && !veild.exists());
    let mode = std::fs::metadata(sticky.path()).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o1777, "the shared directory's mode is not init's");
}
