//! `doctor`: inspects the live setup and reports each problem with its fix.
//!
//! One set of checks, reachable two ways:
//! - the socket method `doctor` (what `veil doctor` calls), run by the daemon as the user it
//!   runs as, against its open database and the socket it serves;
//! - `veild --doctor --config PATH`, which works with the daemon stopped (the socket is then
//!   only checked if it exists, the database read-only).
//!
//! The checks, one concern a file:
//! - `config` (with `api`, `routing`, `stats`, `inbound`, `reality`): the checks of the
//!   core's config, pure functions of its JSON and [`CoreFacts`];
//! - `files`: the config file on the machine (readable, mode, the core's `-test`);
//! - `access` (with `unit`): veild can replace the file, and the core's user (from its
//!   systemd unit) can read it;
//! - `names`: the stable names of the machine checks and their bounds;
//! - `system`: the socket group, the database's integrity, the socket's permissions;
//! - `disconnect`: whether disabling a key can end its open connections.
//!
//! The report's wire types (`DoctorReport`, `Finding`, `Severity`) are in veil-shared: the
//! `doctor` socket method returns them.

mod access;
mod api;
mod config;
mod disconnect;
mod facts;
mod files;
mod inbound;
mod names;
mod reality;
mod routing;
mod stats;
mod system;
mod unit;

use std::path::Path;
use veil_shared::api::{DoctorReport, Finding};

pub use self::config::check_core_config;
pub use self::facts::{CoreFacts, checks};
use crate::config::Config;

pub use self::names::*;
pub use self::system::Db;

/// Runs every check with a loaded veild.toml.
pub async fn run(config: &Config, db: Db<'_>) -> DoctorReport {
    let live = matches!(db, Db::Live(_));
    let mut report = DoctorReport::default();
    let mut checked: Vec<&str> = vec![SOCKET_GROUP];
    let gid = system::check_socket_group(config, &mut report.findings);

    checked.push(CORE_CONFIG);
    if let Some(root) = files::read_core_config(config, &mut report.findings).await {
        let facts = CoreFacts {
            flavor: config.core.flavor,
            inbound_tag: &config.core.inbound_tag,
            api: &config.core.api,
        };
        report.findings.extend(check_core_config(&root, &facts));
        checked.extend(checks::CORE_CONFIG);
        checked.push(CORE_CONFIG_MODE);
        files::check_config_mode(config, &root, &mut report.findings);
    }
    checked.push(CORE_CONFIG_WRITABLE);
    access::check_replace(config, live, &mut report.findings).await;
    checked.push(CORE_ACCESS);
    access::check_core_access(config, &mut report.findings).await;
    checked.push(CORE_TEST);
    files::check_core_test(config, &mut report.findings).await;
    checked.push(DATABASE);
    system::check_database_mode(config, &mut report.findings);
    system::check_database(config, db, &mut report.findings).await;
    checked.push(SOCKET);
    system::check_socket(config, gid, live, &mut report.findings);
    checked.push(DISCONNECT);
    disconnect::check(config, &mut report.findings).await;

    report.checked = checked.into_iter().map(str::to_owned).collect();
    report.sort();
    report
}

/// `veild --doctor`: loads veild.toml first; a config that does not load is the finding.
pub async fn run_offline(config_path: &Path) -> DoctorReport {
    match Config::load(config_path) {
        Ok(config) => {
            let mut report = run(&config, Db::Offline).await;
            report.checked.insert(0, VEILD_CONFIG.to_owned());
            report
        }
        Err(e) => DoctorReport {
            findings: vec![Finding::error(
                VEILD_CONFIG,
                e.to_string(),
                "fix veild.toml as the message says; `veild --check --config PATH` checks it, and \
                 `veil init` writes a complete one",
            )],
            checked: vec![VEILD_CONFIG.to_owned()],
        },
    }
}
