//! veild as a hostile local user or a careless script finds it: secrets on disk closed to
//! others, logs that cannot be forged and never hold a whole UUID, names that cannot hide,
//! values out of range refused, daemon text that cannot reach a terminal raw, and a change
//! the core refuses reported instead of hammered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::{Value, json};
use support::core_harness::{FakeXrayCore, write_xray_config};
use support::daemon::{CoreSection, Daemon, DaemonConfig, RawClient, poll_until};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_database_and_the_core_config_are_closed_to_others() {
    let _serial = support::serial();
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let dir = support::tempdir();
    // The core config as an installer may leave it: readable by everyone.
    let mut d = Daemon::start(dir.path());
    let core = dir.path().join("core.json");
    d.raw().call("key.create", json!({"name": "phone"}));
    for suffix in ["", "-wal", "-shm"] {
        let path = dir.path().join(format!("veil.db{suffix}"));
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    // The test wrote core.json 0644 before veild rewrote it: no longer open to others.
    assert_eq!(mode(&core) & 0o007, 0, "core config mode {:o}", mode(&core));

    // Opened up by hand while veild was stopped: fixed, with a warning, at the next start.
    d.stop();
    std::fs::set_permissions(dir.path().join("veil.db"), PermissionsExt::from_mode(0o644)).unwrap();
    d.restart();
    assert_eq!(mode(&dir.path().join("veil.db")), 0o600);
    assert!(
        d.log_text().contains("was readable by others"),
        "{}",
        d.log_text()
    );
    nix::sys::stat::umask(old);
}

#[test]
fn client_strings_never_forge_log_lines_and_uuids_never_reach_the_log() {
    let _serial = support::serial();
    let dir = support::tempdir();
    let d = Daemon::start(dir.path());
    let mut c = d.raw();

    // A refused request whose key reference carries an escape and a forged line.
    let evil = "evil\u{1b}[31mRED\nFAKE LINE\u{7}";
    assert_eq!(c.call_err("key.disable", json!({"key": evil})), "not_found");

    // Every method that takes a key, with UUIDs of every kind.
    let live = c.call("key.create", json!({"name": "live"}));
    let gone = c.call("key.create", json!({"name": "gone"}));
    c.call("key.delete", json!({"key": gone["id"]}));
    let live_uuid = live["uuid"].as_str().unwrap().to_owned();
    let gone_uuid = gone["uuid"].as_str().unwrap().to_owned();
    let unknown = "0b9c8f5e-1d2a-4c3b-9e8f-7a6b5c4d3e2f";
    let uuids = [live_uuid.as_str(), gone_uuid.as_str(), unknown];
    for uuid in uuids {
        for method in [
            "key.get",
            "key.disable",
            "key.enable",
            "key.rotate",
            "key.link",
            "key.config",
            "traffic.get",
            "traffic.reset",
            "traffic.history",
        ] {
            c.request(method, json!({"key": uuid}));
        }
        c.request("key.update", json!({"key": uuid, "note": uuid}));
        c.request("audit.list", json!({"key": uuid}));
        // As a name, as a prefix, as a search.
        c.request("key.create", json!({"name": uuid}));
        c.request("key.create", json!({"name": uuid.to_uppercase()}));
        c.request("key.create", json!({"name": uuid.replace('-', "")}));
        c.request("key.create_bulk", json!({"count": 1, "prefix": uuid}));
        c.request("key.update", json!({"key": "live", "name": uuid}));
        c.request("key.list", json!({"search": uuid}));
    }
    c.request("key.delete", json!({"key": live_uuid}));
    c.request("key.delete", json!({"key": live_uuid}));
    c.request("key.rotate", json!({"key": "live"}));
    drop(c);

    let log = d.log_text();
    for (n, line) in log.lines().enumerate() {
        assert!(
            !line.chars().any(char::is_control),
            "line {n} holds a control character: {line:?}"
        );
        assert!(!line.starts_with("FAKE LINE"), "forged line {n}: {line:?}");
    }
    let whole = |u: &str| {
        let u = u.to_lowercase();
        let lower = log.to_lowercase();
        lower.contains(&u) || lower.contains(&u.replace('-', ""))
    };
    let mut every_uuid: Vec<String> = uuids.iter().map(|u| (*u).to_owned()).collect();
    // Rotation made new UUIDs; none of them may be in the log either.
    let keys = d.raw().call("key.list", json!({"state": "deleted"}));
    for key in keys["keys"].as_array().unwrap() {
        every_uuid.push(key["uuid"].as_str().unwrap().to_owned());
    }
    for uuid in &every_uuid {
        assert!(!whole(uuid), "the log holds {uuid} whole:\n{log}");
    }
    assert!(log.contains(&format!("{}...", &live_uuid[..8])), "{log}");
    // The refusal was logged, escaped: the evidence is there, the forgery is not.
    assert!(
        log.contains("evil\\u{1b}[31mRED\\nFAKE LINE\\u{7}"),
        "the refused reference is not in the log, escaped:\n{log}"
    );
}

#[test]
fn names_that_hide_are_refused_and_case_folded_names_conflict() {
    let _serial = support::serial();
    let dir = support::tempdir();
    let d = Daemon::start(dir.path());
    let mut c = d.raw();
    for name in [
        "alice\u{200B}",
        "al\u{2060}ice",
        "ali\u{00AD}ce",
        "\u{FEFF}alice",
        "alice\u{E0041}",
        "\u{3164}",
        "\u{0301}\u{0301}",
        "a\u{200D}b",
    ] {
        assert_eq!(
            c.call_err("key.create", json!({"name": name})),
            "invalid_input",
            "{name:?}"
        );
    }
    for name in [
        "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}",
        "\u{1F3F3}\u{FE0F}\u{200D}\u{1F308}",
        "\u{1F1E9}\u{1F1EA}",
    ] {
        c.call("key.create", json!({"name": name}));
    }
    for (first, second) in [
        ("Straße", "STRASSE"),
        ("ΟΔΟΣ", "οδος"),
        ("ｆｕｌｌ", "FULL"),
    ] {
        c.call("key.create", json!({"name": first}));
        assert_eq!(
            c.call_err("key.create", json!({"name": second})),
            "conflict",
            "{first} / {second}"
        );
        // And a lookup by the other spelling finds the key.
        assert_eq!(c.call("key.get", json!({"key": second}))["name"], first);
    }
}

#[test]
fn expiries_out_of_range_are_refused() {
    let _serial = support::serial();
    let dir = support::tempdir();
    let d = Daemon::start(dir.path());
    let mut c = d.raw();
    c.call("key.create", json!({"name": "k"}));
    for bad in [i64::MIN, -1, 0, 946_684_799, 253_402_300_800, i64::MAX] {
        assert_eq!(
            c.call_err("key.create", json!({"name": "x", "expires_at": bad})),
            "invalid_input",
            "{bad}"
        );
        assert_eq!(
            c.call_err("key.update", json!({"key": "k", "expires_at": bad})),
            "invalid_input",
            "{bad}"
        );
    }
    // Nothing half-made.
    assert_eq!(c.call_err("key.get", json!({"key": "x"})), "not_found");
    assert_eq!(
        c.call("key.get", json!({"key": "k"}))["expires_at"],
        Value::Null
    );
    let ok = c.call(
        "key.update",
        json!({"key": "k", "expires_at": 253_402_300_799i64}),
    );
    assert_eq!(ok["expires_at"], 253_402_300_799i64);
}

#[test]
fn daemon_text_never_reaches_the_terminal_raw() {
    let _serial = support::serial();
    let dir = support::tempdir();
    let d = Daemon::start(dir.path());
    let (code, out, err) = d.veil(&["key", "show", "evil\u{1b}[31mRED\u{7}\u{9b}2J"]);
    assert_eq!(code, 1, "{err}");
    for text in [&out, &err] {
        assert!(
            !text.contains(['\u{1b}', '\u{7}', '\u{9b}']),
            "a control character reached the terminal: {text:?}"
        );
    }
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn a_name_that_starts_with_a_hyphen_goes_after_the_double_dash() {
    let _serial = support::serial();
    let dir = support::tempdir();
    let d = Daemon::start(dir.path());
    let (code, _, err) = d.veil(&["key", "add", "--", "-phone"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = d.veil(&["key", "show", "--", "-phone"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("-phone"), "{out}");
    // Without it, a usage error that says how.
    let (code, _, err) = d.veil(&["key", "add", "-phone"]);
    assert_eq!(code, 2, "{err}");
    let (_, help, _) = d.veil(&["key", "add", "--help"]);
    assert!(help.contains("veil key add -- -phone"), "{help}");
}

#[test]
fn a_change_the_core_refuses_is_reported_and_not_hammered() {
    let _serial = support::serial();
    let dir = support::tempdir();
    let rt = support::runtime();
    let fake = rt.block_on(FakeXrayCore::start());
    let config = write_xray_config(dir.path(), &fake.api_addr());
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            core: Some(CoreSection::xray(&fake.api_addr(), &config)),
            ..Default::default()
        },
    );
    d.wait_core_up(Duration::from_secs(10));
    assert_eq!(d.veil(&["health"]).0, 0, "healthy: exit 0");
    let mut c: RawClient = d.raw();
    fake.reject_next(1);
    let key = c.call("key.create", json!({"name": "refused"}));
    assert_eq!(key["pending"], true, "{key}");
    let shown = c.call("key.get", json!({"key": "refused"}));
    assert!(
        shown["apply_error"]
            .as_str()
            .is_some_and(|e| e.contains("refused (injected)")),
        "{shown}"
    );
    let health = c.call("health", json!({}));
    assert_eq!(
        (health["pending"].clone(), health["refused"].clone()),
        (json!(1), json!(1))
    );

    // Not retried on a timer: in the time the retries of an unreachable core would have
    // called twice (2 s, then 4 s), the core hears nothing more about it.
    let alters = fake.alter_calls();
    let retried = poll_until(Duration::from_secs(7), Duration::from_millis(250), || {
        (fake.alter_calls() > alters).then_some(())
    });
    assert!(
        retried.is_none(),
        "retried: {} user changes after {alters}",
        fake.alter_calls()
    );
    let (code, text, _) = d.veil(&["key", "show", "refused"]);
    assert_eq!(code, 0);
    assert!(text.contains("refused by the core"), "{text}");
    let (code, _, err) = d.veil(&["health"]);
    assert_eq!(code, 5, "stuck: exit 5 ({err})");

    // The next change tries it again; the core takes it now and the reason is gone.
    let other = c.call("key.create", json!({"name": "other"}));
    assert_eq!(other["pending"], false, "{other}");
    let shown = c.call("key.get", json!({"key": "refused"}));
    assert_eq!(
        (shown["pending"].clone(), shown["apply_error"].clone()),
        (json!(false), Value::Null)
    );
}
