//! The systemd unit (`scripts/systemd/veild.service`) as systemd itself judges it, offline
//! (no systemd as PID 1 needed): `systemd-analyze verify` finds nothing, and
//! `systemd-analyze security --offline=yes` scores its exposure at 2.0 or less.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;

fn unit_with_built_binary(dir: &Path) -> std::path::PathBuf {
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/systemd/veild.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(text.contains("ExecStart=/usr/bin/veild "), "{text}");
    // verify checks that ExecStart exists: point it at the binary under test.
    let text = text.replace(
        "ExecStart=/usr/bin/veild ",
        &format!("ExecStart={} ", support::daemon::veild_bin().display()),
    );
    let path = dir.join("veild.service");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_unit_verifies_and_is_hardened() {
    let dir = support::tempdir();
    let unit = unit_with_built_binary(dir.path());
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze (Debian package systemd) runs");
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&security.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| l.split("exposure level for veild.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{text}"));
    println!("systemd-analyze security: exposure {score}");
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{text}");
}
