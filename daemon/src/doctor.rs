//! `doctor`: inspects the live setup and reports each problem with its fix.
//!
//! One set of checks, reachable two ways:
//! - the socket method `doctor` (what `veil doctor` calls), run by the daemon as the user it
//!   runs as, against its open database and the socket it serves;
//! - `veild --doctor --config PATH`, which works with the daemon stopped (the socket is then
//!   only checked if it exists, the database read-only).
//!
//! The core-config checks are pure functions in `veil_shared::doctor`; this module adds
//! what needs the machine: veild.toml, the socket group, the config file's writability and
//! mode, the core's own `-test`, the database's integrity and the socket's permissions.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::Duration;

use nix::unistd::{AccessFlags, Group, Uid, access};
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use veil_shared::doctor::{
    self as checks_shared, CoreFacts, CoreFlavor, DoctorReport, Finding, checks,
};

use crate::config::Config;
use crate::corefile;
use crate::corelink::Flavor;
use crate::ipc::listener::SOCKET_MODE;
use crate::store::{Store, StoreError};

pub const VEILD_CONFIG: &str = "veild_config";
pub const SOCKET_GROUP: &str = "socket_group";
pub const CORE_CONFIG: &str = "core_config";
pub const CORE_CONFIG_WRITABLE: &str = "core_config_writable";
pub const CORE_CONFIG_MODE: &str = "core_config_mode";
pub const CORE_TEST: &str = "core_test";
pub const DATABASE: &str = "database";
pub const SOCKET: &str = "socket";

/// How long the core's `-test` may take.
const TEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of `PRAGMA integrity_check` output quoted in a finding.
const INTEGRITY_LINES: usize = 5;

/// Where the database is read from.
pub enum Db<'a> {
    /// The running daemon's store.
    Live(&'a Store),
    /// The file named in veild.toml, opened read-only (the daemon may be stopped).
    Offline,
}

/// Runs every check with a loaded veild.toml.
pub async fn run(config: &Config, db: Db<'_>) -> DoctorReport {
    let live = matches!(db, Db::Live(_));
    let mut report = DoctorReport::default();
    let mut checked: Vec<&str> = vec![SOCKET_GROUP];
    let gid = check_socket_group(config, &mut report.findings);

    checked.push(CORE_CONFIG);
    if let Some(root) = read_core_config(config, &mut report.findings).await {
        let facts = CoreFacts {
            flavor: match config.core.flavor {
                Flavor::Xray => CoreFlavor::Xray,
                Flavor::V2fly => CoreFlavor::V2fly,
            },
            inbound_tag: &config.core.inbound_tag,
            api: &config.core.api,
        };
        report
            .findings
            .extend(checks_shared::check_core_config(&root, &facts));
        checked.extend(checks::CORE_CONFIG);
        checked.push(CORE_CONFIG_MODE);
        check_config_mode(config, &root, &mut report.findings);
    }
    checked.push(CORE_CONFIG_WRITABLE);
    check_writable(config, &mut report.findings);
    checked.push(CORE_TEST);
    check_core_test(config, &mut report.findings).await;
    checked.push(DATABASE);
    check_database(config, db, &mut report.findings).await;
    checked.push(SOCKET);
    check_socket(config, gid, live, &mut report.findings);

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

fn check_socket_group(config: &Config, out: &mut Vec<Finding>) -> Option<u32> {
    let name = &config.socket_group;
    match Group::from_name(name) {
        Ok(Some(group)) => Some(group.gid.as_raw()),
        Ok(None) => {
            out.push(Finding::error(
                SOCKET_GROUP,
                format!("socket_group = \"{name}\": no such group; veild will not start"),
                format!(
                    "groupadd --system {name}, then add the operators: usermod -aG {name} USER"
                ),
            ));
            None
        }
        Err(e) => {
            out.push(Finding::error(
                SOCKET_GROUP,
                format!("looking up socket_group \"{name}\" failed: {e}"),
                "check /etc/group and NSS",
            ));
            None
        }
    }
}

async fn read_core_config(config: &Config, out: &mut Vec<Finding>) -> Option<Value> {
    let path = &config.core.config;
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(e) => {
            out.push(Finding::error(
                CORE_CONFIG,
                format!("cannot read the core config {}: {e}", path.display()),
                "set [core] config in veild.toml to the core's config file, readable by veild's \
                 user (`veil init` writes one)",
            ));
            return None;
        }
    };
    match corefile::parse_json(path, &bytes) {
        Ok(root) => Some(root),
        Err(e) => {
            out.push(Finding::error(
                CORE_CONFIG,
                e.to_string(),
                "repair the file (the latest good version is in its .bak.* backups beside it)",
            ));
            None
        }
    }
}

/// Whether this process may write `path` (for the directory: create, rename and delete
/// files in it, which a rewrite and its backups need).
fn writable(path: &Path) -> Result<(), String> {
    access(path, AccessFlags::W_OK).map_err(|e| e.desc().to_owned())
}

fn check_writable(config: &Config, out: &mut Vec<Finding>) {
    let path = &config.core.config;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let uid = Uid::effective();
    for (what, target) in [("the core config", path.as_path()), ("its directory", dir)] {
        if !target.exists() {
            continue; // reported by core_config
        }
        if let Err(reason) = writable(target) {
            out.push(Finding::error(
                CORE_CONFIG_WRITABLE,
                format!(
                    "veild (uid {uid}) cannot write {what} {}: {reason}; keys would stay pending \
                     and a restarted core would lose them",
                    target.display()
                ),
                format!(
                    "give veild's user write access to {} and {} (e.g. chown veild's user on both), \
                     or run veild as their owner",
                    path.display(),
                    dir.display()
                ),
            ));
        }
    }
}

/// The config holds the REALITY private key: nobody but its owner and group may read it (S17).
fn check_config_mode(config: &Config, root: &Value, out: &mut Vec<Finding>) {
    let path = &config.core.config;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let has_secret = root["inbounds"].as_array().is_some_and(|list| {
        list.iter().any(|i| {
            i["streamSettings"]["realitySettings"]
                .get("privateKey")
                .is_some()
        })
    });
    let mode = meta.mode() & 0o777;
    if has_secret && mode & 0o007 != 0 {
        out.push(Finding::warning(
            CORE_CONFIG_MODE,
            format!(
                "the core config {} holds the REALITY private key but is readable by everyone \
                 (mode {mode:04o})",
                path.display()
            ),
            format!(
                "chmod 600 {} (or 640 with the core's group)",
                path.display()
            ),
        ));
    }
}

async fn check_core_test(config: &Config, out: &mut Vec<Finding>) {
    let path = &config.core.config;
    if !path.exists() {
        return; // reported by core_config
    }
    let command = config.test_command();
    if let Err(e) = corefile::test_file(path, &command, TEST_TIMEOUT).await {
        out.push(Finding::error(
            CORE_TEST,
            format!("the core's own test refuses the config: {e}"),
            "fix what the core reports; if the core binary is elsewhere, set [core] test_command \
             in veild.toml (default: the flavor's `xray run -test -config {config}` or \
             `v2ray -test -config {config}`)",
        ));
    }
}

fn integrity(conn: &Connection) -> Result<Vec<String>, rusqlite::Error> {
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect()
}

async fn check_database(config: &Config, db: Db<'_>, out: &mut Vec<Finding>) {
    let path = config.database.clone();
    let result = match db {
        Db::Live(store) => store
            .read(|c| integrity(c).map_err(StoreError::from))
            .await
            .map_err(|e| e.to_string()),
        Db::Offline => {
            if !path.exists() {
                out.push(Finding::info(
                    DATABASE,
                    format!(
                        "the database {} does not exist yet; veild creates it at first start",
                        path.display()
                    ),
                    "nothing to do",
                ));
                return;
            }
            let p = path.clone();
            tokio::task::spawn_blocking(move || {
                Connection::open_with_flags(&p, OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .and_then(|c| integrity(&c))
                    .map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(format!("the check task failed: {e}")))
        }
    };
    let fix = format!(
        "stop veild, keep a copy of {db}, and recover it (`sqlite3 {db} .recover | sqlite3 \
         recovered.db`) or restore the last backup; the core config still lists every active key",
        db = path.display()
    );
    match result {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => {}
        Ok(lines) => {
            let shown: Vec<&str> = lines
                .iter()
                .take(INTEGRITY_LINES)
                .map(String::as_str)
                .collect();
            out.push(Finding::error(
                DATABASE,
                format!(
                    "the database {} fails its integrity check: {}",
                    path.display(),
                    shown.join("; ")
                ),
                fix,
            ));
        }
        Err(e) => out.push(Finding::error(
            DATABASE,
            format!("cannot check the database {}: {e}", path.display()),
            fix,
        )),
    }
}

fn check_socket(config: &Config, gid: Option<u32>, live: bool, out: &mut Vec<Finding>) {
    let path = &config.socket;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(_) if !live => {
            out.push(Finding::info(
                SOCKET,
                format!(
                    "veild is not running (no socket at {}); the socket was not checked",
                    path.display()
                ),
                "start veild (systemctl start veild) and run `veil doctor`",
            ));
            return;
        }
        Err(e) => {
            out.push(Finding::error(
                SOCKET,
                format!("the socket {} is gone: {e}", path.display()),
                "restart veild; it creates the socket at start",
            ));
            return;
        }
    };
    if !meta.file_type().is_socket() {
        out.push(Finding::error(
            SOCKET,
            format!("{} is not a socket", path.display()),
            "remove it and restart veild",
        ));
        return;
    }
    let mode = meta.mode() & 0o777;
    if mode != SOCKET_MODE {
        out.push(Finding::error(
            SOCKET,
            format!(
                "the socket {} has mode {mode:04o}, not {SOCKET_MODE:04o}",
                path.display()
            ),
            format!(
                "chmod {SOCKET_MODE:o} {} (veild sets it at start; restarting veild also fixes it)",
                path.display()
            ),
        ));
    }
    if let Some(gid) = gid
        && meta.gid() != gid
    {
        out.push(Finding::error(
            SOCKET,
            format!(
                "the socket {} belongs to group {}, not socket_group \"{}\" ({gid}): its members \
                 cannot connect",
                path.display(),
                meta.gid(),
                config.socket_group
            ),
            format!(
                "chgrp {} {} (veild sets it at start; restarting veild also fixes it)",
                config.socket_group,
                path.display()
            ),
        ));
    }
}
