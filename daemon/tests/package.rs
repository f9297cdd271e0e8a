#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The Debian package. `scripts/package` builds it with cargo-deb from the binaries this test
//! run built; `dpkg-deb` shows every file with its owner and mode, the conffiles, the
//! dependencies and the maintainer scripts; then the package is really installed on this
//! machine (CI: root, systemd not PID 1), installed again, removed and purged, and what each
//! step leaves is checked. cargo-deb (scripts/test installs it) and dpkg must be there: without
//! them this test fails, it does not skip.
//!
//! It changes the host: package `veil`, the user `veil`, the groups `veil` and `xray-config`.
//! It refuses to start when any of that (or a scripts/install installation, or a core config
//! directory) is there already, and a guard purges the package and removes the users it
//! created even when it fails. `tests/install.rs` works in temporary roots only, so the two
//! never touch the same paths.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs a command that must succeed; its stdout.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}:\n{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// A tool the test needs: its absence fails the test with what to do.
fn require(program: &str, args: &[&str], fix: &str) {
    let ok = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "`{program} {}` failed: {fix}", args.join(" "));
}

/// What the package holds: path, mode as `dpkg-deb -c` prints it. Owner root for all.
const FILES: &[(&str, &str)] = &[
    ("./usr/bin/veild", "-rwxr-xr-x"),
    ("./usr/bin/veil", "-rwxr-xr-x"),
    ("./usr/lib/systemd/system/veild.service", "-rw-r--r--"),
    (
        "./etc/systemd/system/xray.service.d/50-veil.conf",
        "-rw-r--r--",
    ),
    ("./usr/lib/sysusers.d/veil.conf", "-rw-r--r--"),
    ("./usr/lib/veil/core-dir-layout", "-rwxr-xr-x"),
    ("./etc/veil/veild.toml", "-rw-r-----"),
    ("./usr/share/bash-completion/completions/veil", "-rw-r--r--"),
    ("./usr/share/zsh/vendor-completions/_veil", "-rw-r--r--"),
    (
        "./usr/share/fish/vendor_completions.d/veil.fish",
        "-rw-r--r--",
    ),
    ("./usr/share/man/man1/veil.1.gz", "-rw-r--r--"),
    ("./usr/share/doc/veil/copyright", "-rw-r--r--"),
];

/// Files shipped as they are in the tree (the same sources scripts/install uses).
const SAME_AS_TREE: &[(&str, &str)] = &[
    (
        "usr/lib/systemd/system/veild.service",
        "scripts/systemd/veild.service",
    ),
    (
        "etc/systemd/system/xray.service.d/50-veil.conf",
        "scripts/systemd/50-veil.conf",
    ),
    (
        "usr/lib/sysusers.d/veil.conf",
        "scripts/systemd/veil.sysusers",
    ),
    ("usr/lib/veil/core-dir-layout", "scripts/core-dir-layout"),
];

/// `scripts/package --no-build`, from the binaries beside this test's veild (no release build).
fn build(out: &Path) -> PathBuf {
    require(
        "cargo",
        &["deb", "--version"],
        "cargo-deb is missing: `cargo install cargo-deb --locked` (scripts/test installs it)",
    );
    require(
        "dpkg-deb",
        &["--version"],
        "dpkg-deb is missing: this test needs a Debian machine",
    );
    let veil = support::daemon::veil_bin();
    let bin_dir = veil.parent().unwrap().to_str().unwrap();
    let stdout = run(
        repo().join("scripts/package").to_str().unwrap(),
        &[
            "--no-build",
            "--bin-dir",
            bin_dir,
            "--out",
            out.to_str().unwrap(),
            "--fast",
        ],
    );
    let deb = PathBuf::from(stdout.lines().last().unwrap_or_default());
    assert!(
        deb.is_file() && deb.starts_with(out),
        "scripts/package printed:\n{stdout}"
    );
    deb
}

/// `dpkg-deb -c`: every file with its owner and mode; `-I`: conffiles, Depends, scripts.
fn inspect(deb: &Path, scratch: &Path) {
    let deb_s = deb.to_str().unwrap();
    let mut files = BTreeMap::new();
    for line in run("dpkg-deb", &["-c", deb_s]).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (mode, owner, path) = (fields[0], fields[1], fields[fields.len() - 1]);
        assert!(
            owner == "0/0" || owner == "root/root",
            "{path} is not root's: {line}"
        );
        if mode.starts_with('d') {
            assert_eq!(mode, "drwxr-xr-x", "{line}");
        } else {
            files.insert(path.to_owned(), mode.to_owned());
        }
    }
    let expected: BTreeMap<String, String> = FILES
        .iter()
        .map(|(p, m)| ((*p).to_owned(), (*m).to_owned()))
        .collect();
    assert_eq!(files, expected, "the package's files and modes");

    let conffiles = run("dpkg-deb", &["-I", deb_s, "conffiles"]);
    let mut conffiles: Vec<&str> = conffiles.lines().collect();
    conffiles.sort_unstable();
    assert_eq!(
        conffiles,
        [
            "/etc/systemd/system/xray.service.d/50-veil.conf",
            "/etc/veil/veild.toml"
        ]
    );
    assert_eq!(run("dpkg-deb", &["-f", deb_s, "Package"]).trim(), "veil");
    let depends = run("dpkg-deb", &["-f", deb_s, "Depends"]);
    assert!(
        depends.contains("libc6") && depends.contains("systemd | systemd-standalone-sysusers"),
        "Depends: {depends}"
    );

    // The maintainer scripts parse, and postinst makes the users before it enables veild,
    // which it never starts on a fresh install.
    let control = scratch.join("control");
    run("dpkg-deb", &["-e", deb_s, control.to_str().unwrap()]);
    for script in ["postinst", "postrm", "prerm"] {
        run("sh", &["-n", control.join(script).to_str().unwrap()]);
    }
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    let users = postinst.find("systemd-sysusers /usr/lib/sysusers.d/veil.conf");
    let enable = postinst.find("deb-systemd-helper enable veild.service");
    assert!(users.is_some() && users < enable, "{postinst}");
    assert!(!postinst.contains("invoke start"), "{postinst}");
    assert!(!postinst.contains("#DEBHELPER#"), "{postinst}");

    // The files from the tree are those files, not copies of them.
    let root = scratch.join("root");
    run("dpkg-deb", &["-x", deb_s, root.to_str().unwrap()]);
    for (shipped, source) in SAME_AS_TREE {
        assert_eq!(
            std::fs::read(root.join(shipped)).unwrap(),
            std::fs::read(repo().join(source)).unwrap(),
            "{shipped} differs from {source}"
        );
    }
    let config = std::fs::read_to_string(root.join("etc/veil/veild.toml")).unwrap();
    let parsed: toml::Value = toml::from_str(&config).unwrap();
    assert_eq!(parsed["socket_group"].as_str(), Some("veil"), "{config}");
    assert_eq!(parsed["core"]["flavor"].as_str(), Some("xray"), "{config}");
    assert_eq!(
        parsed["core"]["config"].as_str(),
        Some("/usr/local/etc/xray/config.json"),
        "{config}"
    );
    assert_eq!(parsed["public"]["host"].as_str(), Some(""), "{config}");
}

/// `dpkg ARGS`, waiting while another dpkg or apt holds the lock.
fn dpkg(args: &[&str]) -> Output {
    for _ in 0..90 {
        let out = Command::new("dpkg")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .expect("dpkg");
        if out.status.success() || !text(&out).contains("locked") {
            return out;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    panic!("dpkg {args:?}: the dpkg lock stayed taken for 3 minutes");
}

fn dpkg_ok(args: &[&str]) -> String {
    let out = dpkg(args);
    assert!(out.status.success(), "dpkg {args:?}:\n{}", text(&out));
    text(&out)
}

/// dpkg's status of package veil (`install ok installed`), or `None` when it knows none.
fn status() -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}", "veil"])
        .output()
        .expect("dpkg-query");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        .filter(|s| !s.contains("not-installed"))
}

fn user_exists(name: &str) -> bool {
    nix::unistd::User::from_name(name).unwrap().is_some()
}

fn group(name: &str) -> Option<nix::unistd::Group> {
    nix::unistd::Group::from_name(name).unwrap()
}

/// What this test puts on the host, taken away on drop even when the test fails: the
/// package (purged), the users and groups it created, what the purge would have removed.
struct Host {
    new_user: bool,
    new_groups: Vec<&'static str>,
}

/// Paths a package install would take over or change; none may be there before.
const TAKEN: &[&str] = &[
    "/usr/bin/veild",
    "/usr/bin/veil",
    "/etc/veil",
    "/var/lib/veil",
    "/lib/systemd/system/veild.service",
    "/etc/systemd/system/xray.service.d/50-veil.conf",
    "/usr/local/etc/xray",
];

impl Host {
    fn claim() -> Host {
        require(
            "dpkg",
            &["--version"],
            "dpkg is missing: this test needs a Debian machine",
        );
        assert_eq!(
            status(),
            None,
            "package veil is on this machine already: this test would replace and purge it"
        );
        let there: Vec<&str> = TAKEN
            .iter()
            .copied()
            .filter(|p| Path::new(p).symlink_metadata().is_ok())
            .collect();
        assert!(
            there.is_empty(),
            "this test installs and purges package veil on this machine, which would change \
             {there:?} (scripts/install? a real core?): run it on a machine without them"
        );
        Host {
            new_user: !user_exists("veil"),
            new_groups: ["veil", "xray-config"]
                .into_iter()
                .filter(|g| group(g).is_none())
                .collect(),
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if status().is_some() {
            let out = dpkg(&["--purge", "--force-remove-reinstreq", "veil"]);
            if !out.status.success() {
                eprintln!("cleanup: dpkg --purge veil failed:\n{}", text(&out));
            }
        }
        let _ = std::fs::remove_dir_all("/etc/veil");
        let _ = std::fs::remove_dir_all("/var/lib/veil");
        let quiet = |program: &str, arg: &str| {
            let _ = Command::new(program)
                .arg(arg)
                .stderr(Stdio::null())
                .status();
        };
        if self.new_user {
            quiet("userdel", "veil");
        }
        for g in &self.new_groups {
            if group(g).is_some() {
                quiet("groupdel", g);
            }
        }
    }
}

/// Whether a process runs /usr/bin/veild.
fn veild_runs() -> bool {
    std::fs::read_dir("/proc").unwrap().any(|e| {
        std::fs::read_link(e.unwrap().path().join("exe"))
            .is_ok_and(|exe| exe == Path::new("/usr/bin/veild"))
    })
}

fn mode_and_group(path: &str) -> (u32, u32) {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    (meta.mode() & 0o7777, meta.gid())
}

/// After `dpkg -i`: users and groups, the files with their groups, veild enabled, not running.
fn check_installed() {
    assert_eq!(status().as_deref(), Some("install ok installed"));
    assert!(user_exists("veil"), "user veil");
    let veil_gid = group("veil").expect("group veil").gid.as_raw();
    let cfg = group("xray-config").expect("group xray-config");
    assert!(cfg.mem.iter().any(|m| m == "veil"), "{cfg:?}");
    for (path, _) in FILES {
        let path = path.trim_start_matches('.');
        assert!(Path::new(path).is_file(), "{path} is not installed");
    }
    assert_eq!(
        mode_and_group("/etc/veil/veild.toml"),
        (0o640, veil_gid),
        "veild.toml: 0640, group veil"
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        run("/usr/bin/veild", &["--version"]).trim(),
        format!("veild {version}")
    );
    assert_eq!(
        run("/usr/bin/veil", &["--version"]).trim(),
        format!("veil {version}")
    );
    assert!(
        Path::new("/etc/systemd/system/multi-user.target.wants/veild.service")
            .symlink_metadata()
            .is_ok(),
        "veild is not enabled"
    );
    assert!(!veild_runs(), "veild was started");
}

/// The shipped core-dir-layout on a stand-in for /usr/local/etc/xray, twice.
fn check_core_dir_layout(scratch: &Path) {
    let dir = scratch.join("xray");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("config.json");
    std::fs::write(&file, "{}").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let gid = group("xray-config").unwrap().gid.as_raw();
    for _ in 0..2 {
        run("/usr/lib/veil/core-dir-layout", &[dir.to_str().unwrap()]);
        assert_eq!(mode_and_group(dir.to_str().unwrap()), (0o2770, gid));
        assert_eq!(mode_and_group(file.to_str().unwrap()), (0o640, gid));
    }
    let out = run(
        "/usr/lib/veil/core-dir-layout",
        &[scratch.join("absent").to_str().unwrap()],
    );
    assert!(out.contains("nothing to do"), "{out}");
}

#[test]
fn the_deb_holds_every_file_and_installs_reinstalls_removes_and_purges() {
    let scratch = support::tempdir();
    let deb = build(scratch.path());
    inspect(&deb, scratch.path());
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: installing the .deb needs root (CI runs as root)");
        return;
    }
    let host = Host::claim();
    let deb_s = deb.to_str().unwrap();

    let out = dpkg_ok(&["-i", deb_s]);
    assert!(out.contains("Setting up veil"), "{out}");
    check_installed();
    check_core_dir_layout(scratch.path());

    // Again, over an operator's edit of the conffile: kept, group kept.
    let config = "/etc/veil/veild.toml";
    let edited = format!("{}# mine\n", std::fs::read_to_string(config).unwrap());
    std::fs::write(config, &edited).unwrap();
    dpkg_ok(&["-i", deb_s]);
    check_installed();
    assert_eq!(std::fs::read_to_string(config).unwrap(), edited);

    // Remove: the programs go, the config stays; purge: the config and the database go, the
    // users stay.
    std::fs::create_dir_all("/var/lib/veil").unwrap();
    std::fs::write("/var/lib/veil/veil.db", "").unwrap();
    dpkg_ok(&["-r", "veil"]);
    assert_eq!(status().as_deref(), Some("deinstall ok config-files"));
    for gone in ["/usr/bin/veild", "/usr/bin/veil", "/usr/lib/veil"] {
        assert!(!Path::new(gone).exists(), "{gone} is still there");
    }
    assert_eq!(std::fs::read_to_string(config).unwrap(), edited);
    assert!(Path::new("/var/lib/veil/veil.db").exists());
    dpkg_ok(&["-P", "veil"]);
    assert_eq!(status(), None);
    for gone in [
        "/etc/veil",
        "/var/lib/veil",
        "/etc/systemd/system/xray.service.d",
        "/etc/systemd/system/multi-user.target.wants/veild.service",
    ] {
        assert!(
            Path::new(gone).symlink_metadata().is_err(),
            "{gone} is still there after the purge"
        );
    }
    assert!(user_exists("veil"), "the purge removed user veil");
    assert!(
        group("xray-config").is_some(),
        "the purge removed xray-config"
    );
    drop(host);
}
