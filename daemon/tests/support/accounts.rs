//! Throwaway users and a group for tests of who may use the socket. Creating them needs
//! root (CI runs as root); [`Accounts::create`] returns `None` elsewhere and the test says
//! it checked nothing.

use std::path::Path;
use std::process::{Command, Stdio};

use super::daemon::{run_veil_with, veil_bin};

/// A group with `members` in it and one `outsider`, removed on drop even when the test
/// fails.
pub struct Accounts {
    pub group: String,
    pub members: Vec<String>,
    pub outsider: String,
}

impl Accounts {
    pub fn create(members: usize) -> Option<Accounts> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED: needs root to create throwaway users (CI runs as root)");
            return None;
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() % 1000);
        let tag = format!("{}{nanos}", std::process::id() % 100_000);
        let a = Accounts {
            group: format!("vtg{tag}"),
            members: (0..members).map(|n| format!("vt{n}m{tag}")).collect(),
            outsider: format!("vto{tag}"),
        };
        run(&["groupadd", &a.group]);
        for member in &a.members {
            run(&[
                "useradd",
                "-M",
                "-N",
                "-s",
                "/usr/sbin/nologin",
                "-G",
                &a.group,
                member,
            ]);
        }
        run(&[
            "useradd",
            "-M",
            "-N",
            "-s",
            "/usr/sbin/nologin",
            &a.outsider,
        ]);
        Some(a)
    }

    pub fn uid(user: &str) -> u32 {
        nix::unistd::User::from_name(user)
            .expect("user lookup")
            .expect("user exists")
            .uid
            .as_raw()
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        for user in self.members.iter().chain([&self.outsider]) {
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

fn run(args: &[&str]) {
    let status = Command::new(args[0])
        .args(&args[1..])
        .status()
        .expect("run account command");
    assert!(status.success(), "{args:?} failed");
}

/// A command that runs `program` as `user`, with that user's groups (runuser).
pub fn command_as(user: &str, program: &Path) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", user, "--"]).arg(program);
    c
}

/// Runs `veil --socket S --json ARGS` as `user`: (exit code, stdout, stderr).
pub fn veil_as(user: &str, socket: &Path, args: &[&str]) -> (i32, String, String) {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    run_veil_with(command_as(user, &veil_bin()), socket, &full)
}
