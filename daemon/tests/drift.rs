//! Xray-only paths of issue 3 against the fake Xray core (the `xray.` service names, with
//! GetInboundUsers): the drift audit compares the core's users with the database, counts the
//! difference in `health` and repairs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use support::core_harness::{FakeUser, FakeXrayCore, VLESS_TAG, config_clients, write_xray_config};
use support::daemon::{CoreSection, Daemon, DaemonConfig, poll_until};
use support::{email_of, id_of, runtime, tempdir, uuid_of};

const CONVERGE: Duration = Duration::from_secs(30);
const DRIFT_INTERVAL_MS: u64 = 300;

/// A minimal Xray-style config: the fake core does not read it, the test command is `true`.
struct Drift {
    d: Daemon,
    fake: FakeXrayCore,
    config: PathBuf,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Drift {
    fn start() -> Drift {
        let dir = tempdir();
        let rt = runtime();
        let fake = rt.block_on(FakeXrayCore::start());
        let config = write_xray_config(dir.path(), &fake.api_addr());
        let section = CoreSection::xray(&fake.api_addr(), &config)
            .with_extra(&format!("drift_interval_ms = {DRIFT_INTERVAL_MS}"));
        let d = Daemon::start_with(
            dir.path(),
            &DaemonConfig {
                core: Some(section),
                ..Default::default()
            },
        );
        d.wait_core_up(CONVERGE);
        Drift {
            d,
            fake,
            config,
            _rt: rt,
            _dir: dir,
        }
    }

    /// `(email, uuid)` the core should hold: one per active key.
    fn expected(&self) -> BTreeSet<(String, String)> {
        self.d
            .keys_in("active")
            .iter()
            .map(|k| (email_of(id_of(k)), uuid_of(k)))
            .collect()
    }

    fn in_core(&self) -> BTreeSet<(String, String)> {
        self.fake
            .users(VLESS_TAG)
            .into_iter()
            .map(|u| (u.email.to_lowercase(), u.uuid.to_lowercase()))
            .collect()
    }

    /// Polls health until the fake's users equal the active keys and some audit reported
    /// at least `min_drift`; returns the largest drift seen.
    fn wait_repaired(&self, min_drift: u64) -> u64 {
        let mut max_drift = 0;
        let mut last = Value::Null;
        let done = poll_until(CONVERGE, Duration::from_millis(20), || {
            last = self.d.health();
            if let Some(drift) = last["core"]["drift"].as_u64() {
                max_drift = max_drift.max(drift);
            }
            (max_drift >= min_drift && self.in_core() == self.expected()).then_some(())
        });
        assert!(
            done.is_some(),
            "not repaired within {CONVERGE:?} (largest drift seen {max_drift}, want >= \
             {min_drift})\ncore: {:?}\nwant: {:?}\nlast health: {last:#}\nlog:\n{}",
            self.in_core(),
            self.expected(),
            self.d.log_text()
        );
        max_drift
    }
}

fn stray(email: &str) -> FakeUser {
    FakeUser {
        email: email.to_owned(),
        uuid: uuid::Uuid::new_v4().to_string(),
        level: 0,
        flow: String::new(),
    }
}

#[test]
fn drift_audit_counts_and_repairs_missing_and_extra_users() {
    let t = Drift::start();
    let bulk =
        t.d.call("key.create_bulk", json!({"count": 3, "prefix": "d"}));
    let keys = bulk["keys"].as_array().unwrap().clone();
    let off = t.d.call("key.disable", json!({"key": keys[2]["id"]}));
    t.d.wait_no_pending(CONVERGE);
    assert_eq!(t.in_core(), t.expected(), "the core holds the active keys");
    assert_eq!(t.expected().len(), 2);

    // Behind veild's back: one active user gone, a stray user and the disabled key back.
    let gone = format!("key-{}@veil", keys[0]["id"]);
    let revived = FakeUser {
        email: format!("key-{}@veil", off["id"]),
        uuid: off["uuid"].as_str().unwrap().to_owned(),
        level: 0,
        flow: String::new(),
    };
    t.fake
        .tamper(VLESS_TAG, &[&gone], vec![stray("key-999@veil"), revived]);
    assert_ne!(t.in_core(), t.expected());

    let drift = t.wait_repaired(3);
    eprintln!("largest drift seen: {drift}");
    let health = t.d.wait_no_pending(CONVERGE);
    assert_eq!(health["core"]["status"], "up", "{health:#}");
    assert_eq!(t.in_core(), t.expected(), "still repaired");

    // The config file was never the problem: it lists exactly the active keys.
    let listed: BTreeSet<(String, String)> = config_clients(&t.config, VLESS_TAG)
        .into_iter()
        .map(|(id, email)| (email.to_lowercase(), id.to_lowercase()))
        .collect();
    assert_eq!(listed, t.expected());
}

#[test]
fn drift_audit_repairs_a_core_that_forgot_every_user() {
    let t = Drift::start();
    t.d.call("key.create_bulk", json!({"count": 5, "prefix": "f"}));
    t.d.wait_no_pending(CONVERGE);
    assert_eq!(t.in_core(), t.expected());

    // The uptime does not go back (the fake keeps its clock), so only the audit can tell.
    t.fake.forget_users();
    let drift = t.wait_repaired(5);
    eprintln!("largest drift seen: {drift}");
    assert_eq!(t.in_core().len(), 5);
}
