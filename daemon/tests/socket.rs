//! The socket server end to end: the real `veild` binary on a temp socket and database,
//! driven by a raw line client (bytes exactly as a script would send them) and by
//! `veil_shared::client::Client`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};

use serde_json::{Value, json};
use support::daemon::{Daemon, RawClient};
use support::tempdir;

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "every operation by each kind of reference, in one session"
)]
fn crud_by_id_uuid_and_name() {
    let dir = tempdir();
    let d = Daemon::start(dir.path());
    let mut c = d.raw();

    let hello = c.call("hello", json!({"protocol": veil_shared::PROTOCOL_VERSION}));
    assert_eq!(hello["protocol"], veil_shared::PROTOCOL_VERSION);

    let alice = c.call(
        "key.create",
        json!({"name": "  Alice 🦊 ", "note": "first"}),
    );
    assert_eq!(alice["name"], "Alice 🦊", "trimmed");
    assert_eq!(alice["state"], "active");
    assert_eq!(alice["pending"], true, "no core has it yet");
    let id = alice["id"].as_i64().unwrap();
    let uuid = alice["uuid"].as_str().unwrap().to_owned();

    // The same key by id (number and string), UUID (any case) and name (any case).
    for key in [
        json!(id),
        json!(id.to_string()),
        json!(uuid),
        json!(uuid.to_uppercase()),
        json!("alice 🦊"),
    ] {
        let got = c.call("key.get", json!({"key": key}));
        assert_eq!(got["id"], id, "lookup by {key}");
    }

    let renamed = c.call(
        "key.update",
        json!({"key": uuid, "name": "Алиса", "note": ""}),
    );
    assert_eq!(renamed["name"], "Алиса");
    assert_eq!(renamed["note"], "");
    assert_eq!(
        c.call_err("key.get", json!({"key": "Alice 🦊"})),
        "not_found"
    );

    let disabled = c.call("key.disable", json!({"key": "алиса"}));
    assert_eq!(disabled["state"], "disabled");
    assert_eq!(disabled["disable_reason"], "manual");
    let enabled = c.call("key.enable", json!({"key": id}));
    assert_eq!(enabled["state"], "active");
    assert_eq!(enabled["disable_reason"], Value::Null);

    let bob = c.call("key.create", json!({"name": "bob"}));
    assert_eq!(
        c.call_err("key.create", json!({"name": "BOB"})),
        "conflict",
        "names are unique case-insensitively"
    );
    assert_eq!(
        c.call_err("key.update", json!({"key": id, "name": "Bob"})),
        "conflict"
    );

    let list = c.call("key.list", json!({}));
    assert_eq!(list["total"], 2);
    let search = c.call("key.list", json!({"search": "АЛИ"}));
    assert_eq!(search["total"], 1);
    assert_eq!(search["keys"][0]["id"], id);

    let deleted = c.call("key.delete", json!({"key": bob["id"]}));
    assert_eq!(deleted["state"], "deleted");
    assert_eq!(
        c.call("key.list", json!({}))["total"],
        1,
        "deleted keys are left out by default"
    );
    assert_eq!(c.call("key.list", json!({"state": "deleted"}))["total"], 1);
    assert_eq!(
        c.call_err("key.enable", json!({"key": bob["id"]})),
        "conflict",
        "a deleted key stays deleted"
    );
    assert_eq!(
        c.call_err("key.get", json!({"key": "bob"})),
        "not_found",
        "a deleted key gave up its name"
    );
    assert_eq!(
        c.call("key.create", json!({"name": "bob"}))["name"],
        "bob",
        "and the name can be used again"
    );

    for bad in [json!(0), json!(-1), json!(""), json!(99999)] {
        let code = c.call_err("key.get", json!({"key": bad}));
        assert!(
            code == "invalid_input" || code == "not_found",
            "{bad} gave {code}"
        );
    }
    assert_eq!(c.call_err("key.get", json!({"key": 99999})), "not_found");
    assert_eq!(
        c.call_err("key.create", json!({"name": "42"})),
        "invalid_input"
    );
    assert_eq!(
        c.call_err("key.create", json!({"name": uuid})),
        "invalid_input"
    );
    assert_eq!(
        c.call_err("key.create", json!({"name": "line\nbreak"})),
        "invalid_input"
    );
}

#[test]
fn bulk_creation_numbers_on_and_is_all_or_nothing() {
    let dir = tempdir();
    let d = Daemon::start(dir.path());
    let mut c = d.raw();
    let first = c.call("key.create_bulk", json!({"count": 3, "prefix": "guest"}));
    let names: Vec<_> = first["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["guest-1", "guest-2", "guest-3"]);
    let second = c.call("key.create_bulk", json!({"count": 2, "prefix": "GUEST"}));
    assert_eq!(second["keys"][0]["name"], "GUEST-4");
    assert_eq!(
        c.call_err("key.create_bulk", json!({"count": 0, "prefix": "x"})),
        "invalid_input"
    );
    assert_eq!(
        c.call_err("key.create_bulk", json!({"count": 10_001, "prefix": "x"})),
        "invalid_input"
    );
    assert_eq!(c.call("key.list", json!({}))["total"], 5);
}

#[test]
fn bad_input_gets_errors_and_the_daemon_keeps_serving() {
    let dir = tempdir();
    let d = Daemon::start(dir.path());
    let mut c = d.raw();
    let mut other = d.raw();

    c.send_bytes(b"{this is not json\n");
    let resp = c.read_line();
    assert_eq!(resp["error"]["code"], -32700);
    assert_eq!(resp["error"]["data"]["code"], "invalid_input");
    assert_eq!(resp["id"], Value::Null);

    let resp = c.request("no.such.method", json!({}));
    assert_eq!(resp["error"]["code"], -32601);
    assert_eq!(resp["error"]["data"]["code"], "unknown_method");

    for params in [
        json!({"name": 5}),
        json!({"name": "x", "nonsense": true}),
        json!(["x"]),
        json!({}),
    ] {
        let resp = c.request("key.create", params.clone());
        assert_eq!(
            resp["error"]["data"]["code"], "invalid_input",
            "params {params}: {resp}"
        );
    }
    assert_eq!(
        c.request("key.get", json!({"key": true}))["error"]["data"]["code"],
        "invalid_input"
    );

    c.send_bytes(b"[1,2]\n");
    assert_eq!(c.read_line()["error"]["code"], -32600);
    c.send_bytes(b"{\"jsonrpc\":\"1.0\",\"id\":9,\"method\":\"health\"}\n");
    let resp = c.read_line();
    assert_eq!(
        (resp["id"].clone(), resp["error"]["code"].clone()),
        (json!(9), json!(-32600))
    );

    // Ids are echoed exactly or refused: never rounded through a float.
    c.send_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":18446744073709551615,\"method\":\"health\"}\n");
    assert_eq!(c.read_line()["id"], json!(u64::MAX));
    for id in ["123456789012345678901234567890", "1.5", "1e3"] {
        c.send_bytes(
            format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"health\"}}\n").as_bytes(),
        );
        let resp = c.read_line();
        assert_eq!(
            (resp["id"].clone(), resp["error"]["code"].clone()),
            (Value::Null, json!(-32600)),
            "id {id}: {resp}"
        );
    }

    // 2 MiB on one line: answered with an error, not buffered, not fatal.
    let mut huge =
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"key.create\",\"params\":{\"name\":\"".to_vec();
    huge.resize(2 * 1024 * 1024, b'a');
    huge.extend_from_slice(b"\"}}\n");
    c.send_bytes(&huge);
    let resp = c.read_line();
    assert_eq!(resp["error"]["code"], -32600);
    assert!(
        resp["error"]["message"].as_str().unwrap().contains("limit"),
        "{resp}"
    );

    // A notification (no id) is executed but not answered; the next answer is for id 100.
    c.send_bytes(
        b"{\"jsonrpc\":\"2.0\",\"method\":\"key.create\",\"params\":{\"name\":\"silent\"}}\n",
    );
    c.send_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":100,\"method\":\"key.get\",\"params\":{\"key\":\"silent\"}}\n");
    let resp = c.read_line();
    assert_eq!(resp["id"], 100);
    assert_eq!(resp["result"]["name"], "silent");

    // The same connection and another one still work.
    assert_eq!(
        c.call("key.create", json!({"name": "still-here"}))["name"],
        "still-here"
    );
    assert_eq!(other.call("key.list", json!({}))["total"], 2);
    assert!(
        d.log_text().contains("oversize"),
        "the oversize line is logged"
    );
}

#[test]
fn a_hundred_concurrent_clients_create_a_hundred_keys() {
    let dir = tempdir();
    let d = Daemon::start(dir.path());
    let socket = d.socket.clone();
    let threads: Vec<_> = (0..100)
        .map(|i| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let mut c = RawClient::connect(&socket);
                c.call("key.create", json!({"name": format!("client-{i}")}))
            })
        })
        .collect();
    let created: Vec<Value> = threads
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .collect();
    let ids: HashSet<i64> = created.iter().map(|k| k["id"].as_i64().unwrap()).collect();
    let uuids: HashSet<String> = created
        .iter()
        .map(|k| k["uuid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!((ids.len(), uuids.len()), (100, 100));
    let list = d.raw().call("key.list", json!({}));
    assert_eq!(list["total"], 100);
    let listed: HashSet<i64> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, ids);
}

#[test]
fn watchers_receive_key_events_and_audit_records_the_actor() {
    let dir = tempdir();
    let d = Daemon::start(dir.path());
    let mut watcher = d.raw();
    assert_eq!(watcher.call("watch", json!({}))["subscribed"], true);

    let mut c = d.raw();
    let key = c.call("key.create", json!({"name": "watched"}));
    c.call("key.disable", json!({"key": "watched"}));
    assert_eq!(
        c.call_err("key.create", json!({"name": "WATCHED"})),
        "conflict"
    );

    let first = watcher.read_line();
    assert_eq!(first["method"], "event.key");
    assert_eq!(first["params"]["action"], "created");
    assert_eq!(first["params"]["key"]["id"], key["id"]);
    assert_eq!(
        first["params"]["actor"]["uid"],
        nix::unistd::geteuid().as_raw()
    );
    let second = watcher.read_line();
    assert_eq!(second["params"]["action"], "disabled");
    assert_eq!(second["params"]["key"]["state"], "disabled");

    let audit = c.call("audit.list", json!({}))["entries"]
        .as_array()
        .unwrap()
        .clone();
    let outcomes: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("key.create", "conflict"),
            ("key.disable", "ok"),
            ("key.create", "ok")
        ],
        "newest first"
    );
    assert_eq!(audit[1]["uid"], nix::unistd::geteuid().as_raw());
    assert_eq!(
        audit[1]["pid"],
        std::process::id(),
        "the peer's pid is recorded"
    );
    let for_key = c.call("audit.list", json!({"key": key["id"]}))["entries"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(for_key, 2);
}

#[test]
fn version_mismatch_is_refused_clearly() {
    let dir = tempdir();
    let d = Daemon::start(dir.path());
    let mut c = d.raw();
    assert_eq!(
        c.call_err("hello", json!({"protocol": 999})),
        "version_mismatch"
    );
    assert_eq!(
        c.call("hello", json!({}))["protocol"],
        veil_shared::PROTOCOL_VERSION
    );
}

#[test]
fn sigterm_during_a_burst_keeps_every_answered_create() {
    let dir = tempdir();
    let mut d = Daemon::start(dir.path());
    let socket = d.socket.clone();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let socket = socket.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                let stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
                stream
                    .set_read_timeout(Some(std::time::Duration::from_secs(30)))
                    .unwrap();
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                let mut answered = Vec::new();
                for i in 0..100_000 {
                    let req = json!({"jsonrpc": "2.0", "id": i, "method": "key.create",
                                     "params": {"name": format!("burst-{w}-{i}")}});
                    if writer.write_all(format!("{req}\n").as_bytes()).is_err() {
                        break;
                    }
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(n) if n > 0 => {}
                        _ => break, // the daemon closed the connection while stopping
                    }
                    let resp: Value = serde_json::from_str(&line).unwrap();
                    if let Some(uuid) = resp["result"]["uuid"].as_str() {
                        answered.push(uuid.to_owned());
                    }
                    if answered.len() == 20 {
                        let _ = tx.send(());
                    }
                }
                answered
            })
        })
        .collect();
    drop(tx);
    // Stop once every worker has had at least 20 creates answered: the burst is under way.
    for _ in 0..8 {
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("burst under way");
    }
    let status = d.stop();
    assert!(
        status.success(),
        "veild exits cleanly on SIGTERM: {status}\n{}",
        d.log_text()
    );
    assert!(!d.socket.exists(), "the socket is removed on shutdown");
    let answered: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(answered.len() >= 160);

    d.restart();
    let list = d.raw().call("key.list", json!({}));
    let stored: HashSet<String> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["uuid"].as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<_> = answered.iter().filter(|u| !stored.contains(*u)).collect();
    assert!(
        missing.is_empty(),
        "{} answered creates are missing after restart",
        missing.len()
    );
}

#[test]
fn a_stale_socket_is_replaced_but_a_live_daemon_is_never_displaced() {
    let dir = tempdir();
    let mut d = Daemon::start(dir.path());
    d.raw().call("key.create", json!({"name": "survivor"}));

    // A second daemon on the same socket refuses to start and leaves the first serving.
    let second = std::process::Command::new(support::daemon::veild_bin())
        .arg("--config")
        .arg(&d.config)
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("already running"), "{stderr}");
    assert_eq!(
        d.raw().call("key.get", json!({"key": "survivor"}))["name"],
        "survivor"
    );

    // kill -9 leaves the socket file behind; the next start replaces it.
    d.kill9();
    assert!(d.socket.exists(), "kill -9 leaves a stale socket");
    d.restart();
    assert_eq!(
        d.raw().call("key.get", json!({"key": "survivor"}))["name"],
        "survivor"
    );
    assert!(d.log_text().contains("stale socket"));

    // The socket's mode is 0660 whatever the umask.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&d.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
}

#[test]
fn a_socket_file_held_by_another_listener_is_not_displaced() {
    // Something else (not veild, so no lock) listens on the path: veild must refuse.
    let dir = tempdir();
    let path = dir.path().join("veil.sock");
    let _other = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let config = Daemon::write_config(dir.path(), &Default::default());
    let out = std::process::Command::new(support::daemon::veild_bin())
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("live daemon answers"));
    assert!(path.exists());
}

#[test]
fn the_typed_client_round_trips() {
    let dir = tempdir();
    let d = Daemon::start(dir.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use veil_shared::api::{KeyCreate, KeyGet, KeyList};
        use veil_shared::client::{Client, ClientError};
        use veil_shared::model::KeyRef;
        let mut c = Client::connect_checked(&d.socket, "test").await.unwrap();
        let key = c
            .call(KeyCreate {
                name: "typed".into(),
                note: Some("n".into()),
                data_limit: None,
                expires_at: None,
                reset: None,
                nodes: None,
            })
            .await
            .unwrap();
        let got = c
            .call(KeyGet {
                key: KeyRef::Uuid(key.uuid),
            })
            .await
            .unwrap();
        assert_eq!(got, key);
        let page = c.call(KeyList::default()).await.unwrap();
        assert_eq!(page.keys, vec![key]);
        match c
            .call(KeyGet {
                key: KeyRef::Name("nobody".into()),
            })
            .await
        {
            Err(ClientError::Rpc(e)) => assert_eq!(e.kind(), veil_shared::rpc::ErrorCode::NotFound),
            other => panic!("expected not_found, got {other:?}"),
        }
        match Client::connect(dir.path().join("absent.sock")).await {
            Err(ClientError::Connect { .. }) => {}
            other => panic!("expected a connect error, got {:?}", other.err()),
        }
    });
}
