//! Backups while writes go on, and a restore into a fresh state directory: the same keys,
//! limits and history come back, and the real core gets exactly the active keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::{Value, json};
use support::core_harness::{V2rayServer, VLESS_TAG, config_clients};
use support::daemon::{CoreSection, Daemon, DaemonConfig, run_veil, veild_bin};

/// What must survive a backup and restore, per key.
fn snapshot(d: &Daemon) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for state in ["active", "disabled", "deleted"] {
        for k in d.keys_in(state) {
            all.insert(format!(
                "{} {} {} {} {} {}",
                k["id"], k["uuid"], k["name"], k["state"], k["data_limit"], k["expires_at"]
            ));
        }
    }
    all
}

fn traffic_totals(d: &Daemon) -> Value {
    let page = d.raw().call("traffic.list", json!({"state": "active"}));
    page["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| json!([k["id"], k["uplink"], k["downlink"]]))
        .collect()
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario: writes, backups, refusal, restore, checks"
)]
fn backup_under_writes_then_restore_into_a_fresh_state_directory() {
    let _serial = support::serial();
    let rt = support::runtime();
    let old_dir = support::tempdir();
    let server = rt.block_on(V2rayServer::start(old_dir.path(), &[]));
    let cfg = DaemonConfig {
        core: Some(CoreSection::v2fly(&server.api_addr(), server.config_path())),
        ..DaemonConfig::default()
    };
    let mut d = Daemon::start_with(old_dir.path(), &cfg);
    d.wait_core_up(Duration::from_secs(10));
    let mut c = d.raw();
    c.call("key.create_bulk", json!({"count": 200, "prefix": "phone"}));
    c.call(
        "key.update",
        json!({"key": "phone-1", "data_limit": 5_000_000_000u64, "expires_at": 1_801_439_999}),
    );
    c.call("key.disable", json!({"key": "phone-2"}));
    c.call("key.delete", json!({"key": "phone-3"}));

    // A writer commits keys as fast as it can while backups are taken.
    let socket = d.socket.clone();
    let writer = std::thread::spawn(move || {
        let mut w = support::daemon::RawClient::connect(&socket);
        for n in 0..300 {
            w.call("key.create", json!({"name": format!("burst-{n}")}));
        }
    });
    let backups = old_dir.path().join("backups");
    let mut copies = Vec::new();
    for n in 0..3 {
        let to = backups.join(format!("during-{n}.db"));
        std::fs::create_dir_all(&backups).unwrap();
        let done = c.call("backup", json!({"to": to.display().to_string()}));
        assert!(done["keys"].as_u64().unwrap() >= 200, "{done}");
        assert_eq!(
            std::fs::metadata(&to).unwrap().permissions().mode() & 0o777,
            0o600
        );
        copies.push(to);
    }
    writer.join().unwrap();
    // Into the directory, rotated; then the final copy the restore uses.
    let last = c.call("backup", json!({}));
    let last_path = std::path::PathBuf::from(last["path"].as_str().unwrap());
    assert!(last_path.starts_with(&backups), "{last}");
    assert_eq!(last["keys"], 500, "{last}");
    let audit = c.call("audit.list", json!({"limit": 5}));
    assert_eq!(audit["entries"][0]["method"], "backup", "{audit}");

    let before = snapshot(&d);
    let totals = traffic_totals(&d);
    let active_uuids: BTreeSet<String> = d.keys_in("active").iter().map(support::uuid_of).collect();

    // Restoring while veild runs is refused and changes nothing.
    let new_dir = support::tempdir();
    let (code, _, err) = run_veil(
        &d.socket,
        &[
            "restore",
            last_path.to_str().unwrap(),
            "--config",
            d.config.to_str().unwrap(),
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("stop veild first"), "{err}");
    d.stop();
    server_stop(server);

    // A fresh machine: a new core with no users, a new state directory, the backup.
    let new_server = rt.block_on(V2rayServer::start(new_dir.path(), &[]));
    let new_cfg = DaemonConfig {
        core: Some(CoreSection::v2fly(
            &new_server.api_addr(),
            new_server.config_path(),
        )),
        ..DaemonConfig::default()
    };
    let new_config = Daemon::write_config(new_dir.path(), &new_cfg);
    let restored = std::process::Command::new(veild_bin())
        .arg("--config")
        .arg(&new_config)
        .arg("--restore")
        .arg(&last_path)
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let d2 = Daemon::start_with(new_dir.path(), &new_cfg);
    d2.wait_core_up(Duration::from_secs(10));
    d2.wait_no_pending(Duration::from_secs(20));
    assert_eq!(
        snapshot(&d2),
        before,
        "the same keys, states, limits and expiries"
    );
    assert_eq!(traffic_totals(&d2), totals, "the same traffic totals");
    let in_core: BTreeSet<String> = config_clients(new_server.config_path(), VLESS_TAG)
        .into_iter()
        .map(|(uuid, _)| uuid.to_lowercase())
        .collect();
    assert_eq!(
        in_core, active_uuids,
        "the core gets exactly the active keys"
    );
    let health = d2.health();
    assert_eq!(
        health["core"]["last_resync"]["keys"],
        active_uuids.len(),
        "{health}"
    );
}

fn server_stop(mut server: V2rayServer) {
    server.kill9();
}
