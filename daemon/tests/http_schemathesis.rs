//! Schemathesis (pinned, from PyPI, through `scripts/schemathesis`) against the real
//! `veild` on the real core (Debian's v2ray 4.34): it reads the OpenAPI document the daemon
//! serves at `/api/openapi.json`, generates requests for every operation (valid ones from
//! the schemas, invalid ones against them, and stateful chains create → read → change →
//! delete through the document's links) with a valid token, and runs every check it has:
//! no 5xx, every answer matches its documented schema, status and content type, invalid
//! input is refused, valid input is accepted, auth is enforced. The test passes only when
//! Schemathesis finds 0 failures.
//!
//! Valid input may still be refused, with 422, by the rules a JSON Schema cannot say (the
//! SOCKS and HTTP ports of a config must differ; a joiner or a variation selector in a name
//! must sit between the characters it joins): `422` is listed among the statuses valid
//! input may get, with the usual 401/403/404/409/429. The run uses a fixed seed, so a
//! failure is reproduced by running the test again (`VEIL_SCHEMATHESIS_SEED` and
//! `VEIL_SCHEMATHESIS_EXAMPLES` search further).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::core_harness::{V2rayServer, free_port};
use support::daemon::{CoreSection, Daemon, DaemonConfig};
use support::{serial, tempdir};

/// Limits far above what the run sends: the limiter itself is tested in `http_api.rs`,
/// here every request should reach the route it is meant for.
const UNLIMITED: &str = "rate_per_minute = 1000000
create_delete_per_minute = 1000000
token_rate_per_minute = 1000000
auth_failures_per_minute = 1000000
";

/// The statuses valid input may get (see the module's comment).
const SCHEMATHESIS_TOML: &str = r#"[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
"#;

fn token(d: &Daemon) -> String {
    let (code, out, err) = d.veil(&["token", "add", "schemathesis"]);
    assert_eq!(code, 0, "veil token add: {err}");
    out.lines()
        .find(|l| l.starts_with("veil_"))
        .unwrap_or_else(|| panic!("no secret in {out}"))
        .to_owned()
}

#[test]
fn schemathesis_finds_no_failure_in_the_served_openapi_document() {
    let _guard = serial();
    let dir = tempdir();
    let rt = support::runtime();
    let server = rt.block_on(V2rayServer::start(dir.path(), &[]));
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            core: Some(CoreSection::v2fly(&server.api_addr(), server.config_path())),
            extra_toml: format!("\n[http]\nlisten = \"{addr}\"\n{UNLIMITED}"),
            ..DaemonConfig::default()
        },
    );
    d.wait_core_up(Duration::from_secs(60));
    for name in ["alpha", "beta", "гамма"] {
        let (code, _, err) = d.veil(&["key", "add", name]);
        assert_eq!(code, 0, "veil key add {name}: {err}");
    }
    let secret = token(&d);

    let work = dir.path().join("schemathesis");
    std::fs::create_dir_all(&work).unwrap();
    let config = work.join("schemathesis.toml");
    std::fs::write(&config, SCHEMATHESIS_TOML).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/schemathesis");
    let base = format!("http://{addr}");
    // A longer or another search: VEIL_SCHEMATHESIS_SEED=7 VEIL_SCHEMATHESIS_EXAMPLES=200.
    let seed = std::env::var("VEIL_SCHEMATHESIS_SEED").unwrap_or_else(|_| "1".into());
    let examples = std::env::var("VEIL_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "40".into());
    let out = Command::new(&script)
        .current_dir(&work) // its example database (.hypothesis) stays in the temporary dir
        .env("NO_COLOR", "1")
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{base}/api/openapi.json"), "--url", &base])
        .args(["--header", &format!("Authorization: Bearer {secret}")])
        .args([
            "--checks",
            "all",
            "--seed",
            &seed,
            "--max-examples",
            &examples,
        ])
        .args(["--workers", "2", "--request-timeout", "60"])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis failed:\n{report}");
    // Its summary, so a pass is a pass of the whole document and not of an empty one.
    assert!(report.contains("Selected: 16/16"), "{report}");
    assert!(report.contains("Tested: 16"), "{report}");
    assert!(!report.contains("failures"), "{report}");
    println!("{report}");
    drop(d);
}
