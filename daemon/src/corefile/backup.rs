//! Backups of the config file: `<name>.bak.<UTC yyyymmddThhmmss.mmmZ>` beside it, e.g.
//! `config.json.bak.20260131T235959.123Z`. Names sort in time order; a second backup in
//! the same millisecond gets `-1`, `-2`, … appended. They do not end in `.json`, so a core
//! started with `-confdir` on that directory does not load them.
//!
//! A backup is a hard link to the file being replaced (no copy, identical bytes, mode and
//! owner, never partial); where linking is refused, the exact bytes are written with the
//! target's mode and owner instead.

use std::io;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use time::macros::format_description;

use super::fsops::{FileMeta, create_like};

/// The part between the file name and the timestamp.
const MARK: &str = ".bak.";
/// Length of `yyyymmddThhmmss.mmmZ`.
const STAMP_LEN: usize = 20;

/// `yyyymmddThhmmss.mmmZ` in UTC.
pub(super) fn stamp(now: OffsetDateTime) -> String {
    let fmt =
        format_description!("[year][month][day]T[hour][minute][second].[subsecond digits:3]Z");
    now.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_else(|_| "00000000T000000.000Z".to_owned())
}

/// The backup name for `file_name` at `stamp`, with an optional collision counter.
pub(super) fn backup_name(file_name: &str, stamp: &str, counter: u32) -> String {
    if counter == 0 {
        format!("{file_name}{MARK}{stamp}")
    } else {
        format!("{file_name}{MARK}{stamp}-{counter}")
    }
}

/// The sort key of a backup of `file_name` called `candidate`, or `None` if `candidate` is
/// not one (other files in the directory are never touched).
pub(super) fn parse_backup_name(file_name: &str, candidate: &str) -> Option<(String, u32)> {
    let rest = candidate.strip_prefix(file_name)?.strip_prefix(MARK)?;
    let (stamp, counter) = match rest.get(STAMP_LEN..) {
        Some("") => (rest, 0),
        Some(suffix) => (
            rest.get(..STAMP_LEN)?,
            suffix.strip_prefix('-')?.parse().ok()?,
        ),
        None => return None,
    };
    let b = stamp.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let well_formed = b.len() == STAMP_LEN
        && digits(0..8)
        && b[8] == b'T'
        && digits(9..15)
        && b[15] == b'.'
        && digits(16..19)
        && b[19] == b'Z';
    well_formed.then(|| (stamp.to_owned(), counter))
}

/// The backups of `file_name` in `dir`, oldest first.
pub(super) fn list(dir: &Path, file_name: &str) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(key) = parse_backup_name(file_name, name)
            && entry.file_type()?.is_file()
        {
            found.push((key, entry.path()));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// Removes the oldest backups of `file_name` so that at most `keep` remain. Returns the
/// removed paths.
pub(super) fn prune(dir: &Path, file_name: &str, keep: usize) -> io::Result<Vec<PathBuf>> {
    let all = list(dir, file_name)?;
    let excess = all.len().saturating_sub(keep);
    let removed: Vec<PathBuf> = all.into_iter().take(excess).collect();
    for path in &removed {
        std::fs::remove_file(path)?;
    }
    Ok(removed)
}

/// Backs up `target` (whose content is `bytes`) as `<name>.bak.<stamp>` in `dir`.
pub(super) fn create(
    dir: &Path,
    file_name: &str,
    target: &Path,
    bytes: &[u8],
    meta: FileMeta,
    stamp: &str,
) -> io::Result<PathBuf> {
    for counter in 0..1000 {
        let path = dir.join(backup_name(file_name, stamp, counter));
        // A link shares the target's mode: only for a target closed to others (an open one
        // is copied closed, so no backup is readable by every local user).
        if !meta.was_open_to_others {
            match std::fs::hard_link(target, &path) {
                Ok(()) => return Ok(path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(_) => {}
            }
        }
        // Linking refused (e.g. protected_hardlinks for a file we do not own): copy.
        match create_like(&path, meta, bytes) {
            Ok(file) => {
                if let Err(e) = file.sync_all() {
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
                return Ok(path);
            }
            // Taken meanwhile: the next name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free backup name for this millisecond",
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn names() {
        let s = stamp(datetime!(2026-01-31 23:59:59.123456 UTC));
        assert_eq!(s, "20260131T235959.123Z");
        let s2 = stamp(datetime!(2026-02-01 01:59:59.5 +2));
        assert_eq!(s2, "20260131T235959.500Z");
        assert_eq!(
            backup_name("config.json", &s, 0),
            "config.json.bak.20260131T235959.123Z"
        );
        assert_eq!(
            backup_name("config.json", &s, 2),
            "config.json.bak.20260131T235959.123Z-2"
        );
        assert_eq!(
            parse_backup_name("config.json", "config.json.bak.20260131T235959.123Z"),
            Some((s.clone(), 0))
        );
        assert_eq!(
            parse_backup_name("config.json", "config.json.bak.20260131T235959.123Z-12"),
            Some((s.clone(), 12))
        );
        for other in [
            "config.json",
            "config.json.bak",
            "config.json.bak.20260131T235959.123",
            "config.json.bak.20260131T235959.123Z-",
            "config.json.bak.20260131T235959.123Zx",
            "config.json.bak.2026013XT235959.123Z",
            "other.json.bak.20260131T235959.123Z",
            ".config.veil-tmp-1-0.json",
        ] {
            assert_eq!(parse_backup_name("config.json", other), None, "{other}");
        }
    }

    #[test]
    fn prunes_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let names = [
            "c.json.bak.20260101T000000.000Z",
            "c.json.bak.20250101T000000.000Z",
            "c.json.bak.20260101T000000.000Z-1",
            "c.json.bak.20260102T000000.000Z",
            "c.json.bak.20240101T000000.000Z",
        ];
        for n in names {
            std::fs::write(d.join(n), n).unwrap();
        }
        std::fs::write(d.join("c.json"), "x").unwrap();
        std::fs::write(d.join("unrelated.bak.20200101T000000.000Z"), "x").unwrap();
        std::fs::create_dir(d.join("c.json.bak.20200101T000000.000Z")).unwrap();
        let listed: Vec<String> = list(d, "c.json")
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            listed,
            [
                "c.json.bak.20240101T000000.000Z",
                "c.json.bak.20250101T000000.000Z",
                "c.json.bak.20260101T000000.000Z",
                "c.json.bak.20260101T000000.000Z-1",
                "c.json.bak.20260102T000000.000Z",
            ]
        );
        let removed = prune(d, "c.json", 2).unwrap();
        assert_eq!(removed.len(), 3);
        let left: Vec<_> = list(d, "c.json").unwrap();
        assert_eq!(left.len(), 2);
        assert!(left[1].ends_with("c.json.bak.20260102T000000.000Z"));
        assert!(left[0].ends_with("c.json.bak.20260101T000000.000Z-1"));
        assert!(d.join("c.json").exists());
        assert!(d.join("unrelated.bak.20200101T000000.000Z").exists());
        assert!(d.join("c.json.bak.20200101T000000.000Z").is_dir());
        assert!(prune(d, "c.json", 0).unwrap().len() == 2);
        assert!(list(d, "c.json").unwrap().is_empty());
    }

    #[test]
    fn create_links_and_avoids_collisions() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let target = d.join("c.json");
        std::fs::write(&target, "v1").unwrap();
        std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let meta = FileMeta::of(&target);
        let s = "20260101T000000.000Z";
        let a = create(d, "c.json", &target, b"v1", meta, s).unwrap();
        let b = create(d, "c.json", &target, b"v1", meta, s).unwrap();
        assert!(a.ends_with("c.json.bak.20260101T000000.000Z"));
        assert!(b.ends_with("c.json.bak.20260101T000000.000Z-1"));
        assert_eq!(std::fs::read(&b).unwrap(), b"v1");
        assert_eq!(
            std::fs::metadata(&a).unwrap().ino(),
            std::fs::metadata(&target).unwrap().ino()
        );
    }
}
