//! The dashboard's own log: off by default, and never on the terminal it draws on. With
//! `veil --log-file FILE` (or `VEIL_LOG_FILE`) lines are appended to FILE: connections made
//! and lost, each call to veild (at `debug`) and each failure. The file is created 0600 and never followed
//! through a symlink (it may sit in a shared directory); every line is scrubbed like
//! veild's own (one line, no control characters, no whole UUID).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use tracing_subscriber::EnvFilter;
use veil_shared::logline::ScrubWriter;

/// The file's mode: key names and addresses are nobody else's business.
pub const MODE: u32 = 0o600;

/// One open log file shared by every event (O_APPEND: each event is one write).
#[derive(Clone)]
struct Shared(Arc<File>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.0).flush()
    }
}

/// Opens `path` and sends this process's log there at `level` (a level or a filter such
/// as `veil=debug`). Fails, saying why, on a bad filter or a file that cannot be opened.
pub fn start(path: &Path, level: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(level).map_err(|e| format!("--log-level {level:?}: {e}"))?;
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(MODE)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
        .map_err(|e| format!("--log-file {}: {e}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("--log-file {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("--log-file {}: not a regular file", path.display()));
    }
    // An existing file keeps its owner; it loses what others could read.
    if meta.permissions().mode() & 0o077 != 0 {
        let _ = file.set_permissions(std::fs::Permissions::from_mode(MODE));
    }
    let shared = Shared(Arc::new(file));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(false)
        .with_writer(move || ScrubWriter::new(shared.clone()))
        .try_init()
        .map_err(|e| format!("--log-file: {e}"))
}
