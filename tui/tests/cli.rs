//! The `veil` binary against a scripted fake daemon on a real Unix socket: what it sends,
//! what it prints, and its exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread::JoinHandle;

use serde_json::{Value, json};
use veil_shared::PROTOCOL_VERSION;
use veil_shared::rpc::{ErrorCode, RequestEnvelope, ResponseEnvelope, RpcError};

/// A daemon that answers `hello`, then answers one request with the lines `script` returns
/// and hangs up. It hands back every request it read.
struct FakeDaemon {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    thread: JoinHandle<Vec<RequestEnvelope>>,
}

impl FakeDaemon {
    fn start(script: impl FnOnce(&RequestEnvelope) -> Vec<Value> + Send + 'static) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("veil.sock");
        // Bound before veil starts, so no test waits for readiness.
        let listener = UnixListener::bind(&socket).unwrap();
        let thread = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut writer = stream.try_clone().unwrap();
            let mut seen = Vec::new();
            let mut script = Some(script);
            for line in BufReader::new(stream).lines() {
                let request: RequestEnvelope = serde_json::from_str(&line.unwrap()).unwrap();
                let id = request.id.clone().unwrap_or(Value::Null);
                let replies = if request.method == "hello" {
                    let hello = json!({"protocol": PROTOCOL_VERSION, "version": "0.0.0-fake"});
                    vec![serde_json::to_value(ResponseEnvelope::ok(id, hello)).unwrap()]
                } else {
                    script.take().map(|s| s(&request)).unwrap_or_default()
                };
                for reply in replies {
                    writeln!(writer, "{reply}").unwrap();
                }
                seen.push(request);
                if script.is_none() {
                    break;
                }
            }
            seen
        });
        Self {
            _dir: dir,
            socket,
            thread,
        }
    }

    fn requests(self) -> Vec<RequestEnvelope> {
        self.thread.join().unwrap()
    }
}

fn veil(socket: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(args)
        .arg("--socket")
        .arg(socket)
        .env_remove("VEIL_SOCKET")
        .output()
        .unwrap()
}

fn ok(request: &RequestEnvelope, result: Value) -> Value {
    let id = request.id.clone().unwrap();
    serde_json::to_value(ResponseEnvelope::ok(id, result)).unwrap()
}

fn sample_key(id: i64, name: &str) -> Value {
    json!({
        "id": id, "uuid": "6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d1e", "name": name, "note": "",
        "created_at": 1_795_708_980, "updated_at": 1_795_708_980, "state": "active",
        "applied": "active", "pending": false, "disable_reason": null, "data_limit": null,
        "expires_at": null
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_refusal_exits_1_with_message_and_code() {
    let daemon = FakeDaemon::start(|req| {
        let err = RpcError::new(ErrorCode::NotFound, "key 'bob' not found");
        let id = req.id.clone().unwrap();
        vec![serde_json::to_value(ResponseEnvelope::err(id, err)).unwrap()]
    });
    let out = veil(&daemon.socket, &["key", "show", "bob"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "veil: key 'bob' not found (not_found)\n");
    assert!(out.stdout.is_empty());
    let requests = daemon.requests();
    assert_eq!(requests[0].method, "hello");
    assert_eq!(requests[1].method, "key.get");
    assert_eq!(requests[1].params, Some(json!({"key": "bob"})));
}

#[test]
fn json_prints_the_result_exactly_as_sent() {
    // A member this build does not know must reach scripts untouched.
    let result = json!({"keys": [sample_key(3, "alice")], "total": 1, "from_the_future": true});
    let sent = result.clone();
    let daemon = FakeDaemon::start(move |req| vec![ok(req, sent)]);
    let out = veil(
        &daemon.socket,
        &["key", "list", "--json", "--state", "disabled"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, result);
    let requests = daemon.requests();
    assert_eq!(requests[1].params, Some(json!({"state": "disabled"})));
}

#[test]
fn human_output_is_a_table() {
    let daemon = FakeDaemon::start(|req| {
        vec![ok(
            req,
            json!({"keys": [sample_key(3, "東京")], "total": 1}),
        )]
    });
    let out = veil(&daemon.socket, &["key", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("ID  NAME  STATE"), "{text}");
    assert!(text.contains(" 3  東京  active"), "{text}");
    assert!(text.ends_with("\n1 key\n"), "{text}");
}

#[test]
fn an_empty_note_is_sent_to_clear_it() {
    let daemon = FakeDaemon::start(|req| vec![ok(req, sample_key(7, "bob"))]);
    let out = veil(&daemon.socket, &["key", "note", "7", ""]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("Cleared the note of key 7 'bob'.\n"),
        "{text}"
    );
    let requests = daemon.requests();
    assert_eq!(requests[1].method, "key.update");
    assert_eq!(requests[1].params, Some(json!({"key": 7, "note": ""})));
}

#[test]
fn watch_prints_events_and_exits_3_when_the_daemon_closes() {
    let daemon = FakeDaemon::start(|req| {
        let event = |method: &str, params: Value| json!({"jsonrpc": "2.0", "method": method, "params": params});
        vec![
            ok(req, json!({"subscribed": true})),
            event(
                "event.key",
                json!({"action": "created", "key": sample_key(9, "new")}),
            ),
            event("event.unknown_to_this_build", json!({})),
            event("event.lagged", json!({"missed": 4})),
        ]
    });
    let out = veil(&daemon.socket, &["watch", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("veild closed the connection"));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["method"], "event.key");
    assert_eq!(lines[0]["params"]["key"]["id"], 9);
    assert_eq!(
        lines[1],
        json!({"jsonrpc": "2.0", "method": "event.lagged", "params": {"missed": 4}})
    );
    assert_eq!(daemon.requests()[1].method, "watch");
}

#[test]
fn no_daemon_exits_3_and_names_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("absent.sock");
    let out = veil(&socket, &["health"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains(&socket.display().to_string()), "{err}");
    assert!(err.contains("veild is running"), "{err}");
}

#[test]
fn usage_errors_exit_2_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("absent.sock");
    for args in [
        &["key", "show", "0"][..],
        &["key", "add", "bob", "--count", "2", "--prefix", "p"],
        &["key", "add", "--count", "2"],
        &[],
    ] {
        let out = veil(&socket, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    // A bare `veil` opens the dashboard, which needs a terminal: with pipes it says so.
    let out = veil(&socket, &[]);
    let err = stderr(&out);
    assert!(
        err.starts_with("veil: the dashboard needs a terminal"),
        "{err}"
    );
    assert!(err.contains("veil key list --json"), "{err}");
}

#[test]
fn completions_and_the_manual_page_need_no_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("absent.sock");
    for (shell, marker) in [
        ("bash", "complete -F _veil"),
        ("zsh", "#compdef veil"),
        ("fish", "complete -c veil"),
    ] {
        let out = veil(&socket, &["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(marker), "{shell}: {text}");
        assert!(text.contains("traffic"), "{shell}: subcommands completed");
    }
    let out = veil(&socket, &["manpage"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH veil 1"), "{page}");
    assert!(page.contains("health"), "{page}");
}
