//! What veild checks before it serves: each problem planted, the start refused with one
//! line that names the setting, the file and the fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::accounts::{Accounts, command_as};
use support::daemon::{CoreSection, Daemon, DaemonConfig, veild_bin};

/// Runs veild on `config` (as `user` when given) and returns how it ended; fails the test
/// if it is still running after 20 s (it should have refused to start).
fn start_expecting_refusal(config: &Path, user: Option<&str>) -> Output {
    let mut command = match user {
        Some(user) => command_as(user, &veild_bin()),
        None => Command::new(veild_bin()),
    };
    let mut child = command
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("veild started although it should have refused");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn refusal(out: &Output) -> String {
    assert!(!out.status.success(), "veild exited 0");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// An Xray config whose managed inbound speaks REALITY with `reality` as its settings.
fn reality_config(dir: &Path, reality: serde_json::Value) -> std::path::PathBuf {
    let config = json!({
        "api": {"tag": "api", "listen": "127.0.0.1:1", "services": ["HandlerService", "StatsService"]},
        "stats": {},
        "inbounds": [{
            "tag": "vless-in", "listen": "0.0.0.0", "port": 443, "protocol": "vless",
            "settings": {"clients": [], "decryption": "none"},
            "streamSettings": {"network": "raw", "security": "reality", "realitySettings": reality}
        }],
        "outbounds": [{"protocol": "freedom"}]
    });
    let path = dir.join("xray.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    path
}

fn good_reality() -> serde_json::Value {
    json!({
        "target": "www.example.com:443",
        "serverNames": ["www.example.com"],
        "privateKey": "MBiGIWGjwnKIAfj2aSPJ3Ck8cAX6M4PNIV7WWg0kZ0M",
        "shortIds": ["0123456789abcdef"],
        "minClientVer": "1.8.0"
    })
}

#[test]
fn a_missing_test_command_program_is_refused() {
    let dir = support::tempdir();
    let core = dir.path().join("core.json");
    let json = support::daemon::minimal_v2fly_core_config(1, 2, &[]);
    std::fs::write(&core, serde_json::to_vec(&json).unwrap()).unwrap();
    let section = CoreSection::v2fly("127.0.0.1:1", &core).with_test_command(&[
        "/nonexistent/xray",
        "run",
        "-test",
        "-config",
        "{config}",
    ]);
    let config = Daemon::write_config(
        dir.path(),
        &DaemonConfig {
            core: Some(section),
            ..Default::default()
        },
    );
    let err = refusal(&start_expecting_refusal(&config, None));
    assert!(err.contains("core.test_command"), "{err}");
    assert!(err.contains("/nonexistent/xray"), "{err}");
    assert!(err.contains(&config.display().to_string()), "{err}");
}

#[test]
fn bad_reality_settings_are_refused() {
    for (setting, planted) in [
        ("privateKey", json!("not-a-key")),
        ("shortIds", json!(["abc"])),
        ("shortIds", json!(["0123456789abcdef01"])),
        ("serverNames", json!([])),
        ("target", json!("")),
    ] {
        let dir = support::tempdir();
        let mut reality = good_reality();
        reality[setting] = planted.clone();
        let core = reality_config(dir.path(), reality);
        let config = Daemon::write_config(
            dir.path(),
            &DaemonConfig {
                core: Some(CoreSection::xray("127.0.0.1:1", &core)),
                ..Default::default()
            },
        );
        let err = refusal(&start_expecting_refusal(&config, None));
        assert!(
            err.contains(&core.display().to_string()) && err.contains("fix:"),
            "{setting} = {planted}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    // And the good settings start.
    let dir = support::tempdir();
    let core = reality_config(dir.path(), good_reality());
    let mut d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            core: Some(CoreSection::xray("127.0.0.1:1", &core)),
            ..Default::default()
        },
    );
    d.stop();
}

#[test]
fn a_database_directory_veild_cannot_write_is_refused() {
    let Some(accounts) = Accounts::create(1) else {
        return;
    };
    let user = &accounts.members[0];
    let dir = support::tempdir();
    // Readable by everyone, writable by root only: veild's user can read its config and
    // the core's, and write neither directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = Daemon::write_config(dir.path(), &DaemonConfig::default());
    for file in ["veild.toml", "core.json"] {
        std::fs::set_permissions(
            dir.path().join(file),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let err = refusal(&start_expecting_refusal(&config, Some(user)));
    assert!(err.contains("cannot write"), "{err}");
    assert!(
        err.contains("database") || err.contains("core.config"),
        "{err}"
    );
    assert!(err.contains(&config.display().to_string()), "{err}");
}
