//! Issue 11: the core's config, readable by the core and nobody else. `veil init` lays out
//! the directory (shared group, 2770, setgid) and the file (0640); veild, run as a user of
//! its own in that group, rewrites the file and its backups; a real v2ray, run as a
//! throwaway `nobody`-like user in the group, reads every one of them and starts on the
//! rewritten config, and a user outside the group reads none. The doctor reads the core's
//! unit (`User=`, `SupplementaryGroups=`) and says what to run when the core could not read
//! it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::accounts::{Accounts, command_as};
use support::core_harness::{V2RAY_BIN, config_clients, free_port, test_link};
use support::daemon::{poll_until, run_veil, veil_bin, veild_bin};
use veild::corelink::Flavor;

const WAIT: Duration = Duration::from_secs(30);
const EVERY: Duration = Duration::from_millis(50);

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The machine: the accounts, the directories, and what runs.
struct Host {
    accounts: Accounts,
    dir: tempfile::TempDir,
    core_dir: PathBuf,
    core_config: PathBuf,
    veild_config: PathBuf,
    socket: PathBuf,
    api: String,
    core: Option<Child>,
    veild: Option<Child>,
}

impl Host {
    /// members[0] runs the core (like `nobody` with `SupplementaryGroups=`), members[1]
    /// runs veild; the outsider is any other local user.
    fn core_user(&self) -> &str {
        &self.accounts.members[0]
    }
    fn veild_user(&self) -> &str {
        &self.accounts.members[1]
    }

    fn set_up() -> Option<Host> {
        let accounts = Accounts::create(2)?;
        let dir = support::tempdir();
        // Everyone may pass through the test's directory, as through /usr/local/etc.
        std::fs::set_permissions(dir.path(), PermissionsExt::from_mode(0o755)).unwrap();
        let core_dir = dir.path().join("xray");
        let core_config = core_dir.join("config.json");
        let veild_config = dir.path().join("veil/veild.toml");
        let state = dir.path().join("state");
        let run = dir.path().join("run");
        let api = format!("127.0.0.1:{}", free_port());
        let vless_port = free_port().to_string();
        let out = Command::new(veil_bin())
            .args([
                "--socket",
                s(&run.join("veil.sock")),
                "init",
                "--flavor",
                "v2fly",
            ])
            .args(["--host", "127.0.0.1", "--listen", "127.0.0.1", "--port"])
            .args([vless_port.as_str(), "--api", &api, "--core-group"])
            .arg(&accounts.group)
            .args(["--socket-group", &accounts.group, "--core-config"])
            .arg(&core_config)
            .arg("--veild-config")
            .arg(&veild_config)
            .arg("--database")
            .arg(state.join("veil.db"))
            .env_remove("VEIL_SOCKET")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "veil init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for d in [&state, &run] {
            std::fs::create_dir_all(d).unwrap();
            let veild_uid = Accounts::uid(&accounts.members[1]);
            std::os::unix::fs::chown(d, Some(veild_uid), None).unwrap();
            std::fs::set_permissions(d, PermissionsExt::from_mode(0o750)).unwrap();
        }
        Some(Host {
            socket: run.join("veil.sock"),
            accounts,
            dir,
            core_dir,
            core_config,
            veild_config,
            api,
            core: None,
            veild: None,
        })
    }

    /// The real v2ray as the core's user, on the config as it is now; waits for its API.
    fn start_core(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("core.log")).unwrap();
        let child = command_as(self.core_user(), Path::new(V2RAY_BIN))
            .arg("-config")
            .arg(&self.core_config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.core = Some(child);
        let rt = support::runtime();
        let _in_runtime = rt.enter();
        let link = test_link(Flavor::V2fly, &self.api);
        let up = poll_until(WAIT, EVERY, || {
            rt.block_on(link.sys_stats()).ok().map(|_| ())
        });
        assert!(up.is_some(), "the core did not start: {}", self.core_log());
    }

    fn stop_core(&mut self) {
        if let Some(mut c) = self.core.take() {
            // runuser forwards the signal to the core and waits for it.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = c.wait();
        }
    }

    fn core_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("core.log")).unwrap_or_default()
    }

    /// veild as its own user; ready when the socket answers `health`.
    fn start_veild(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("veild.log")).unwrap();
        let child = command_as(self.veild_user(), &veild_bin())
            .arg("--config")
            .arg(&self.veild_config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.veild = Some(child);
        let ready = poll_until(WAIT, EVERY, || {
            let (code, out, _) = run_veil(&self.socket, &["--json", "health"]);
            (code == 0).then_some(out)
        });
        assert!(
            ready.is_some(),
            "veild did not answer: {}",
            std::fs::read_to_string(self.dir.path().join("veild.log")).unwrap_or_default()
        );
    }

    /// Whether `user` can read `path` (`cat` as that user).
    fn reads(user: &str, path: &Path) -> bool {
        command_as(user, Path::new("/bin/cat"))
            .arg(path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    /// `veild --doctor --json` as root, with the units in `units`.
    fn doctor(&self, units: &Path) -> Vec<Value> {
        let out = Command::new(veild_bin())
            .args(["--doctor", "--json", "--config"])
            .arg(&self.veild_config)
            .env("SYSTEMD_UNIT_PATH", units)
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
        });
        report["findings"].as_array().unwrap().clone()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop_core();
        if let Some(mut v) = self.veild.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(v.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = v.wait();
        }
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn the_core_user_reads_every_file_veild_writes_and_others_read_none() {
    let _serial = support::serial();
    let Some(mut host) = Host::set_up() else {
        return;
    };
    let gid = nix::unistd::Group::from_name(&host.accounts.group)
        .unwrap()
        .unwrap()
        .gid
        .as_raw();
    let dir_meta = std::fs::metadata(&host.core_dir).unwrap();
    assert_eq!((dir_meta.mode() & 0o7777, dir_meta.gid()), (0o2770, gid));

    host.start_core();
    host.start_veild();
    // Two keys, each waited for in the file (writes within core.file_delay_ms coalesce):
    // veild rewrites the file (and backs up the one before) twice.
    for (n, name) in ["alice", "bob"].into_iter().enumerate() {
        let (code, _, err) = run_veil(&host.socket, &["--json", "key", "add", name]);
        assert_eq!(code, 0, "{err}");
        let written = poll_until(WAIT, EVERY, || {
            (config_clients(&host.core_config, "vless-in").len() == n + 1).then_some(())
        });
        assert!(written.is_some(), "veild did not write {name}");
    }
    let files = files_in(&host.core_dir);
    assert!(files.len() >= 3, "the config and its backups: {files:?}");
    let veild_uid = Accounts::uid(host.veild_user());
    for file in &files {
        let meta = std::fs::metadata(file).unwrap();
        assert_eq!(
            (meta.mode() & 0o7777, meta.gid()),
            (0o640, gid),
            "{}",
            file.display()
        );
        assert!(Host::reads(host.core_user(), file), "{}", file.display());
        assert!(
            !Host::reads(&host.accounts.outsider, file),
            "an outsider read {}",
            file.display()
        );
    }
    assert_eq!(
        std::fs::metadata(&host.core_config).unwrap().uid(),
        veild_uid,
        "veild replaced the file"
    );

    // The core, restarted as its user, starts on what veild wrote; its own test agrees.
    host.stop_core();
    host.start_core();
    let test = command_as(host.core_user(), Path::new(V2RAY_BIN))
        .args(["-test", "-config"])
        .arg(&host.core_config)
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "{}",
        String::from_utf8_lossy(&test.stdout)
    );
}

/// Writes `name` with `body` into `units`.
fn unit(units: &Path, name: &str, body: &str) {
    std::fs::create_dir_all(units).unwrap();
    std::fs::write(units.join(name), body).unwrap();
}

fn access_findings(findings: &[Value]) -> Vec<&Value> {
    findings
        .iter()
        .filter(|f| {
            let check = f["check"].as_str().unwrap_or_default();
            check == "core_config_access" || check == "core_config_writable"
        })
        .collect()
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one host, each unit layout in turn, in the order an operator meets them"
)]
fn the_doctor_reads_the_core_unit_and_says_what_to_run() {
    let _serial = support::serial();
    let Some(host) = Host::set_up() else {
        return;
    };
    let units = host.dir.path().join("units");
    let group = host.accounts.group.clone();
    // The installer's unit runs the core as the user; the drop-in adds the group.
    unit(
        &units,
        "v2ray.service",
        &format!(
            "[Service]\nUser={}\nExecStart=/usr/bin/v2ray\n",
            host.core_user()
        ),
    );
    unit(
        &units,
        "veild.service",
        &format!(
            "[Service]\nUser={}\nSupplementaryGroups={group}\n",
            host.veild_user()
        ),
    );
    // The members are in the group by /etc/group already; the drop-in is what a core user
    // outside it needs. First: the layout init wrote, read by the unit's user.
    let findings = host.doctor(&units);
    assert!(access_findings(&findings).is_empty(), "{findings:#?}");

    // The core as a user outside the group (nobody, before the drop-in): refused, with the
    // commands that fix it.
    let outsider = host.accounts.outsider.clone();
    unit(
        &units,
        "v2ray.service",
        &format!("[Service]\nUser={outsider}\n"),
    );
    let findings = host.doctor(&units);
    let found = access_findings(&findings);
    assert_eq!(found.len(), 1, "{findings:#?}");
    let f = found[0];
    assert_eq!(f["check"], "core_config_access");
    assert_eq!(f["severity"], "error");
    let problem = f["problem"].as_str().unwrap();
    assert!(
        problem.contains(&format!("User={outsider}")) && problem.contains("exits 23"),
        "{problem}"
    );
    let fix = f["fix"].as_str().unwrap();
    assert!(
        fix.contains("SupplementaryGroups=xray-config")
            && fix.contains("/etc/systemd/system/v2ray.service.d/50-veil.conf")
            && fix.contains(&format!("chmod 2770 {}", host.core_dir.display())),
        "{fix}"
    );

    // With the drop-in that adds the outsider's unit to the group: readable again.
    unit(
        &units.join("v2ray.service.d"),
        "50-veil.conf",
        &format!("[Service]\nSupplementaryGroups={group}\n"),
    );
    let findings = host.doctor(&units);
    assert!(access_findings(&findings).is_empty(), "{findings:#?}");

    // A config veild (or an old init) left 0600: the core's user is refused again.
    std::fs::set_permissions(&host.core_config, PermissionsExt::from_mode(0o600)).unwrap();
    let findings = host.doctor(&units);
    let found = access_findings(&findings);
    assert_eq!(found.len(), 1, "{findings:#?}");
    assert!(
        found[0]["problem"]
            .as_str()
            .unwrap()
            .contains(&format!("read {}", host.core_config.display())),
        "{found:#?}"
    );

    // veild's unit as a user outside the group: it could not replace the file.
    std::fs::set_permissions(&host.core_config, PermissionsExt::from_mode(0o640)).unwrap();
    unit(
        &units,
        "veild.service",
        &format!("[Service]\nUser={outsider}\n"),
    );
    let findings = host.doctor(&units);
    let found = access_findings(&findings);
    assert_eq!(found.len(), 1, "{findings:#?}");
    assert_eq!(found[0]["check"], "core_config_writable");

    // No unit at all: said, not guessed.
    let empty = host.dir.path().join("no-units");
    std::fs::create_dir_all(&empty).unwrap();
    let findings = host.doctor(&empty);
    let found = access_findings(&findings);
    assert_eq!(found.len(), 1, "{findings:#?}");
    assert_eq!(found[0]["severity"], "info");
}
