//! No local user can lock the others out of the socket, and veild never runs out of file
//! descriptors because of clients: per-uid caps, slots kept for root, an idle timeout, a
//! descriptor budget that fits the open-file limit, and refused peers recorded once per
//! minute, not once per attempt.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::accounts::{Accounts, command_as, veil_as};
use support::daemon::{Daemon, DaemonConfig};

/// Holds N connections to a socket as another user, reports how each one ended: refused
/// with `too_many_connections`, or closed by veild with nothing said (the idle timeout).
const HOLDER: &str = r#"
import json, resource, select, socket, sys, time
path, n, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    socks.append(s)
print("held", len(socks), flush=True)
start = time.time()
left = {s.fileno(): s for s in socks}
data = {fd: b"" for fd in left}
poll = select.poll()
for fd in left:
    poll.register(fd, select.POLLIN)
refused = idle_closed = 0
closed_at = []
while left and time.time() - start < limit:
    for fd, _ in poll.poll(1000):
        poll.unregister(fd)
        chunk = left[fd].recv(4096)
        data[fd] += chunk
        if not chunk:
            if b"too_many_connections" in data[fd]:
                refused += 1
            elif data[fd] == b"":
                idle_closed += 1
                closed_at.append(time.time() - start)
            left.pop(fd).close()
        else:
            poll.register(fd, select.POLLIN)
print(json.dumps({"refused": refused, "idle_closed": idle_closed, "open": len(left),
                  "first_close": min(closed_at, default=None)}), flush=True)
"#;

/// `veil health`'s exit code when it is answered and the core is down (no core runs here).
const SERVED_WITHOUT_CORE: i32 = 4;

fn config(group: &str, connections: &str) -> DaemonConfig {
    DaemonConfig {
        socket_group: group.to_owned(),
        extra_toml: format!("[connections]\n{connections}\n"),
        ..Default::default()
    }
}

#[test]
fn one_member_cannot_lock_out_root_or_other_members_and_idle_connections_close() {
    let _serial = support::serial();
    let Some(accounts) = Accounts::create(2) else {
        return;
    };
    let (greedy, other) = (&accounts.members[0], &accounts.members[1]);
    let dir = support::tempdir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let idle_ms = 8_000;
    let d = Daemon::start_with(
        dir.path(),
        &config(&accounts.group, &format!("idle_timeout_ms = {idle_ms}")),
    );

    let mut holder = command_as(greedy, Path::new("/usr/bin/env"))
        .args(["python3", "-c", HOLDER])
        .arg(&d.socket)
        .arg("1100")
        .arg("60")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs as the member");
    let mut out = BufReader::new(holder.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "held 1100", "{line}");
    let held_at = Instant::now();

    // With 1,100 connections of one member open, root and another member are served
    // (`veil health` answers; it exits 4 because these tests run without a core).
    let (code, text, err) = d.veil(&["health"]);
    assert_eq!(code, SERVED_WITHOUT_CORE, "root: {err}");
    assert!(text.contains("database:"), "{text}");
    let (code, text, err) = veil_as(other, &d.socket, &["health"]);
    assert_eq!(code, SERVED_WITHOUT_CORE, "another member: {err}");
    assert!(text.contains("\"database\""), "{text}");
    assert!(
        held_at.elapsed() < Duration::from_millis(idle_ms),
        "the checks must run while the connections are held"
    );

    line.clear();
    out.read_line(&mut line).unwrap();
    let report: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        let mut err = String::new();
        let _ = holder.stderr.take().map(|mut s| s.read_to_string(&mut err));
        panic!("{e}: {line}\n{err}")
    });
    let _ = holder.wait();
    // The member's own cap (64 by default) let the rest be refused, each with its code;
    // those it kept were closed by the idle timeout, no earlier.
    assert_eq!(report["refused"], 1100 - 64, "{report}");
    assert_eq!(report["idle_closed"], 64, "{report}");
    assert_eq!(report["open"], 0, "{report}");
    let first_close = report["first_close"].as_f64().unwrap();
    assert!(
        first_close >= (idle_ms as f64 / 1000.0) - 1.0,
        "closed before the idle timeout: {report}"
    );
    let (code, _, err) = veil_as(greedy, &d.socket, &["health"]);
    assert_eq!(
        code, SERVED_WITHOUT_CORE,
        "the member is served again once its connections closed: {err}"
    );
}

#[test]
fn a_watcher_is_not_idle() {
    let _serial = support::serial();
    let dir = support::tempdir();
    let d = Daemon::start_with(
        dir.path(),
        &config(&support::daemon::current_group(), "idle_timeout_ms = 300"),
    );
    let mut watcher = d.raw();
    watcher.call("watch", json!({}));
    let mut silent = UnixStream::connect(&d.socket).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut rest = Vec::new();
    // The silent one is closed (EOF, nothing said) after the timeout...
    assert_eq!(silent.read_to_end(&mut rest).unwrap(), 0);
    // ...while the watcher still gets its events.
    watcher.call("key.create", json!({"name": "after-the-timeout"}));
    let event = watcher.read_line();
    assert_eq!(event["method"], "event.key", "{event}");
}

#[test]
fn a_small_descriptor_limit_never_starves_the_store_or_the_applier() {
    let _serial = support::serial();
    let dir = support::tempdir();
    // Soft and hard limit 1,024: veild cannot raise it and must fit its budget inside.
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            nofile: Some((1024, 1024)),
            ..Default::default()
        },
    );
    assert!(
        d.log_text().contains("socket connection budget"),
        "{}",
        d.log_text()
    );
    // One connection made before the flood keeps working through it.
    let mut keeper = d.raw();
    let mut flood = Vec::new();
    let mut refused = 0;
    raise_own_fd_limit(4096);
    for _ in 0..2000 {
        match UnixStream::connect(&d.socket) {
            Ok(s) => flood.push(s),
            Err(_) => refused += 1,
        }
    }
    // Every key created during the flood is written, applied to the config file and
    // answered (the core is down in this test: pending, but the applier read the file).
    for n in 0..5 {
        let key = keeper.call("key.create", json!({"name": format!("during-{n}")}));
        assert_eq!(key["state"], "active", "{key}");
    }
    let health = keeper.call("health", json!({}));
    assert_eq!(health["database"]["ok"], true, "{health}");
    assert!(
        health["config"]["last_error"].is_null(),
        "the applier could not write the core config: {health}"
    );
    // Connections over the budget were told why.
    let mut told = 0;
    for s in flood.iter_mut().rev().take(50) {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        if text.contains("too_many_connections") {
            told += 1;
        }
    }
    assert!(
        told > 0,
        "no connection over the budget was refused ({refused} failed to connect)"
    );
    drop(flood);
    let (code, _, err) = d.veil(&["health"]);
    assert_eq!(code, SERVED_WITHOUT_CORE, "{err}");
    assert!(
        !d.log_text().contains("Too many open files"),
        "{}",
        d.log_text()
    );
}

#[test]
fn the_soft_open_file_limit_is_raised_to_the_hard_one() {
    let _serial = support::serial();
    let dir = support::tempdir();
    // systemd's default: soft 1,024, a higher hard limit.
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            nofile: Some((1024, 4096)),
            ..Default::default()
        },
    );
    let log = d.log_text();
    assert!(
        log.contains("raised the open-file limit from=1024 to=4096"),
        "{log}"
    );
    // The budget is derived from the raised limit, not the soft one.
    assert!(log.contains("fd_limit=4096 max=1024"), "{log}");
}

#[test]
fn refused_peers_are_recorded_once_a_minute() {
    let _serial = support::serial();
    let Some(accounts) = Accounts::create(0) else {
        return;
    };
    let dir = support::tempdir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = Daemon::start_with(dir.path(), &config(&accounts.group, ""));
    // The socket opened up by mistake: the daemon's own check refuses, 200 times.
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let script = "import socket,sys\nfor _ in range(200):\n s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.recv(4096); s.close()\n";
    let status = command_as(&accounts.outsider, Path::new("/usr/bin/env"))
        .args(["python3", "-c", script])
        .arg(&d.socket)
        .status()
        .unwrap();
    assert!(status.success());
    let uid = Accounts::uid(&accounts.outsider);
    let entries = d.raw().call("audit.list", json!({}))["entries"]
        .as_array()
        .unwrap()
        .clone();
    let rows = entries
        .iter()
        .filter(|e| e["uid"] == uid && e["method"] == "connect")
        .count();
    assert_eq!(rows, 1, "{entries:?}");
    let log = d.log_text();
    assert_eq!(log.matches("refused a peer").count(), 1, "{log}");
}

fn raise_own_fd_limit(want: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, want.min(hard), hard).unwrap();
}
