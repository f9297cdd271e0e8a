//! veild's log: one operation's lines found together by its request id (socket, applier
//! pass, config write), no timestamps when stderr is the journal, and the optional daily
//! log file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::MetadataExt;

use serde_json::json;
use support::core_harness::V2rayServer;
use support::daemon::{CoreSection, Daemon, DaemonConfig};

#[test]
fn a_request_id_follows_a_create_from_the_socket_to_the_config_write() {
    let dir = support::tempdir();
    let rt = support::runtime();
    // A core that is up: no retry passes run beside the one the request asks for.
    let server = rt.block_on(V2rayServer::start(dir.path(), &[]));
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            // The file written before each reply (by default a create's write follows in
            // the background, outside the request's pass).
            core: Some(
                CoreSection::v2fly(&server.api_addr(), server.config_path())
                    .with_extra("file_delay_ms = 0"),
            ),
            ..Default::default()
        },
    );
    d.wait_core_up(std::time::Duration::from_secs(10));
    // Settle the start-up work first (its resyncs and passes run on their own), so the pass
    // that applies the traced create is the one it asked for.
    d.raw().call("key.create", json!({"name": "warm-up"}));
    d.wait_no_pending(std::time::Duration::from_secs(10));
    let key = d.raw().call("key.create", json!({"name": "traced"}));
    assert_eq!(key["name"], "traced");
    let log = d.log_text();
    // The socket's line for the create: `request{req=N … method=key.create}: … key changed`.
    let request_line = log
        .lines()
        .rev()
        .find(|l| l.contains("method=key.create") && l.contains("key changed"))
        .unwrap_or_else(|| panic!("no create line:\n{log}"));
    let req: u64 = request_line
        .split("req=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no req= in {request_line}"));
    // The applier's pass that settled it lists the id, and the config write is inside it.
    let in_pass = |l: &&str| {
        l.split("applier_pass{requests=[")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
            .is_some_and(|ids| ids.split(',').any(|id| id == req.to_string()))
    };
    let pass_lines: Vec<&str> = log.lines().filter(in_pass).collect();
    assert!(
        pass_lines.iter().any(|l| l.contains("core config written")),
        "no config write under request {req}:\n{log}"
    );
}

#[test]
fn no_timestamps_when_stderr_is_the_journal_and_a_daily_file_when_asked() {
    let dir = support::tempdir();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    // veild's stderr is DIR/veild.log (the test harness): make it "the journal".
    let stderr = dir.path().join("veild.log");
    std::fs::write(&stderr, b"").unwrap();
    let meta = std::fs::metadata(&stderr).unwrap();
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            extra_toml: format!("[log]\ndirectory = \"{}\"\nkeep = 3\n", logs.display()),
            env: vec![(
                "JOURNAL_STREAM".into(),
                format!("{}:{}", meta.dev(), meta.ino()),
            )],
            ..Default::default()
        },
    );
    let log = d.log_text();
    let ready = log
        .lines()
        .find(|l| l.contains("veild ready"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        ready.trim_start().starts_with("INFO"),
        "a journal line starts with the level, no time: {ready}"
    );
    // The daily file holds the same lines (written by a background thread: wait for it).
    let file = support::daemon::poll_until(
        std::time::Duration::from_secs(10),
        std::time::Duration::from_millis(50),
        || {
            let entry = std::fs::read_dir(&logs).ok()?.next()?.ok()?;
            let text = std::fs::read_to_string(entry.path()).ok()?;
            text.contains("veild ready").then_some(entry.path())
        },
    )
    .unwrap_or_else(|| panic!("no daily log file in {}", logs.display()));
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("veild.log."), "{name}");
}
