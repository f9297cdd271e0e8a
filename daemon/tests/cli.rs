//! The real `veil` binary against the real `veild`: CRUD by id, UUID and name, JSON for
//! scripts, tables for people, and the exit codes scripts rely on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::daemon::{Daemon, run_veil};
use support::tempdir;

#[test]
fn veil_manages_keys_by_id_uuid_and_name() {
    let dir = tempdir();
    let d = Daemon::start(dir.path());

    let key = d.veil_json(&["key", "add", "Ольга 🌸", "--note", "phone"]);
    let id = key["id"].as_i64().unwrap().to_string();
    let uuid = key["uuid"].as_str().unwrap().to_owned();
    assert_eq!(key["note"], "phone");

    for by in [id.as_str(), uuid.as_str(), "ольга 🌸"] {
        assert_eq!(
            d.veil_json(&["key", "show", by])["uuid"],
            uuid.as_str(),
            "show {by}"
        );
    }
    assert_eq!(
        d.veil_json(&["key", "rename", &uuid, "Olga"])["name"],
        "Olga"
    );
    assert_eq!(
        d.veil_json(&["key", "disable", "olga"])["state"],
        "disabled"
    );
    assert_eq!(d.veil_json(&["key", "enable", &id])["state"], "active");

    let bulk = d.veil_json(&["key", "add", "--count", "3", "--prefix", "team"]);
    assert_eq!(bulk["keys"].as_array().unwrap().len(), 3);
    let list = d.veil_json(&["key", "list"]);
    assert_eq!(list["total"], 4);

    // People get a table with the names in it.
    let (code, out, _) = d.veil(&["key", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("Olga") && out.contains("team-3"), "{out}");

    assert_eq!(d.veil_json(&["key", "rm", "team-2"])["state"], "deleted");
    assert_eq!(d.veil_json(&["key", "list"])["total"], 3);

    // The daemon refuses: exit 1 with its message and code.
    let (code, _, err) = d.veil(&["key", "show", "nobody"]);
    assert_eq!(code, 1);
    assert!(err.contains("not_found"), "{err}");
    let (code, _, err) = d.veil(&["key", "add", "OLGA"]);
    assert_eq!(code, 1);
    assert!(err.contains("conflict"), "{err}");

    // Usage errors: exit 2, nothing sent.
    assert_eq!(d.veil(&["key", "show", "0"]).0, 2);
    assert_eq!(d.veil(&["key", "add"]).0, 2);
    assert_eq!(d.veil(&["key", "frobnicate"]).0, 2);

    // Health and audit work and show the actor. The core is down in this test: health
    // says so in its exit code (4), as a monitoring check reads it.
    let (code, out, err) = d.veil(&["--json", "health"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("the core is down"), "{err}");
    let health: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(health["database"]["ok"], true);
    assert_eq!(health["database"]["keys"]["active"], 3);
    let audit = d.veil_json(&["audit", "--key", &id]);
    assert!(audit["entries"].as_array().unwrap().len() >= 4);

    // No daemon: exit 3, naming the socket.
    let absent = dir.path().join("absent.sock");
    let (code, _, err) = run_veil(&absent, &["key", "list"]);
    assert_eq!(code, 3);
    assert!(err.contains("absent.sock"), "{err}");
}

#[test]
fn veil_socket_env_overrides_the_default() {
    let dir = tempdir();
    let d = Daemon::start(dir.path());
    let out = std::process::Command::new(support::daemon::veil_bin())
        .args(["--json", "key", "add", "via-env"])
        .env("VEIL_SOCKET", &d.socket)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(d.veil_json(&["key", "show", "via-env"])["name"], "via-env");
}
