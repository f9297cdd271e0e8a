//! Blocking filesystem steps of a safe rewrite: files created with the target's mode and
//! owner, a temp file that removes itself unless committed, directory fsync.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The mode used when the target's own cannot be read: the config may hold a REALITY
/// private key, so nobody but the owner reads it.
pub(super) const DEFAULT_MODE: u32 = 0o600;

/// Bits a file veild writes never has: none for other users (the file lists every
/// client's UUID, each a credential), no set-id or sticky bits.
const NEVER: u32 = 0o7007;

/// Mode and owner a new file copies from the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileMeta {
    pub mode: u32,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// The target was open to other users; the new file is not.
    pub was_open_to_others: bool,
}

impl FileMeta {
    /// The target's mode (less anything for other users) and owner, or 0600 and our own
    /// owner if it cannot be read. A rewrite is never more open than what it replaces.
    pub fn of(path: &Path) -> FileMeta {
        match std::fs::metadata(path) {
            Ok(m) => FileMeta {
                mode: m.mode() & 0o7777 & !NEVER,
                uid: Some(m.uid()),
                gid: Some(m.gid()),
                was_open_to_others: m.mode() & 0o007 != 0,
            },
            Err(_) => FileMeta {
                mode: DEFAULT_MODE,
                uid: None,
                gid: None,
                was_open_to_others: false,
            },
        }
    }
}

/// Creates `path` (which must not exist) with `meta`'s owner where permitted and its mode
/// exactly (not reduced by the umask), writes `bytes` and returns the open file.
pub(super) fn create_like(path: &Path, meta: FileMeta, bytes: &[u8]) -> io::Result<File> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(DEFAULT_MODE)
        .open(path)?;
    if meta.uid.is_some() || meta.gid.is_some() {
        // Only root may give a file away; otherwise the owner stays us, which is what a
        // non-root daemon can do. Changing the group to one of ours may still succeed.
        if std::os::unix::fs::fchown(&file, meta.uid, meta.gid).is_err() {
            let _ = std::os::unix::fs::fchown(&file, None, meta.gid);
        }
    }
    // After chown, which may clear set-id bits.
    file.set_permissions(Permissions::from_mode(meta.mode))?;
    file.write_all(bytes)?;
    Ok(file)
}

/// A file that is removed when dropped unless [`TempFile::keep`] was called.
pub(super) struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    pub fn new(path: PathBuf) -> TempFile {
        TempFile { path, armed: true }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file has been renamed away (or must stay); do not remove it.
    pub fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Makes a rename (or link, or unlink) in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
