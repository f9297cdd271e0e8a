//! Binding the socket without ever displacing a live daemon.
//!
//! 1. An exclusive `flock` on `SOCKET.lock` decides who owns the path: a second veild on
//!    the same path stops here, whatever state the socket file is in.
//! 2. A leftover socket file is probed: if something answers, we refuse (a daemon that does
//!    not use the lock, e.g. started by hand from an old build); if nothing answers it is
//!    stale and removed.
//! 3. After bind the mode is set to 0660 and the group to `socket_group` explicitly, because
//!    bind() applies the umask.

use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use nix::fcntl::{Flock, FlockArg};
use nix::unistd::Gid;

pub use crate::config::SOCKET_MODE;

pub struct Bound {
    pub listener: Listener,
    path: PathBuf,
    _lock: Flock<File>,
}

impl Bound {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the listener and removes the socket file (we hold the lock, so it is ours).
    pub fn close(self) {
        let Bound {
            listener,
            path,
            _lock,
        } = self;
        drop(listener);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not remove the socket");
            }
        }
    }
}

fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the lock every veild holds on `SOCKET.lock` while it runs: held by someone else,
/// a veild runs on that socket. Offline tools (restore) hold it too while they work.
pub fn lock_socket(path: &Path) -> Result<Flock<File>, String> {
    let lock_file_path = lock_path(path);
    let lock_file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_file_path)
        .map_err(|e| format!("opening the lock file {}: {e}", lock_file_path.display()))?;
    Flock::lock(lock_file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        if errno == nix::errno::Errno::EWOULDBLOCK {
            format!(
                "another veild is already running on {} (it holds {})",
                path.display(),
                lock_file_path.display()
            )
        } else {
            format!("locking {}: {errno}", lock_file_path.display())
        }
    })
}

pub fn bind(path: &Path, gid: Gid) -> Result<Bound, String> {
    if let Some(dir) = path.parent()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("creating the socket directory {}: {e}", dir.display()))?;
        std::fs::set_permissions(dir, Permissions::from_mode(0o755))
            .map_err(|e| format!("setting the mode of {}: {e}", dir.display()))?;
    }
    let lock = lock_socket(path)?;

    clear_stale(path)?;

    let name = path
        .to_fs_name::<GenericFilePath>()
        .map_err(|e| format!("socket path {}: {e}", path.display()))?;
    let listener = ListenerOptions::new()
        .name(name)
        .reclaim_name(true)
        .create_tokio()
        .map_err(|e| format!("binding the socket {}: {e}", path.display()))?;
    std::fs::set_permissions(path, Permissions::from_mode(SOCKET_MODE))
        .map_err(|e| format!("setting mode 0660 on {}: {e}", path.display()))?;
    nix::unistd::chown(path, None, Some(gid))
        .map_err(|e| format!("giving {} to group {gid}: {e}", path.display()))?;
    Ok(Bound {
        listener,
        path: path.to_owned(),
        _lock: lock,
    })
}

fn clear_stale(path: &Path) -> Result<(), String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("inspecting {}: {e}", path.display())),
    };
    if !meta.file_type().is_socket() {
        return Err(format!(
            "{} exists and is not a socket; refusing to replace it",
            path.display()
        ));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(format!(
            "a live daemon answers on {}; stop it first (veild refuses to displace it)",
            path.display()
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "removing a stale socket");
            std::fs::remove_file(path)
                .map_err(|e| format!("removing the stale socket {}: {e}", path.display()))
        }
        Err(e) => Err(format!(
            "probing the existing socket {}: {e}",
            path.display()
        )),
    }
}
