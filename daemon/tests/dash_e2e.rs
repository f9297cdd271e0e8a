//! The dashboard end to end: the real `veil` in a pseudo-terminal (tmux), against a real
//! veild and a real v2ray core. Keys are typed, the screen is read back with
//! `capture-pane`; every wait polls a condition with a deadline.
//!
//! Needs `tmux` and Debian's `v2ray` (scripts/test installs both).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::core_harness::{HttpFileServer, V2rayClient, V2rayServer, test_bytes};
use support::daemon::{CoreSection, Daemon, DaemonConfig, poll_until, veil_bin};

const WAIT: Duration = Duration::from_secs(40);

/// A tmux server of its own (`-L`), so the test never touches anyone's sessions.
struct Tmux {
    server: String,
}

impl Tmux {
    /// Runs `veil` against `socket` in a `width`×`height` window. When veil exits, the pane
    /// prints its exit code and stays a little while, so a failure can be read.
    /// The dashboard's own log goes to `log` (at debug).
    fn start(socket: &Path, log: &Path, width: u16, height: u16) -> Tmux {
        let server = format!("veil-e2e-{}", std::process::id());
        let script = format!(
            "VEIL_SOCKET='{}' '{}' --log-file '{}' --log-level debug; echo \"EXITED $?\"; sleep 30",
            socket.display(),
            veil_bin().display(),
            log.display()
        );
        let out = Command::new("tmux")
            .args([
                "-L",
                &server,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "dash",
            ])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .args(["sh", "-c", &script])
            .env_remove("TMUX")
            .env("TERM", "xterm-256color")
            .stdin(Stdio::null())
            .output()
            .expect("run tmux (apt-get install -y tmux; scripts/test does)");
        assert!(out.status.success(), "tmux new-session: {}", text(&out));
        Tmux { server }
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.server])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux")
    }

    /// Presses keys by tmux name (`Enter`, `Tab`, `q`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "dash"];
        args.extend_from_slice(keys);
        let out = self.tmux(&args);
        assert!(out.status.success(), "send-keys: {}", text(&out));
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        let out = self.tmux(&["send-keys", "-t", "dash", "-l", text]);
        assert!(out.status.success(), "send-keys -l: {}", self::text(&out));
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "dash"]).stdout)
            .into_owned()
    }

    /// Waits until the screen satisfies `probe`; panics with the last screen otherwise.
    fn wait_for(&self, what: &str, probe: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let found = poll_until(WAIT, Duration::from_millis(100), || {
            last = self.screen();
            probe(&last).then(|| last.clone())
        });
        found.unwrap_or_else(|| panic!("dashboard: {what} not seen within {WAIT:?}:\n{last}"))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The screen line that shows `name`.
fn row<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    screen.lines().find(|l| l.contains(name))
}

/// Parses the dashboard's compact size (`3.0M`, `512B`, `12K`) into bytes.
fn size(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
    let scale = match unit {
        "B" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

/// The used bytes in a key row's `USED/LIMIT` cell.
fn used_in_row(line: &str, limit: &str) -> Option<f64> {
    let cell = line.split_whitespace().find(|w| w.ends_with(limit))?;
    let used = cell.trim_start_matches(['▰', '▱']).strip_suffix(limit)?;
    size(used.trim_end_matches('/'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines, reason = "one scripted session, step by step")]
async fn the_dashboard_adds_a_key_shows_its_traffic_and_survives_a_veild_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = V2rayServer::start(dir.path(), &[]).await;
    let cfg = DaemonConfig {
        core: Some(CoreSection::v2fly(&server.api_addr(), server.config_path())),
        extra_core: "[traffic]\ninterval_ms = 300\n".into(),
        ..Default::default()
    };
    let mut daemon = Daemon::start_with(dir.path(), &cfg);
    let log = dir.path().join("dash.log");
    let tmux = Tmux::start(&daemon.socket, &log, 120, 40);

    tmux.wait_for("the overview with the core up", |s| {
        s.contains("● veild") && s.contains("● up")
    });

    // Add a key through the form.
    tmux.keys(&["2"]);
    tmux.wait_for("the empty key list", |s| s.contains("no keys yet"));
    tmux.keys(&["a"]);
    tmux.wait_for("the add form", |s| s.contains("Add a key"));
    tmux.type_text("e2e phone 🦊");
    tmux.keys(&["Tab"]);
    tmux.type_text("2G");
    tmux.keys(&["Tab"]);
    tmux.type_text("30d");
    tmux.keys(&["Tab"]);
    tmux.type_text("made by the dashboard test");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the key in the table", |s| {
        s.contains("“e2e phone 🦊” created")
            && row(s, "e2e phone").is_some_and(|r| r.contains("active"))
    });

    // The CLI sees it, with the form's limit, expiry and note.
    let key = poll_until(WAIT, Duration::from_millis(100), || {
        let page = daemon.veil_json(&["key", "list"]);
        page["keys"]
            .as_array()?
            .iter()
            .find(|k| k["name"] == "e2e phone 🦊")
            .cloned()
    })
    .expect("the key in `veil key list --json`");
    assert_eq!(key["note"], "made by the dashboard test");
    assert_eq!(key["data_limit"], Value::from(2u64 << 30));
    let expires = key["expires_at"].as_i64().expect("an expiry");
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    assert!(
        (expires - now - 30 * 86_400).abs() < 120,
        "{expires} vs {now}"
    );
    daemon.wait_no_pending(WAIT);
    let uuid = key["uuid"].as_str().unwrap().to_owned();

    // Move bytes through the key; the dashboard shows them.
    let body = test_bytes(3 << 20, 11);
    let files = HttpFileServer::start(body.clone());
    let client = V2rayClient::start(dir.path(), server.vless_port(), &uuid);
    let url = files.url();
    let got = tokio::task::spawn_blocking(move || {
        let fetched = client.fetch_until(&url, Instant::now() + WAIT);
        (fetched, client)
    })
    .await
    .unwrap();
    let (fetched, _client) = got;
    let (bytes, _) = fetched.expect("a download through the key");
    assert_eq!(bytes.len(), body.len());
    let screen = tmux.wait_for("the download in the key's row", |s| {
        row(s, "e2e phone")
            .and_then(|r| used_in_row(r, "/2.0G"))
            .is_some_and(|used| used >= 3.0 * 1024.0 * 1024.0)
    });
    let line = row(&screen, "e2e phone").unwrap().to_owned();
    // 30 days from the add, floored to whole days: 29d once the dashboard's clock has
    // ticked past the moment of the add.
    assert!(line.contains("in 30d") || line.contains("in 29d"), "{line}");

    // The overview counts today's traffic too.
    tmux.keys(&["1"]);
    tmux.wait_for("today's traffic", |s| {
        s.lines()
            .find(|l| l.contains("today"))
            .is_some_and(|l| l.contains('M') || l.contains('G'))
    });

    // veild restarts: the dashboard says so, then recovers by itself.
    daemon.stop();
    tmux.wait_for("reconnecting", |s| s.contains("reconnecting…"));
    daemon.restart();
    tmux.wait_for("the connection back", |s| {
        s.contains("● veild") && !s.contains("reconnecting")
    });
    tmux.keys(&["3"]);
    tmux.wait_for("the outage in the events", |s| {
        s.contains("lost veild") && s.contains("reconnected")
    });

    // q quits cleanly and gives the terminal back.
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("a clean exit", |s| s.contains("EXITED 0"));

    // Its own log has the story, in a file only its user reads, never on the terminal.
    let text = std::fs::read_to_string(&log).unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&log).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(text.matches("connected to veild").count(), 2, "{text}");
    assert!(text.contains("no connection to veild"), "{text}");
    assert!(text.contains("method=\"key.create\""), "{text}");
    assert!(!screen.contains("connected to veild"), "{screen}");
}
