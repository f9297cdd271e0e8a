//! Consistent copies of the database while writes go on, and their rotation.
//!
//! The copy is one step of SQLite's online backup (`step(-1)`) from a connection of its own,
//! inside one read transaction: in WAL mode that is a snapshot of the last commit, the
//! writer never waits, and the copy cannot be restarted by the writer's commits (a copy in
//! small steps would be, forever, with a commit every few milliseconds). Row counts are
//! taken in the same snapshot. The copy is written under a temporary name, 0600, checked
//! (`integrity_check`, the schema version, the same row counts), synced, then renamed.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde::Deserialize;

use super::error::StoreError;
use super::migrate::LATEST;

/// `[backup]` in `veild.toml`; every value has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// Where scheduled backups (and `veil backup` without `--to`) go; default: `backups`
    /// beside the database.
    #[serde(default)]
    pub directory: Option<PathBuf>,
    /// Hours between scheduled backups; 0 turns them off.
    #[serde(default = "default_interval_hours")]
    pub interval_hours: u64,
    /// Backups kept in the directory; older ones are removed after each new one.
    #[serde(default = "default_keep")]
    pub keep: usize,
}

fn default_interval_hours() -> u64 {
    24
}

fn default_keep() -> usize {
    7
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            directory: None,
            interval_hours: default_interval_hours(),
            keep: default_keep(),
        }
    }
}

impl BackupConfig {
    /// Every value in range, or the first one that is not: (key, value, problem).
    pub fn check(&self) -> Result<(), (&'static str, String, String)> {
        if self.interval_hours > 24 * 366 {
            return Err((
                "backup.interval_hours",
                self.interval_hours.to_string(),
                "must be from 0 (off) to 8784".into(),
            ));
        }
        if !(1..=10_000).contains(&self.keep) {
            return Err((
                "backup.keep",
                self.keep.to_string(),
                "must be from 1 to 10000".into(),
            ));
        }
        if let Some(dir) = &self.directory
            && !dir.is_absolute()
        {
            return Err((
                "backup.directory",
                dir.display().to_string(),
                "must be an absolute path".into(),
            ));
        }
        Ok(())
    }
}

/// What a backup holds, as checked in the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub path: PathBuf,
    pub bytes: u64,
    pub keys: u64,
    pub audit_rows: u64,
    pub schema: i64,
    pub took_ms: u64,
}

fn counts(conn: &Connection) -> Result<(u64, u64), StoreError> {
    let keys: i64 = conn.query_row("SELECT count(*) FROM keys", [], |r| r.get(0))?;
    let audit: i64 = conn.query_row("SELECT count(*) FROM audit", [], |r| r.get(0))?;
    Ok((keys.max(0) as u64, audit.max(0) as u64))
}

fn fail(what: impl std::fmt::Display) -> StoreError {
    StoreError::Sqlite(format!("backup: {what}"))
}

/// Copies the database at `db` to `dest` (which must not exist). Blocking.
pub fn copy(db: &Path, dest: &Path) -> Result<Copied, StoreError> {
    let started = Instant::now();
    if dest.exists() {
        return Err(StoreError::rejected(
            crate::error::ErrorKind::Conflict,
            format!(
                "{} exists already; a backup never overwrites",
                dest.display()
            ),
        ));
    }
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp_name = dest.file_name().unwrap_or_default().to_owned();
    temp_name.push(format!(".partial-{}", std::process::id()));
    let temp = dir.join(temp_name);
    // 0600 from the first byte: it holds every key's UUID.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(|e| fail(format!("creating {}: {e}", temp.display())))?;
    let result = copy_into(db, &temp);
    let (keys, audit_rows) = match result {
        Ok(counted) => counted,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
    };
    let checked = check(&temp, keys, audit_rows);
    let schema = match checked {
        Ok(schema) => schema,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
    };
    std::fs::File::open(&temp)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(&temp, dest))
        .and_then(|()| std::fs::File::open(dir)?.sync_all())
        .map_err(|e| fail(format!("installing {}: {e}", dest.display())))?;
    let bytes = std::fs::metadata(dest).map_or(0, |m| m.len());
    Ok(Copied {
        path: dest.to_owned(),
        bytes,
        keys,
        audit_rows,
        schema,
        took_ms: started.elapsed().as_millis() as u64,
    })
}

/// One snapshot: the counts and every page, in one read transaction.
fn copy_into(db: &Path, temp: &Path) -> Result<(u64, u64), StoreError> {
    let src = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(std::time::Duration::from_secs(5))?;
    src.execute_batch("BEGIN")?;
    let counted = counts(&src)?;
    let mut dst = Connection::open(temp)?;
    {
        let backup = Backup::new(&src, &mut dst)?;
        match backup.step(-1)? {
            StepResult::Done => {}
            other => {
                return Err(fail(format!(
                    "the copy did not finish in one step: {other:?}"
                )));
            }
        }
    }
    src.execute_batch("COMMIT")?;
    dst.close().map_err(|(_, e)| StoreError::from(e))?;
    Ok(counted)
}

/// The copy reads back whole: integrity, this build's schema, the snapshot's row counts.
fn check(path: &Path, keys: u64, audit_rows: u64) -> Result<i64, StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if integrity != "ok" {
        return Err(fail(format!(
            "the copy fails its integrity check: {integrity}"
        )));
    }
    let schema: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if schema != LATEST {
        return Err(fail(format!(
            "the copy has schema {schema}, this veild writes {LATEST}"
        )));
    }
    let got = counts(&conn)?;
    if got != (keys, audit_rows) {
        return Err(fail(format!(
            "the copy holds {got:?} keys/audit rows, the snapshot had {:?}",
            (keys, audit_rows)
        )));
    }
    Ok(schema)
}

/// Backups veild names in a directory: `veil-YYYYMMDDTHHMMSSZ.db`.
pub fn name_at(unix: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "veil-{:04}{:02}{:02}T{:02}{:02}{:02}Z.db",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn is_ours(name: &str) -> bool {
    name.len() == "veil-20261202T153000Z.db".len()
        && name.starts_with("veil-")
        && name.ends_with("Z.db")
}

/// Removes the oldest of veild's backups in `dir` so that `keep` remain; other files are
/// never touched. Returns the removed paths.
pub fn rotate(dir: &Path, keep: usize) -> Result<Vec<PathBuf>, StoreError> {
    let mut ours: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| fail(format!("reading {}: {e}", dir.display())))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| is_ours(n))
        .collect();
    ours.sort(); // the stamp sorts in time order
    let excess = ours.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for name in ours.into_iter().take(excess) {
        let path = dir.join(name);
        std::fs::remove_file(&path)
            .map_err(|e| fail(format!("removing {}: {e}", path.display())))?;
        removed.push(path);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_removes_only_our_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let mut ours = Vec::new();
        for day in 1..=10 {
            let name = name_at(1_795_000_000 + day * 86_400);
            std::fs::write(dir.path().join(&name), b"x").unwrap();
            ours.push(name);
        }
        std::fs::write(dir.path().join("veil-by-hand.db"), b"x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let removed = rotate(dir.path(), 3).unwrap();
        let removed: Vec<String> = removed
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(removed, ours[..7]);
        for name in &ours[7..] {
            assert!(dir.path().join(name).exists());
        }
        assert!(dir.path().join("veil-by-hand.db").exists());
        assert!(dir.path().join("notes.txt").exists());
    }
}
