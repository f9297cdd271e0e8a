//! Issue 3, "keys go live in the core", against the real core: Debian's v2ray 4.34
//! (flavor v2fly) started by the tests, a real v2ray client moving HTTP downloads through it,
//! and the real `veild` keeping the core and its config file in step with the database.
//!
//! The tests run one at a time (they start several processes each and some measure time on a
//! small machine). Every wait is a bounded poll on an observed condition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::core_harness::{
    HttpFileServer, V2rayClient, V2rayServer, VLESS_TAG, config_clients, test_bytes,
    v2ray_test_config,
};
use support::daemon::{CoreSection, Daemon, DaemonConfig, poll_until};
use support::{email_of, id_of, runtime, serial, tempdir, uuid_of};
use veild::corelink::{AddOutcome, CoreUser, RemoveOutcome};

/// A key that should work does so within this long (client start-up, first connection).
const WORKS_WITHIN: Duration = Duration::from_secs(10);
/// Bound for the daemon to converge after an event (core back, veild restarted, bulk).
const CONVERGE: Duration = Duration::from_secs(60);

/// `(uuid, email)` as veild should list an active key in the core and the file.
fn expected_client(key: &Value) -> (String, String) {
    (uuid_of(key), email_of(id_of(key)))
}

/// One real core, one file server, one veild pointed at both. Fields drop in order:
/// veild, clients' server, core, runtime, then the directory.
struct Live {
    d: Daemon,
    files: HttpFileServer,
    body: Vec<u8>,
    server: V2rayServer,
    /// The core config file as the core started on it, before veild ever ran.
    original_config: Vec<u8>,
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl Live {
    /// A core whose `vless-in` lists `clients` (`(uuid, email)`), and veild on it.
    fn start(clients: &[(&str, &str)], core: impl FnOnce(CoreSection) -> CoreSection) -> Live {
        let dir = tempdir();
        let rt = runtime();
        let server = rt.block_on(V2rayServer::start(dir.path(), clients));
        let original_config = std::fs::read(server.config_path()).expect("read core config");
        let body = test_bytes(256 * 1024, 7);
        let files = HttpFileServer::start(body.clone());
        let section = core(CoreSection::v2fly(&server.api_addr(), server.config_path()));
        let d = Daemon::start_with(
            dir.path(),
            &DaemonConfig {
                core: Some(section),
                ..Default::default()
            },
        );
        Live {
            d,
            files,
            body,
            server,
            original_config,
            rt,
            dir,
        }
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn client(&self, uuid: &str) -> V2rayClient {
        V2rayClient::start(self.dir(), self.server.vless_port(), uuid)
    }

    fn wait_core_up(&self) -> Value {
        self.d.wait_core_up(CONVERGE)
    }

    /// A fresh client with `uuid` downloads the whole file (retried until [`WORKS_WITHIN`]).
    fn assert_works(&self, uuid: &str, what: &str) {
        let client = self.client(uuid);
        let (got, _) = client
            .fetch_until(&self.files.url(), Instant::now() + WORKS_WITHIN)
            .unwrap_or_else(|e| {
                panic!(
                    "{what}: uuid {uuid} does not carry traffic: {e:#}\ncore log:\n{}\nveild log:\n{}",
                    self.server.log(),
                    self.d.log_text()
                )
            });
        assert!(got == self.body, "{what}: downloaded bytes differ");
    }

    /// A fresh client (new connections) with `uuid` is refused, and nothing reaches the
    /// file server.
    fn assert_refused(&self, uuid: &str, what: &str) {
        let client = self.client(uuid);
        let served = self.files.served();
        let result = client.fetch(&self.files.url());
        assert!(
            result.is_err(),
            "{what}: uuid {uuid} still carries traffic on a new connection"
        );
        assert_eq!(
            self.files.served(),
            served,
            "{what}: a request reached the file server"
        );
    }

    /// The `vless-in` clients of the core config file as `(uuid, email)`, lower-cased.
    fn file_clients(&self) -> Vec<(String, String)> {
        config_clients(self.server.config_path(), VLESS_TAG)
            .into_iter()
            .map(|(id, email)| (id.to_lowercase(), email.to_lowercase()))
            .collect()
    }

    /// The config file lists exactly the active keys, each once, with its derived email.
    fn assert_file_lists_exactly_active(&self, what: &str) {
        let listed = self.file_clients();
        let set: BTreeSet<_> = listed.iter().cloned().collect();
        assert_eq!(
            set.len(),
            listed.len(),
            "{what}: duplicate clients in the file"
        );
        let want: BTreeSet<_> = self
            .d
            .keys_in("active")
            .iter()
            .map(expected_client)
            .collect();
        if set != want {
            let missing: Vec<_> = want.difference(&set).take(5).collect();
            let extra: Vec<_> = set.difference(&want).take(5).collect();
            panic!(
                "{what}: the config file lists {} clients, the database has {} active keys; \
                 missing e.g. {missing:?}, extra e.g. {extra:?}",
                set.len(),
                want.len()
            );
        }
    }

    /// Waits until the config file lists every key live in the core (it may lag them by
    /// `core.file_delay_ms`); returns `health`.
    fn wait_file_in_step(&self) -> Value {
        self.d.wait_health("config.behind == 0", CONVERGE, |h| {
            h["config"]["behind"] == 0
        })
    }

    fn veil_json(&self, args: &[&str]) -> Value {
        self.d.veil_json(args)
    }

    /// Polls `key.get` until the key is no longer pending; returns it.
    fn wait_key_live(&self, key: &Value) -> Value {
        let id = id_of(key);
        let mut last = Value::Null;
        poll_until(CONVERGE, Duration::from_millis(50), || {
            last = self.d.call("key.get", json!({"key": id}));
            (last["pending"] == false).then(|| last.clone())
        })
        .unwrap_or_else(|| {
            panic!(
                "key {id} still pending after {CONVERGE:?}: {last}\nveild log:\n{}",
                self.d.log_text()
            )
        })
    }
}

fn assert_live_active(key: &Value, what: &str) {
    assert_eq!(key["state"], "active", "{what}: {key}");
    assert_eq!(
        key["pending"], false,
        "{what}: the core is up, so the reply is live: {key}"
    );
    assert_eq!(key["applied"], "active", "{what}: {key}");
}

#[test]
fn added_key_carries_traffic_and_disable_and_rm_cut_new_connections() {
    let _serial = serial();
    let live = Live::start(&[], |c| c);
    let health = live.wait_core_up();
    assert!(health["core"]["uptime_secs"].is_u64(), "{health:#}");
    assert_eq!(health["core"]["flavor"], "v2fly", "{health:#}");
    assert_eq!(
        health["config"]["path"].as_str().map(Path::new),
        Some(live.server.config_path()),
        "{health:#}"
    );

    let alice = live.d.call("key.create", json!({"name": "alice"}));
    assert_live_active(&alice, "key.create");
    let uuid = uuid_of(&alice);
    // An add is answered once the core serves it; the file follows within file_delay_ms.
    live.wait_file_in_step();
    live.assert_file_lists_exactly_active("after key.create");
    live.assert_works(&uuid, "a new key");

    // A client that worked, then `key disable`: a new connection is refused.
    let client = live.client(&uuid);
    client
        .fetch_until(&live.files.url(), Instant::now() + WORKS_WITHIN)
        .expect("works before the disable");
    let disabled = live.veil_json(&["key", "disable", "alice"]);
    assert_eq!(disabled["state"], "disabled");
    assert_eq!(disabled["pending"], false, "{disabled}");
    assert_eq!(disabled["applied"], "disabled", "{disabled}");
    live.assert_refused(&uuid, "after key disable");
    assert!(
        client.fetch(&live.files.url()).is_err(),
        "after key disable: a new connection from a client that had worked"
    );
    // A removal is in the file before its reply (a core restarted from it must not
    // serve the key): no wait here.
    live.assert_file_lists_exactly_active("after key disable");
    assert!(live.file_clients().is_empty());

    let enabled = live.veil_json(&["key", "enable", "alice"]);
    assert_eq!(enabled["pending"], false, "{enabled}");
    live.assert_works(&uuid, "after key enable");
    live.wait_file_in_step();
    live.assert_file_lists_exactly_active("after key enable");

    let removed = live.veil_json(&["key", "rm", "alice"]);
    assert_eq!(removed["state"], "deleted", "{removed}");
    assert_eq!(removed["pending"], false, "{removed}");
    live.assert_refused(&uuid, "after key rm");
    live.assert_file_lists_exactly_active("after key rm");
    assert!(live.file_clients().is_empty());
    assert_eq!(live.d.health()["pending"], 0);
}

#[test]
fn core_kill9_every_active_key_works_again_within_5s() {
    let _serial = serial();
    let mut live = Live::start(&[], |c| c);
    live.wait_core_up();
    let bulk = live
        .d
        .call("key.create_bulk", json!({"count": 5, "prefix": "r"}));
    let active: Vec<String> = bulk["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(uuid_of)
        .collect();
    let off = live.d.call("key.create", json!({"name": "off"}));
    live.d.call("key.disable", json!({"key": "off"}));
    live.d.wait_no_pending(CONVERGE);

    let clients: Vec<V2rayClient> = active.iter().map(|u| live.client(u)).collect();
    for (client, uuid) in clients.iter().zip(&active) {
        client
            .fetch_until(&live.files.url(), Instant::now() + WORKS_WITHIN)
            .unwrap_or_else(|e| panic!("{uuid} before the core restart: {e:#}"));
    }
    live.assert_refused(&uuid_of(&off), "disabled key before the restart");
    // A core that has been running a while (its uptime, in whole seconds, is what shows a
    // restart).
    let settled = live.d.wait_health("core uptime >= 2 s", CONVERGE, |h| {
        h["core"]["uptime_secs"].as_u64() >= Some(2)
    });
    let before = settled["core"]["last_resync"].clone();

    live.server.kill9();
    let restarted = Instant::now();
    live.rt.block_on(live.server.start_again());

    let url = live.files.url();
    let took: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = clients
            .iter()
            .map(|client| {
                let url = url.clone();
                s.spawn(move || {
                    client
                        .fetch_until(&url, restarted + Duration::from_secs(20))
                        .map(|(_, at)| at - restarted)
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(&active)
            .map(|(h, uuid)| {
                h.join()
                    .unwrap()
                    .unwrap_or_else(|e| panic!("{uuid} after the core restart: {e:#}"))
            })
            .collect()
    });
    eprintln!("first download after the core restart, per key: {took:?}");
    for (t, uuid) in took.iter().zip(&active) {
        assert!(
            *t <= Duration::from_secs(5),
            "key {uuid} worked again only {t:?} after the core restart"
        );
    }

    let health = live
        .d
        .wait_health("a resync after the core restart", CONVERGE, |h| {
            let r = &h["core"]["last_resync"];
            *r != before && (r["reason"] == "core_restart" || r["reason"] == "link_restored")
        });
    let resync = &health["core"]["last_resync"];
    assert!(resync["keys"].as_u64() >= Some(5), "{resync}");
    assert!(resync["duration_ms"].is_u64(), "{resync}");
    assert!(resync["at"].is_i64(), "{resync}");
    live.d.wait_no_pending(CONVERGE);
    live.assert_refused(&uuid_of(&off), "disabled key after the restart");
    live.assert_file_lists_exactly_active("after the core restart");
}

#[test]
fn key_added_while_core_is_down_is_pending_then_goes_live() {
    let _serial = serial();
    let mut live = Live::start(&[], |c| c);
    live.wait_core_up();
    live.server.kill9();
    live.d.wait_health("core.status == down", CONVERGE, |h| {
        h["core"]["status"] == "down"
    });

    let bob = live.veil_json(&["key", "add", "bob"]);
    assert_eq!(bob["state"], "active");
    assert_eq!(bob["pending"], true, "core down: {bob}");
    let (code, out, err) = live.d.veil(&["key", "add", "carol"]);
    assert_eq!(code, 0, "veil key add carol: {err}");
    assert!(out.contains("(pending"), "core down, yet: {out}");
    let carol = live.d.call("key.get", json!({"key": "carol"}));
    assert_eq!(carol["pending"], true, "{carol}");
    let health = live.d.health();
    assert!(health["pending"].as_u64() >= Some(2), "{health:#}");
    assert_eq!(health["core"]["status"], "down", "{health:#}");

    live.rt.block_on(live.server.start_again());
    for key in [&bob, &carol] {
        let now = live.wait_key_live(key);
        assert_eq!(now["applied"], "active", "{now}");
    }
    live.d.wait_no_pending(CONVERGE);
    live.assert_works(&uuid_of(&bob), "bob, added while the core was down");
    live.assert_works(&uuid_of(&carol), "carol, added while the core was down");
    live.assert_file_lists_exactly_active("after the core came back");
}

#[test]
fn bulk_1000_keys_config_lists_exactly_them_and_was_written_a_few_times() {
    let _serial = serial();
    let live = Live::start(&[], |c| c);
    live.wait_core_up();
    let settled = live.d.wait_no_pending(CONVERGE);
    let writes_before = settled["config"]["writes"].as_u64().expect("config.writes");

    let started = Instant::now();
    let bulk = live
        .d
        .call("key.create_bulk", json!({"count": 1000, "prefix": "bulk"}));
    let keys = bulk["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 1000);
    let health = live.d.wait_no_pending(CONVERGE);
    let writes = health["config"]["writes"].as_u64().unwrap() - writes_before;
    eprintln!(
        "1000 keys live in {:?}, {writes} config writes",
        started.elapsed()
    );
    assert!(
        (1..=5).contains(&writes),
        "a bulk of 1000 keys took {writes} config writes"
    );

    let listed: BTreeSet<_> = live.file_clients().into_iter().collect();
    let want: BTreeSet<_> = keys.iter().map(expected_client).collect();
    assert_eq!(live.file_clients().len(), 1000, "one client per key");
    assert!(
        listed == want,
        "the file does not list exactly the 1000 keys"
    );
    v2ray_test_config(live.server.config_path())
        .unwrap_or_else(|e| panic!("v2ray -test refuses the written file: {e}"));
    assert!(
        health["config"]
            .get("last_error")
            .is_none_or(Value::is_null),
        "{health:#}"
    );

    live.assert_works(&uuid_of(&keys[0]), "first key of the bulk");
    live.assert_works(&uuid_of(&keys[999]), "last key of the bulk");
}

#[test]
fn failing_test_command_leaves_the_config_byte_identical() {
    let _serial = serial();
    let live = Live::start(&[], |c| {
        c.with_test_command(&[
            "sh",
            "-c",
            "echo 'veil-test: candidate rejected' >&2; exit 3",
            "sh",
            "{config}",
        ])
    });
    let path = live.server.config_path().to_owned();
    let original = live.original_config.clone();
    live.wait_core_up();
    assert!(
        std::fs::read(&path).unwrap() == original,
        "veild changed the config file at start without a passing test command"
    );

    let key = live.d.call("key.create", json!({"name": "dora"}));
    assert_eq!(key["state"], "active");
    let health = live
        .d
        .wait_health("config.last_error after a refused write", CONVERGE, |h| {
            h["config"]["last_error"]
                .as_str()
                .is_some_and(|e| !e.trim().is_empty())
        });
    eprintln!("config.last_error: {}", health["config"]["last_error"]);
    assert!(
        std::fs::read(&path).unwrap() == original,
        "a refused candidate changed the config file"
    );

    // More changes, more refusals: still the same bytes.
    live.d
        .call("key.create_bulk", json!({"count": 20, "prefix": "more"}));
    live.d.call("key.disable", json!({"key": "dora"}));
    live.d
        .wait_health("config.last_error still set", CONVERGE, |h| {
            h["config"]["last_error"].is_string()
        });
    assert!(
        std::fs::read(&path).unwrap() == original,
        "a refused candidate changed the config file"
    );
}

#[test]
fn adopts_the_clients_of_an_existing_core_config() {
    let _serial = serial();
    let uuids: Vec<String> = (0..3).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let emails = [
        "alice@example.com",
        "bob@example.com",
        "Alice@other.example",
    ];
    let clients: Vec<(&str, &str)> = uuids
        .iter()
        .map(String::as_str)
        .zip(emails.iter().copied())
        .collect();
    let mut live = Live::start(&clients, |c| c);
    live.wait_core_up();

    let list = live.veil_json(&["key", "list"]);
    assert_eq!(list["total"], 3, "{list:#}");
    let keys = list["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    let got: BTreeSet<String> = keys.iter().map(uuid_of).collect();
    let want: BTreeSet<String> = uuids.iter().cloned().collect();
    assert_eq!(got, want, "adopted keys keep their UUIDs");
    let names: BTreeSet<String> = keys
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(names.len(), 3, "names are unique: {list:#}");
    for (uuid, email) in uuids.iter().zip(emails) {
        let key = keys.iter().find(|k| uuid_of(k) == *uuid).unwrap();
        let local = email.split('@').next().unwrap().to_lowercase();
        let name = key["name"].as_str().unwrap().to_lowercase();
        assert!(name.contains(&local), "{email} became {name:?}");
        assert_eq!(key["state"], "active", "{key}");
    }

    live.d.wait_no_pending(CONVERGE);
    for uuid in &uuids {
        live.assert_works(uuid, "an adopted client");
    }
    let in_file: BTreeSet<String> = live.file_clients().into_iter().map(|(u, _)| u).collect();
    assert_eq!(in_file, want, "the file still lists the adopted clients");
    assert_eq!(
        live.file_clients().len(),
        3,
        "one client per adopted key: {:?}",
        live.file_clients()
    );

    // They stay live through a core restart too.
    live.server.kill9();
    live.rt.block_on(live.server.start_again());
    for uuid in &uuids {
        live.assert_works(uuid, "an adopted client after a core restart");
    }
    assert_eq!(live.veil_json(&["key", "list"])["total"], 3);
    let health = live.d.health();
    assert_eq!(
        health["config"]["unmanaged_clients"],
        json!([]),
        "every adopted client is owned by a key: {health:#}"
    );
}

#[test]
fn rotate_retires_the_old_uuid_and_the_new_one_works() {
    let _serial = serial();
    let live = Live::start(&[], |c| c);
    live.wait_core_up();
    let erin = live.d.call("key.create", json!({"name": "erin"}));
    assert_live_active(&erin, "key.create");
    let old = uuid_of(&erin);
    live.assert_works(&old, "before the rotation");

    let rotated = live.veil_json(&["key", "rotate", "erin"]);
    assert_eq!(rotated["id"], erin["id"]);
    assert_eq!(rotated["name"], "erin");
    let new = uuid_of(&rotated);
    assert_ne!(new, old, "key rotate gives a new UUID");
    let rotated = live.wait_key_live(&rotated);
    assert_eq!(uuid_of(&rotated), new);

    live.assert_refused(&old, "the old UUID after key rotate");
    live.assert_works(&new, "the new UUID after key rotate");
    live.assert_file_lists_exactly_active("after key rotate");
    assert!(
        !live.file_clients().iter().any(|(u, _)| *u == old),
        "the file still lists the old UUID"
    );
}

/// Every key in the database is in the core and in the file; nothing is in the core that the
/// database lacks (v2fly cannot list users, so the link probes by email).
fn assert_db_core_file_agree(live: &Live, what: &str) {
    let active = live.d.keys_in("active");
    let mut all_ids: Vec<i64> = active.iter().map(id_of).collect();
    for state in ["disabled", "deleted"] {
        all_ids.extend(live.d.keys_in(state).iter().map(id_of));
    }
    let max_id = all_ids.iter().copied().max().unwrap_or(0);
    live.assert_file_lists_exactly_active(what);

    let server = &live.server;
    let inactive: Vec<i64> = all_ids
        .iter()
        .copied()
        .filter(|id| !active.iter().any(|k| id_of(k) == *id))
        .collect();
    live.rt.block_on(async {
        let link = server.link();
        for key in &active {
            let user = CoreUser {
                email: email_of(id_of(key)),
                uuid: uuid_of(key),
                level: 0,
                flow: String::new(),
            };
            let outcome = link.add_user(VLESS_TAG, &user).await.unwrap();
            assert_eq!(
                outcome,
                AddOutcome::AlreadyPresent,
                "{what}: active key {} is not in the core",
                id_of(key)
            );
        }
        // Emails the database does not have as active keys: ids past the largest one (a
        // bulk that never committed) and disabled or deleted keys.
        let beyond = (max_id + 1)..=(max_id + 2000);
        for id in inactive.into_iter().chain(beyond) {
            let outcome = link.remove_user(VLESS_TAG, &email_of(id)).await.unwrap();
            assert_eq!(
                outcome,
                RemoveOutcome::WasAbsent,
                "{what}: the core had key-{id}@veil, which the database lacks as active"
            );
        }
    });
    if let (Some(first), Some(last)) = (active.first(), active.last()) {
        live.assert_works(&uuid_of(first), what);
        live.assert_works(&uuid_of(last), what);
    }
}

/// When a round of [`kill9_veild_mid_bulk_create_converges_on_restart`] kills veild.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// Right after the request is written (most likely before the commit).
    Sent,
    /// This long after the bulk is seen committed (the applier is then at work: a bulk of
    /// 1,000 takes some hundreds of milliseconds to go live).
    Committed(Duration),
}

#[test]
fn kill9_veild_mid_bulk_create_converges_on_restart() {
    let _serial = serial();
    let mut live = Live::start(&[], |c| c);
    live.wait_core_up();

    let rounds = [
        ("a", KillAt::Committed(Duration::ZERO)),
        ("b", KillAt::Committed(Duration::from_millis(100))),
        ("c", KillAt::Committed(Duration::from_millis(250))),
        ("d", KillAt::Sent),
    ];
    for (prefix, kill_at) in rounds {
        let active_before = live.d.health()["database"]["keys"]["active"]
            .as_u64()
            .unwrap();
        let mut c = live.d.raw();
        let req = json!({"jsonrpc": "2.0", "id": 1, "method": "key.create_bulk",
                         "params": {"count": 1000, "prefix": prefix}});
        c.send_bytes(format!("{req}\n").as_bytes());
        let mut pending_at_kill = Value::Null;
        if let KillAt::Committed(after) = kill_at {
            live.d.wait_health("the bulk committed", CONVERGE, |h| {
                h["database"]["keys"]["active"].as_u64() >= Some(active_before + 1000)
            });
            // Not a readiness wait: the moment the fault is injected.
            std::thread::sleep(after);
            pending_at_kill = live.d.health()["pending"].clone();
        }
        live.d.kill9();
        drop(c);
        let what = format!("round {prefix} ({kill_at:?})");
        eprintln!("{what}: killed veild with {pending_at_kill} pending");

        live.d.restart();
        let health = live.d.wait_no_pending(CONVERGE);
        let active = health["database"]["keys"]["active"].as_u64().unwrap();
        eprintln!("{what}: {active} active keys after the restart");
        assert!(
            active == active_before || active == active_before + 1000,
            "{what}: a bulk is all or nothing, yet {active} keys are active (before: {active_before})"
        );
        assert_db_core_file_agree(&live, &what);
    }
}

/// A `file_delay_ms` no test outlasts: the config file stays behind until a removal, a
/// restart or the end of the test.
const LONG_FILE_DELAY: &str = "file_delay_ms = 60000";

/// The clients the config file lists, as emails.
fn emails_in_file(live: &Live) -> BTreeSet<String> {
    live.file_clients().into_iter().map(|(_, e)| e).collect()
}

#[test]
fn kill9_veild_between_the_reply_and_the_file_write_converges_on_restart() {
    let _serial = serial();
    let mut live = Live::start(&[], |c| c.with_extra(LONG_FILE_DELAY));
    live.wait_core_up();
    live.d.wait_no_pending(CONVERGE);

    let gus = live.d.call("key.create", json!({"name": "gus"}));
    assert_live_active(&gus, "key.create with the file behind");
    let health = live.d.health();
    assert_eq!(health["config"]["behind"], 1, "{health:#}");
    assert!(health["config"]["behind_since"].is_i64(), "{health:#}");
    assert!(
        !emails_in_file(&live).contains(&email_of(id_of(&gus))),
        "the file was written before the reply, so this test does not cover the lag"
    );
    live.assert_works(
        &uuid_of(&gus),
        "a key answered live while the file is behind",
    );

    // veild dies between the reply and the file write.
    live.d.kill9();
    assert!(
        !emails_in_file(&live).contains(&email_of(id_of(&gus))),
        "nothing wrote the file after the kill"
    );
    live.d.restart();
    let email = email_of(id_of(&gus));
    poll_until(CONVERGE, Duration::from_millis(50), || {
        emails_in_file(&live).contains(&email).then_some(())
    })
    .unwrap_or_else(|| panic!("the file never caught up:\n{}", live.d.log_text()));
    let health = live.d.wait_no_pending(CONVERGE);
    assert_eq!(health["config"]["behind"], 0, "{health:#}");
    assert!(
        live.d
            .log_text()
            .contains("config file was behind the database at the last stop"),
        "the lag recorded before the crash is not reported at the start"
    );
    live.assert_file_lists_exactly_active("after the restart");
    live.assert_works(&uuid_of(&gus), "after veild's restart");
}

#[test]
fn core_restart_while_the_file_is_behind_loses_no_key_and_a_removal_writes_the_file_first() {
    let _serial = serial();
    let mut live = Live::start(&[], |c| c.with_extra(LONG_FILE_DELAY));
    live.wait_core_up();
    live.d.wait_no_pending(CONVERGE);
    let hal = live.d.call("key.create", json!({"name": "hal"}));
    assert_live_active(&hal, "key.create");
    assert!(!emails_in_file(&live).contains(&email_of(id_of(&hal))));
    // A core that has been running a while (its uptime, in whole seconds, shows a restart).
    let settled = live.d.wait_health("core uptime >= 2 s", CONVERGE, |h| {
        h["core"]["uptime_secs"].as_u64() >= Some(2)
    });
    let before = settled["core"]["last_resync"].clone();

    // The core restarts from a file that lacks hal: veild's resync adds hal again.
    live.server.kill9();
    live.rt.block_on(live.server.start_again());
    live.d
        .wait_health("a resync after the core restart", CONVERGE, |h| {
            let r = &h["core"]["last_resync"];
            *r != before && (r["reason"] == "core_restart" || r["reason"] == "link_restored")
        });
    live.assert_works(
        &uuid_of(&hal),
        "a key the file lacked, after a core restart",
    );
    let health = live.d.health();
    assert_eq!(health["config"]["behind"], 1, "still behind: {health:#}");

    // A removal is written to the file before its reply, with everything behind.
    let ida = live.d.call("key.create", json!({"name": "ida"}));
    assert_live_active(&ida, "key.create");
    let off = live.d.call("key.disable", json!({"key": "hal"}));
    assert_eq!(off["pending"], false, "{off}");
    assert_eq!(live.d.health()["config"]["behind"], 0);
    live.assert_file_lists_exactly_active("right after key.disable");
    assert!(emails_in_file(&live).contains(&email_of(id_of(&ida))));
    live.assert_refused(&uuid_of(&hal), "after key.disable");
}
