//! Only root and members of `socket_group` are served. Needs root to create throwaway
//! users and a group (CI runs as root); elsewhere it says so and checks nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use serde_json::json;
use support::daemon::{Daemon, DaemonConfig, veil_bin};

/// Throwaway accounts, removed on drop even when the test fails.
struct Accounts {
    group: String,
    member: String,
    outsider: String,
}

impl Accounts {
    fn create() -> Accounts {
        let tag = format!("{}{}", std::process::id() % 100_000, rand_suffix());
        let a = Accounts {
            group: format!("vtg{tag}"),
            member: format!("vtm{tag}"),
            outsider: format!("vto{tag}"),
        };
        run(&["groupadd", &a.group]);
        run(&[
            "useradd",
            "-M",
            "-N",
            "-s",
            "/usr/sbin/nologin",
            "-G",
            &a.group,
            &a.member,
        ]);
        run(&[
            "useradd",
            "-M",
            "-N",
            "-s",
            "/usr/sbin/nologin",
            &a.outsider,
        ]);
        a
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        for user in [&self.member, &self.outsider] {
            let _ = Command::new("userdel")
                .arg(user)
                .stderr(Stdio::null())
                .status();
        }
        let _ = Command::new("groupdel")
            .arg(&self.group)
            .stderr(Stdio::null())
            .status();
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        % 1000
}

fn run(args: &[&str]) {
    let status = Command::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(status.success(), "{args:?} failed");
}

/// Runs `veil --socket S --json ARGS` as `user` (with that user's groups, via runuser).
fn veil_as(user: &str, socket: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("runuser")
        .args(["-u", user, "--"])
        .arg(veil_bin())
        .arg("--socket")
        .arg(socket)
        .arg("--json")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn only_root_and_socket_group_members_are_served() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: needs root to create throwaway users (CI runs as root)");
        return;
    }
    let accounts = Accounts::create();
    let dir = tempfile::Builder::new()
        .prefix("veil-access-")
        .tempdir()
        .unwrap();
    // Let other users reach the socket file; its own mode is what guards it.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            socket_group: accounts.group.clone(),
            ..Default::default()
        },
    );

    // A member of the group is served.
    let (code, out, err) = veil_as(&accounts.member, &d.socket, &["key", "add", "from-member"]);
    assert_eq!(code, 0, "member refused: {err}");
    assert!(out.contains("from-member"));

    // An outsider cannot even open the socket (mode 0660, group socket_group): exit 3.
    let (code, _, err) = veil_as(&accounts.outsider, &d.socket, &["key", "list"]);
    assert_eq!(code, 3, "outsider: {err}");

    // With the file opened up by mistake, the daemon's own check still refuses: exit 1.
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, _, err) = veil_as(&accounts.outsider, &d.socket, &["key", "add", "intruder"]);
    assert_eq!(code, 1, "outsider with an open socket: {err}");
    assert!(err.contains("permission denied"), "{err}");

    // Nothing the outsider asked for happened, and the refusal is in the audit trail.
    let mut c = d.raw();
    assert_eq!(
        c.call_err("key.get", json!({"key": "intruder"})),
        "not_found"
    );
    let uid = nix::unistd::User::from_name(&accounts.outsider)
        .unwrap()
        .unwrap()
        .uid
        .as_raw();
    let entries = c.call("audit.list", json!({}))["entries"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        entries
            .iter()
            .any(|e| e["uid"] == uid && e["outcome"] == "forbidden" && e["method"] == "connect"),
        "{entries:?}"
    );
    let member_uid = nix::unistd::User::from_name(&accounts.member)
        .unwrap()
        .unwrap()
        .uid
        .as_raw();
    assert!(
        entries
            .iter()
            .any(|e| e["uid"] == member_uid && e["method"] == "key.create" && e["outcome"] == "ok")
    );
}
