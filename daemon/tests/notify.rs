//! What systemd hears from veild under `Type=notify` with a watchdog: READY with a state
//! line, watchdog pings (each after a heartbeat through the store's writer and the
//! applier's loop) with fresh state lines, and STOPPING on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::daemon::{Daemon, DaemonConfig, veild_bin};

#[test]
fn ready_status_watchdog_and_stopping() {
    let dir = support::tempdir();
    let config = Daemon::write_config(dir.path(), &DaemonConfig::default());
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut child = Command::new(veild_bin())
        .arg("--config")
        .arg(&config)
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "400000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let mut messages: Vec<String> = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(30);
    let pings = |m: &[String]| {
        m.iter()
            .filter(|m| m.lines().any(|l| l == "WATCHDOG=1"))
            .count()
    };
    while pings(&messages) < 3 && Instant::now() < deadline {
        let n = notify.recv(&mut buf).expect("a message from veild");
        messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let ready = messages
        .iter()
        .find(|m| m.lines().any(|l| l == "READY=1"))
        .unwrap_or_else(|| panic!("no READY=1: {messages:?}"));
    assert!(
        ready.contains("STATUS=0 keys active, 0 pending, core "),
        "{ready}"
    );
    assert!(pings(&messages) >= 3, "{messages:?}");
    for ping in messages.iter().filter(|m| m.contains("WATCHDOG=1")) {
        assert!(ping.contains("STATUS="), "a ping carries the state: {ping}");
    }

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut stopping = false;
    for _ in 0..50 {
        let Ok(n) = notify.recv(&mut buf) else { break };
        if String::from_utf8_lossy(&buf[..n])
            .lines()
            .any(|l| l == "STOPPING=1")
        {
            stopping = true;
            break;
        }
    }
    assert!(stopping, "no STOPPING=1 after SIGTERM");
    assert!(child.wait().unwrap().success());
}
