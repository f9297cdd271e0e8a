//! `scripts/install --root DIR` stages every file with its mode (touching nothing else),
//! never overwrites an existing veild.toml, and `scripts/uninstall` removes what it put,
//! keeping the config unless `--purge`. The sysusers file creates the users it names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn script(name: &str, args: &[&str]) -> String {
    let out = Command::new(repo().join("scripts").join(name))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{name} {args:?}:\n{text}");
    text
}

const STAGED: &[(&str, u32)] = &[
    ("usr/bin/veild", 0o755),
    ("usr/bin/veil", 0o755),
    ("lib/systemd/system/veild.service", 0o644),
    ("etc/systemd/system/xray.service.d/50-veil.conf", 0o644),
    ("usr/lib/sysusers.d/veil.conf", 0o644),
    ("usr/lib/veil/core-dir-layout", 0o755),
    ("etc/veil/veild.toml", 0o640),
    ("usr/share/bash-completion/completions/veil", 0o644),
    ("usr/share/zsh/vendor-completions/_veil", 0o644),
    ("usr/share/fish/vendor_completions.d/veil.fish", 0o644),
    ("usr/share/man/man1/veil.1.gz", 0o644),
];

#[test]
fn install_stages_every_file_and_uninstall_removes_them() {
    let dir = support::tempdir();
    let root = dir.path().join("root");
    let bins = support::daemon::veild_bin();
    let bin_dir = bins.parent().unwrap().to_str().unwrap().to_owned();
    let root_s = root.to_str().unwrap().to_owned();
    script(
        "install",
        &["--root", &root_s, "--no-build", "--bin-dir", &bin_dir],
    );
    let me = nix::unistd::geteuid().as_raw();
    for (file, mode) in STAGED {
        let meta = std::fs::metadata(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(meta.mode() & 0o7777, *mode, "{file}");
        assert_eq!(meta.uid(), me, "{file}");
    }
    // Nothing else was staged.
    let mut count = 0;
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                count += 1;
            }
        }
    }
    assert_eq!(count, STAGED.len());
    // The staged veild.toml is one veild reads (once its host is set and paths exist).
    let config = std::fs::read_to_string(root.join("etc/veil/veild.toml")).unwrap();
    assert!(config.contains("socket_group = \"veil\""), "{config}");
    let parsed: toml::Value = toml::from_str(&config).unwrap();
    assert_eq!(parsed["core"]["inbound_tag"].as_str(), Some("vless-in"));

    // An operator's edit survives a second install.
    std::fs::write(root.join("etc/veil/veild.toml"), "# mine\n").unwrap();
    let out = script(
        "install",
        &["--root", &root_s, "--no-build", "--bin-dir", &bin_dir],
    );
    assert!(out.contains("keeping"), "{out}");
    assert_eq!(
        std::fs::read_to_string(root.join("etc/veil/veild.toml")).unwrap(),
        "# mine\n"
    );

    script("uninstall", &["--root", &root_s]);
    for (file, _) in STAGED {
        let kept = *file == "etc/veil/veild.toml";
        assert_eq!(root.join(file).exists(), kept, "{file}");
    }
    script("uninstall", &["--root", &root_s, "--purge"]);
    assert!(!root.join("etc/veil").exists());
}

#[test]
fn the_sysusers_file_creates_veil_and_the_core_config_group() {
    let dir = support::tempdir();
    let etc = dir.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    for f in ["passwd", "group"] {
        std::fs::copy(Path::new("/etc").join(f), etc.join(f)).unwrap();
    }
    let out = Command::new("systemd-sysusers")
        .arg(format!("--root={}", dir.path().display()))
        .arg(repo().join("scripts/systemd/veil.sysusers"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passwd = std::fs::read_to_string(etc.join("passwd")).unwrap();
    let group = std::fs::read_to_string(etc.join("group")).unwrap();
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("veil:") && l.contains(":/var/lib/veil:")),
        "{passwd}"
    );
    assert!(
        group
            .lines()
            .any(|l| l.starts_with("xray-config:") && l.ends_with(":veil")),
        "{group}"
    );
}
