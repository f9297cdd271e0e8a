//! `veild --restore FILE`: puts a backup in place of the database, with veild stopped.
//!
//! It holds the socket's lock while it works, so it refuses while veild runs and veild
//! cannot start meanwhile. The backup is checked first (integrity, a schema this veild can
//! read). The current database and its `-wal`/`-shm` are moved aside, never deleted — a
//! stale `-wal` left beside the restored file would silently bring the old data back. The
//! copy goes in 0600 under a temporary name, synced, then renamed; at the next start veild
//! runs any newer migrations, turns WAL on and puts every active key back into the core.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::config::Config;

/// What a restore did, for the operator.
#[derive(Debug)]
pub struct Restored {
    pub database: PathBuf,
    /// Where the replaced files went (those that existed).
    pub moved_aside: Vec<PathBuf>,
    pub keys: u64,
}

/// Restores `backup` as the database of the veild configured by `config`.
pub fn run(config: &Config, backup: &Path) -> Result<Restored, String> {
    let _lock = crate::ipc::listener::lock_socket(&config.socket)
        .map_err(|e| format!("{e}; stop veild first (systemctl stop veild), then restore"))?;
    let keys = check(backup)?;
    let db = &config.database;
    let stamp = crate::store::backup::name_at(crate::store::now())
        .trim_start_matches("veil-")
        .trim_end_matches(".db")
        .to_owned();
    let mut moved_aside = Vec::new();
    for file in crate::store::files_of(db) {
        if !file.exists() {
            continue;
        }
        let mut aside = file.as_os_str().to_owned();
        aside.push(format!(".before-restore-{stamp}"));
        let aside = PathBuf::from(aside);
        std::fs::rename(&file, &aside)
            .map_err(|e| format!("moving {} aside: {e}", file.display()))?;
        moved_aside.push(aside);
    }
    install(backup, db)?;
    Ok(Restored {
        database: db.clone(),
        moved_aside,
        keys,
    })
}

/// The backup reads whole and has a schema this veild knows. Returns its key count.
fn check(backup: &Path) -> Result<u64, String> {
    let conn = Connection::open_with_flags(backup, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("opening {}: {e}", backup.display()))?;
    let bad = |e: rusqlite::Error| format!("{} is not a veild database: {e}", backup.display());
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(bad)?;
    if integrity != "ok" {
        return Err(format!(
            "{} fails its integrity check: {integrity}",
            backup.display()
        ));
    }
    let schema: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(bad)?;
    let latest = crate::store::schema_version();
    if !(1..=latest).contains(&schema) {
        return Err(format!(
            "{} has schema version {schema}; this veild reads 1 to {latest}",
            backup.display()
        ));
    }
    let keys: i64 = conn
        .query_row("SELECT count(*) FROM keys", [], |r| r.get(0))
        .map_err(bad)?;
    Ok(keys.max(0) as u64)
}

fn install(backup: &Path, db: &Path) -> Result<(), String> {
    let bytes = std::fs::read(backup).map_err(|e| format!("reading {}: {e}", backup.display()))?;
    let mut temp = db.as_os_str().to_owned();
    temp.push(".restoring");
    let temp = PathBuf::from(temp);
    let _ = std::fs::remove_file(&temp);
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, db)?;
        if let Some(dir) = db.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("installing the backup as {}: {e}", db.display())
    })
}
