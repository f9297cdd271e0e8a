//! The typed service called directly, without the socket: what an HTTP front end (or any
//! other) gets. A real v2ray core and a real SQLite file sit behind it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::core_harness::V2rayServer;
use support::daemon::{CoreSection, Daemon, DaemonConfig};
use veil_shared::api::{Actor, AuditList, DaemonTask, KeyCreate, KeyUpdate};
use veil_shared::model::{KeyRef, KeyState};
use veild::config::Config;
use veild::daemon::Running;
use veild::service::ErrorKind;
use veild::store::{Store, audit};

fn token() -> Actor {
    Actor::Token {
        name: "billing-bot".into(),
        remote: "198.51.100.7:40211".into(),
    }
}

fn create(name: &str) -> KeyCreate {
    KeyCreate {
        name: name.into(),
        note: None,
        data_limit: None,
        expires_at: None,
        reset: None,
        nodes: None,
    }
}

fn rename(key: &KeyRef, name: &str) -> KeyUpdate {
    KeyUpdate {
        key: key.clone(),
        name: Some(name.into()),
        note: None,
        data_limit: None,
        expires_at: None,
        reset: None,
        nodes: None,
    }
}

#[test]
fn service_calls_with_a_token_actor_are_audited_with_that_actor() {
    let _serial = support::serial();
    let dir = support::tempdir();
    let rt = support::runtime();
    rt.block_on(async {
        let server = V2rayServer::start(dir.path(), &[]).await;
        let cfg = DaemonConfig {
            core: Some(CoreSection::v2fly(&server.api_addr(), server.config_path())),
            ..DaemonConfig::default()
        };
        let config = Config::load(&Daemon::write_config(dir.path(), &cfg)).expect("config");
        let running = Running::start(config)
            .await
            .expect("start the daemon's service");
        let service = &running.service;
        let actor = token();

        let made = service
            .create(&actor, create("phone"))
            .await
            .expect("create");
        assert!(!made.pending, "the real core took the key: {made:?}");
        let key = KeyRef::Id(made.id);
        let renamed = service
            .update(&actor, rename(&key, "phone-2"))
            .await
            .expect("update");
        assert_eq!(renamed.name, "phone-2");
        let off = service.disable(&actor, key.clone()).await.expect("disable");
        assert_eq!((off.state, off.pending), (KeyState::Disabled, false));
        let gone = service.delete(&actor, key.clone()).await.expect("delete");
        assert_eq!(gone.state, KeyState::Deleted);
        // A refused change is audited too, with the same actor.
        let refused = service
            .disable(&actor, KeyRef::Name("nobody-by-this-name".into()))
            .await
            .expect_err("unknown key");
        assert_eq!(refused.kind, ErrorKind::NotFound);

        let page = service
            .audit(AuditList {
                key: None,
                limit: Some(10),
            })
            .await
            .expect("audit");
        let methods: Vec<&str> = page.entries.iter().map(|e| e.method.as_str()).collect();
        assert_eq!(
            methods,
            [
                "key.disable",
                "key.delete",
                "key.disable",
                "key.update",
                "key.create"
            ],
            "newest first: {page:?}"
        );
        for entry in &page.entries {
            assert_eq!(entry.actor, actor, "{entry:?}");
            assert_eq!((entry.uid, entry.pid), (None, None), "{entry:?}");
        }
        assert_eq!(page.entries[0].outcome, "not_found");
        assert!(page.entries[1..].iter().all(|e| e.outcome == "ok"));
        assert!(page.entries[1..].iter().all(|e| e.key_id == Some(made.id)));

        tokio::time::timeout(Duration::from_secs(60), running.stop())
            .await
            .expect("the service stops");
    });
}

/// A database written before actors had kinds keeps every row's meaning: socket peers stay
/// peers with their credentials; what veild did by itself (limit/expiry enforcement,
/// periodic resets) becomes a daemon actor.
#[test]
fn old_audit_rows_keep_their_meaning_after_the_migration() {
    let dir = support::tempdir();
    let path = dir.path().join("veil.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        for sql in [
            include_str!("../migrations/0001_keys_and_audit.sql"),
            include_str!("../migrations/0002_applied_uuid_and_meta.sql"),
            include_str!("../migrations/0003_traffic.sql"),
        ] {
            conn.execute_batch(sql).expect("old migration");
        }
        conn.pragma_update(None, "user_version", 3)
            .expect("version");
        conn.execute_batch(
            "INSERT INTO audit (id, time, uid, gid, pid, method, key_id, key_ref, outcome, detail) VALUES
               (1, 100, 1000, 1000, 42, 'key.create', 1, 'alice', 'ok', NULL),
               (2, 200, 0, 0, 7, 'traffic.enforce', 1, NULL, 'ok', 'disabled (limited)'),
               (3, 300, 0, 0, 7, 'traffic.reset', 1, NULL, 'ok', 'periodic reset'),
               (4, 400, 1000, 1000, 43, 'traffic.reset', 1, 'alice', 'ok', 'cleared'),
               (5, 500, 1001, 1001, NULL, 'connect', NULL, NULL, 'forbidden', NULL);",
        )
        .expect("old rows");
    }
    let store = Store::open(&path).expect("migrate");
    let rt = support::runtime();
    let rows = rt
        .block_on(store.read(|c| audit::list(c, None, 100)))
        .expect("list");
    store.close();
    let by_id = |id: i64| rows.iter().find(|e| e.id == id).expect("row kept");
    let peer = |uid, pid| Actor::Peer { uid, gid: uid, pid };
    assert_eq!(by_id(1).actor, peer(1000, Some(42)));
    assert_eq!(by_id(1).uid, Some(1000));
    assert_eq!(
        by_id(2).actor,
        Actor::Daemon {
            task: DaemonTask::Enforce
        }
    );
    assert_eq!(
        by_id(3).actor,
        Actor::Daemon {
            task: DaemonTask::Reset
        }
    );
    assert_eq!(by_id(4).actor, peer(1000, Some(43)));
    assert_eq!(by_id(5).actor, peer(1001, None));
    assert_eq!(
        (by_id(2).time, by_id(2).detail.as_deref()),
        (200, Some("disabled (limited)"))
    );
    assert_eq!(rows.len(), 5);
}
