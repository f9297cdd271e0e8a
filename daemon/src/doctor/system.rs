//! veild's own surroundings: the socket group, the database's integrity, and the socket's
//! kind, mode and group.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use nix::unistd::Group;
use rusqlite::{Connection, OpenFlags};
use veil_shared::api::Finding;

use super::names::{DATABASE, DATABASE_MODE, INTEGRITY_LINES, SOCKET, SOCKET_GROUP};
use crate::config::Config;
use crate::config::SOCKET_MODE;
use crate::store::Store;
use crate::store::StoreError;

/// Where the database is read from.
pub enum Db<'a> {
    /// The running daemon's store.
    Live(&'a Store),
    /// The file named in veild.toml, opened read-only (the daemon may be stopped).
    Offline,
}

pub(super) fn check_socket_group(config: &Config, out: &mut Vec<Finding>) -> Option<u32> {
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

fn integrity(conn: &Connection) -> Result<Vec<String>, rusqlite::Error> {
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// The database and its WAL and shared-memory files hold every key's UUID: only veild's
/// user may read them.
pub(super) fn check_database_mode(config: &Config, out: &mut Vec<Finding>) {
    for path in crate::store::files_of(&config.database) {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let mode = std::os::unix::fs::MetadataExt::mode(&meta) & 0o777;
        if mode & 0o077 != 0 {
            out.push(Finding::error(
                DATABASE_MODE,
                format!(
                    "{} holds every key's UUID but is readable by others (mode {mode:04o})",
                    path.display()
                ),
                format!(
                    "chmod 600 {} (veild also fixes it at its next start)",
                    path.display()
                ),
            ));
        }
    }
}

pub(super) async fn check_database(config: &Config, db: Db<'_>, out: &mut Vec<Finding>) {
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

pub(super) fn check_socket(config: &Config, gid: Option<u32>, live: bool, out: &mut Vec<Finding>) {
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
