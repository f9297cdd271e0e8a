//! Issue 4, `doctor`: it reports nothing on what `veil init` writes (offline with
//! `veild --doctor`, and live through `veil doctor` against a real v2ray and veild), and
//! finds each listed problem when it is planted, each with a fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::core_harness::{free_port, test_link};
use support::daemon::{
    CoreSection, Daemon, DaemonConfig, current_group, poll_until, run_veil, veil_bin, veild_bin,
};
use support::{serial, tempdir};
use veild::corelink::Flavor;

const CONVERGE: Duration = Duration::from_secs(60);

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// What `veil init` wrote in a directory.
struct Setup {
    dir: PathBuf,
    core: PathBuf,
    veild: PathBuf,
}

impl Setup {
    /// `veil init` (xray flavor unless `extra` says otherwise) into `dir`. There is no Xray
    /// binary here, so the xray flavor's test command is replaced by `true`.
    fn init(dir: &Path, extra: &[&str]) -> Setup {
        let core = dir.join("core.json");
        let veild = dir.join("veild.toml");
        let group = current_group();
        let mut args: Vec<String> = vec![
            "--socket".into(),
            s(&dir.join("veil.sock")).to_owned(),
            "init".into(),
            "--host".into(),
            "vpn.example.com".into(),
            "--core-config".into(),
            s(&core).to_owned(),
            "--veild-config".into(),
            s(&veild).to_owned(),
            "--database".into(),
            s(&dir.join("veil.db")).to_owned(),
            "--socket-group".into(),
            group.clone(),
            "--core-group".into(),
            group,
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let out = Command::new(veil_bin())
            .args(&args)
            .env_remove("VEIL_SOCKET")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "veil init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let setup = Setup {
            dir: dir.to_owned(),
            core,
            veild,
        };
        if !extra.contains(&"v2fly") {
            setup.edit_toml("inbound_tag = \"vless-in\"", |l| {
                format!("{l}\ntest_command = [\"true\", \"{{config}}\"]")
            });
        }
        setup
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(&self.core).unwrap()).unwrap()
    }

    fn write_json(&self, v: &Value) {
        std::fs::write(&self.core, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    }

    /// Replaces the veild.toml line `line` by `f(line)`.
    fn edit_toml(&self, line: &str, f: impl Fn(&str) -> String) {
        let text = std::fs::read_to_string(&self.veild).unwrap();
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        let text: Vec<String> = text
            .lines()
            .map(|l| if l == line { f(l) } else { l.to_owned() })
            .collect();
        std::fs::write(&self.veild, text.join("\n") + "\n").unwrap();
    }

    /// `veild --doctor --json --config veild.toml`: (exit code, report).
    fn doctor(&self) -> (i32, Value) {
        doctor_as(None, &self.veild)
    }
}

/// Runs `veild --doctor --json` (as `user` through runuser, if given).
fn doctor_as(user: Option<&str>, config: &Path) -> (i32, Value) {
    let mut cmd = match user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(veild_bin());
            c
        }
        None => Command::new(veild_bin()),
    };
    let out = cmd
        .args(["--doctor", "--json", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "veild --doctor printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// The findings that count (errors and warnings), as `check: problem`.
fn problems(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| format!("{}: {}", f["check"].as_str().unwrap(), f["problem"]))
        .collect()
}

/// Asserts that `check` is among the problems and that every finding has a fix.
fn assert_finds(what: &str, (code, report): (i32, Value), check: &str) {
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["check"] == check && f["severity"] != "info"),
        "{what}: no {check} problem in {report:#}"
    );
    for f in findings {
        assert!(
            !f["fix"].as_str().unwrap().is_empty() && !f["problem"].as_str().unwrap().is_empty(),
            "{f}"
        );
    }
    assert_eq!(code, 1, "{what}: a problem must fail doctor");
}

#[test]
fn nothing_to_report_on_veil_init_output() {
    let _serial = serial();
    let dir = tempdir();
    let xray = Setup::init(&dir.path().join("x"), &["--target", "www.example.com:443"]);
    let (code, report) = xray.doctor();
    assert_eq!(problems(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);
    let checked: Vec<&str> = report["checked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for check in [
        "veild_config",
        "api_loopback",
        "stats",
        "user_stats",
        "flow",
        "min_client_ver",
        "short_ids",
        "server_names",
        "private_key",
        "core_config_writable",
        "database",
        "socket",
    ] {
        assert!(checked.contains(&check), "{check} did not run: {checked:?}");
    }

    // The v2fly flavor, with the real `v2ray -test` as its test command.
    let v2 = Setup::init(
        &dir.path().join("v"),
        &[
            "--flavor",
            "v2fly",
            "--api",
            &format!("127.0.0.1:{}", free_port()),
        ],
    );
    let (code, report) = v2.doctor();
    assert_eq!(problems(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);

    // The human report says so too.
    let out = Command::new(veild_bin())
        .args(["--doctor", "--config", s(&xray.veild)])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("No problems found"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Starts v2ray on `config` and waits until its API at `api` answers.
struct V2ray(std::process::Child);

impl V2ray {
    fn start(config: &Path, api: &str, log: &Path) -> V2ray {
        let out = std::fs::File::create(log).unwrap();
        let child = Command::new(support::core_harness::V2RAY_BIN)
            .arg("-config")
            .arg(config)
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap();
        let v = V2ray(child);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let link = {
            let _entered = rt.enter();
            test_link(Flavor::V2fly, api)
        };
        let up = poll_until(CONVERGE, Duration::from_millis(50), || {
            rt.block_on(link.sys_stats()).ok()
        });
        assert!(
            up.is_some(),
            "v2ray did not answer: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        v
    }
}

impl Drop for V2ray {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one scripted session against a live veild"
)]
fn veil_doctor_through_a_running_veild() {
    let _serial = serial();
    let dir = tempdir();
    let api = format!("127.0.0.1:{}", free_port());
    let port = free_port().to_string();
    let setup = Setup::init(
        dir.path(),
        &[
            "--flavor",
            "v2fly",
            "--api",
            &api,
            "--listen",
            "127.0.0.1",
            "--port",
            &port,
        ],
    );
    let _core = V2ray::start(&setup.core, &api, &dir.path().join("v2ray.log"));
    // The test daemon's own veild.toml, on init's core config (same keys as init's).
    // The core's unit as systemd would show it (the core runs as root here).
    let units = dir.path().join("units");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::write(
        units.join("v2ray.service"),
        "[Service]\nExecStart=/usr/bin/v2ray\n",
    )
    .unwrap();
    let d = Daemon::start_with(
        &setup.dir,
        &DaemonConfig {
            core: Some(CoreSection::v2fly(&api, &setup.core)),
            env: vec![("SYSTEMD_UNIT_PATH".into(), s(&units).to_owned())],
            ..Default::default()
        },
    );
    d.wait_core_up(CONVERGE);
    d.call("key.create", json!({"name": "alice"}));
    d.wait_no_pending(CONVERGE);

    let (code, out, err) = d.veil(&["doctor"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("No problems found"), "{out}");
    let report = d.veil_json(&["doctor"]);
    assert_eq!(problems(&report), Vec::<String>::new(), "{report:#}");
    let checked = report["checked"].as_array().unwrap();
    assert!(checked.contains(&json!("socket")) && checked.contains(&json!("database")));
    // Live, the socket and database are really checked: no "not checked" notes. The one
    // note says that v2fly cannot tell a disabled key's connections (`[core] disconnect`).
    let notes: Vec<&Value> = report["findings"].as_array().unwrap().iter().collect();
    assert_eq!(notes.len(), 1, "{report:#}");
    assert_eq!(notes[0]["check"], "disconnect", "{report:#}");
    assert_eq!(notes[0]["severity"], "info", "{report:#}");

    // A socket opened to everyone is found, with its fix.
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, out, err) = d.veil(&["doctor"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("[socket]") && out.contains("0666"), "{out}");
    assert!(out.contains("fix: chmod 660"), "{out}");
    assert!(err.contains("doctor found 1 problem"), "{err}");
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o660)).unwrap();

    // A socket in the wrong group (root may give it away).
    if nix::unistd::Uid::effective().is_root() {
        let other = nix::unistd::Gid::from_raw(nix::unistd::getegid().as_raw() + 1);
        nix::unistd::chown(&d.socket, None, Some(other)).unwrap();
        let report = d.call("doctor", json!({}));
        let socket: Vec<&Value> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["check"] == "socket")
            .collect();
        assert_eq!(socket.len(), 1, "{report:#}");
        assert!(
            socket[0]["problem"]
                .as_str()
                .unwrap()
                .contains("socket_group"),
            "{report:#}"
        );
        nix::unistd::chown(&d.socket, None, Some(nix::unistd::getegid())).unwrap();
    }

    // Config problems planted while veild runs are found through `veil doctor` too.
    let good = setup.json();
    let mut bad = good.clone();
    bad.as_object_mut().unwrap().remove("stats");
    bad["inbounds"][0]["listen"] = json!("0.0.0.0");
    setup.write_json(&bad);
    let (code, out, _) = d.veil(&["doctor"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error [stats]") && out.contains("error [api_loopback]"),
        "{out}"
    );
    setup.write_json(&good);
    let (code, out, _) = d.veil(&["doctor"]);
    assert_eq!(code, 0, "{out}");

    // No daemon: exit 3, and the hint names the offline doctor.
    let absent = dir.path().join("absent.sock");
    let (code, _, err) = run_veil(&absent, &["doctor"]);
    assert_eq!(code, 3);
    assert!(err.contains("veild --doctor"), "{err}");
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "a table of planted problems, one per check"
)]
fn each_planted_problem_is_found() {
    let _serial = serial();
    let dir = tempdir();
    let setup = Setup::init(dir.path(), &["--target", "www.example.com:443"]);
    let good = setup.json();
    let plant = |what: &str, check: &str, f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        setup.write_json(&v);
        assert_finds(what, setup.doctor(), check);
        setup.write_json(&good);
    };
    fn reality(v: &mut Value) -> &mut Value {
        &mut v["inbounds"][0]["streamSettings"]["realitySettings"]
    }

    plant("API off loopback", "api_loopback", &|v| {
        v["api"]["listen"] = json!("0.0.0.0:10085");
    });
    plant("no stats", "stats", &|v| {
        v.as_object_mut().unwrap().remove("stats");
    });
    plant("user uplink stats off", "user_stats", &|v| {
        v["policy"]["levels"]["0"]["statsUserUplink"] = json!(false);
    });
    plant("no policy at all", "user_stats", &|v| {
        v.as_object_mut().unwrap().remove("policy");
    });
    plant("managed inbound missing", "managed_inbound", &|v| {
        v["inbounds"][0]["tag"] = json!("other");
    });
    plant("managed inbound not VLESS", "managed_inbound", &|v| {
        v["inbounds"][0]["protocol"] = json!("vmess");
    });
    plant("clients with another flow", "flow", &|v| {
        v["inbounds"][0]["settings"]["clients"] = json!([
            {"id": "6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d1e", "email": "key-1@veil", "level": 0,
             "flow": "xtls-rprx-vision"},
            {"id": "7f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d1e", "email": "old@x", "level": 0,
             "flow": "none"}
        ]);
        v["inbounds"][0]["settings"]
            .as_object_mut()
            .unwrap()
            .remove("flow");
    });
    plant("vision without REALITY", "flow", &|v| {
        v["inbounds"][0]["streamSettings"]["security"] = json!("none");
    });
    plant("empty minClientVer", "min_client_ver", &|v| {
        reality(v)["minClientVer"] = json!("");
    });
    plant("no minClientVer", "min_client_ver", &|v| {
        reality(v).as_object_mut().unwrap().remove("minClientVer");
    });
    for bad in [
        json!(["abc"]),
        json!(["0123456789abcdef00"]),
        json!(["zz"]),
        json!([]),
    ] {
        plant(&format!("shortIds {bad}"), "short_ids", &|v| {
            reality(v)["shortIds"] = bad.clone();
        });
    }
    plant("serverNames empty", "server_names", &|v| {
        reality(v)["serverNames"] = json!([]);
    });
    plant("privateKey not base64url", "private_key", &|v| {
        reality(v)["privateKey"] = json!("not a key");
    });
    plant("privateKey too short", "private_key", &|v| {
        reality(v)["privateKey"] = json!("AAAA");
    });
    plant(
        "loopback reachable by clients",
        "private_destinations",
        &|v| {
            v["routing"]["rules"] = json!([]);
        },
    );
    plant("no HandlerService", "api_services", &|v| {
        v["api"]["services"] = json!(["StatsService"]);
    });

    // veild dials the API elsewhere than the core serves it.
    setup.edit_toml("api = \"127.0.0.1:10085\"", |_| {
        "api = \"127.0.0.1:10086\"".into()
    });
    assert_finds("api address mismatch", setup.doctor(), "api_address");
    setup.edit_toml("api = \"127.0.0.1:10086\"", |_| {
        "api = \"127.0.0.1:10085\"".into()
    });

    // The core's own test refuses the file.
    setup.edit_toml("test_command = [\"true\", \"{config}\"]", |_| {
        "test_command = [\"false\", \"{config}\"]".into()
    });
    assert_finds("core test fails", setup.doctor(), "core_test");
    setup.edit_toml("test_command = [\"false\", \"{config}\"]", |_| {
        "test_command = [\"true\", \"{config}\"]".into()
    });

    // Not JSON at all.
    std::fs::write(&setup.core, "{\"inbounds\": [").unwrap();
    assert_finds("config not JSON", setup.doctor(), "core_config");
    setup.write_json(&good);

    // A v2fly setup whose API inbound listens everywhere.
    let v2 = Setup::init(
        &dir.path().join("v2"),
        &["--flavor", "v2fly", "--api", "127.0.0.1:10099"],
    );
    let v2good = v2.json();
    for listen in [Some("0.0.0.0"), None] {
        let mut v = v2good.clone();
        match listen {
            Some(l) => v["inbounds"][0]["listen"] = json!(l),
            None => {
                v["inbounds"][0].as_object_mut().unwrap().remove("listen");
            }
        }
        v2.write_json(&v);
        assert_finds("dokodemo API off loopback", v2.doctor(), "api_loopback");
    }
    v2.write_json(&v2good);
    assert_eq!(v2.doctor().0, 0);

    // Back to good: nothing left.
    let (code, report) = setup.doctor();
    assert_eq!(problems(&report), Vec::<String>::new());
    assert_eq!(code, 0);
}

#[test]
fn planted_database_corruption_is_found() {
    let _serial = serial();
    let dir = tempdir();
    let setup = Setup::init(dir.path(), &["--target", "www.example.com:443"]);
    let db = dir.path().join("veil.db");
    // A real database, with enough keys to span many pages.
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store = veild::store::Store::open(&db).unwrap();
        rt.block_on(store.write(|sp| veild::store::keys::create_bulk(sp, "k", 2000)))
            .unwrap();
        store.close();
    }
    let (code, report) = setup.doctor();
    assert_eq!(problems(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);

    // Overwrite a page in the middle of the file.
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 16 * 4096, "{} bytes", bytes.len());
    let page = 8 * 4096;
    for (i, b) in bytes[page..page + 4096].iter_mut().enumerate() {
        *b = (i * 31 % 251) as u8;
    }
    std::fs::write(&db, bytes).unwrap();
    assert_finds("corrupt database", setup.doctor(), "database");
}

/// Throwaway user for running the doctor as someone who may read but not write.
struct User(String);

impl Drop for User {
    fn drop(&mut self) {
        let _ = Command::new("userdel")
            .arg(&self.0)
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn a_config_veild_cannot_write_is_found() {
    let _serial = serial();
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root to run the doctor as another user");
        return;
    }
    let dir = tempdir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let setup = Setup::init(dir.path(), &["--target", "www.example.com:443"]);
    // As an installer may leave them: readable by everyone, writable by root only (init
    // gave the directory to the core's group).
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&setup.core, std::fs::Permissions::from_mode(0o644)).unwrap();
    let name = format!("vdr{}", std::process::id() % 100_000);
    let status = Command::new("useradd")
        .args(["-M", "-N", "-s", "/usr/sbin/nologin", &name])
        .status()
        .unwrap();
    assert!(status.success(), "useradd failed");
    let user = User(name);
    let result = doctor_as(Some(&user.0), &setup.veild);
    assert_finds(
        "config not writable",
        result.clone(),
        "core_config_writable",
    );
    // And the world-readable private key.
    assert!(
        problems(&result.1)
            .iter()
            .any(|p| p.starts_with("core_config_mode")),
        "{:#}",
        result.1
    );
}
