//! Log lines that cannot lie or leak. Every line veild writes passes through [`Scrubbed`]
//! (the scrubbing itself is `veil_shared::logline`, which the dashboard's log uses too):
//!
//! - A line is one line: a line feed inside an event (a key name with `\n` in it) is
//!   written as `\n`, so nobody can forge a second line. Every other control character
//!   (C0, DEL, C1 — ANSI escapes start with ESC) and the bidirectional overrides that make
//!   text read in another order are written as `\u{…}`.
//! - No UUID reaches the log whole (a client's UUID is its credential): anything shaped
//!   like one — `8-4-4-4-12` hex digits, or 32 hex digits in a row — is cut to its first
//!   8 characters and `...`, wherever it comes from (a field, an error built deep in the
//!   store, a client's input).
//!
//! The filter works on the formatted bytes, so it holds for every event and every format
//! (text or JSON) without each call site having to remember.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;
use veil_shared::logline::ScrubWriter;

/// Wraps a writer maker (stderr, a file) so that each event is scrubbed before it is
/// written. The formatter hands over one whole event per `write` call.
pub struct Scrubbed<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Scrubbed<M> {
    type Writer = ScrubWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubWriter::new(self.0.make_writer())
    }
}

/// Where log lines go: stderr always, and the rotating file when `[log] directory` is set.
pub struct Sinks {
    pub file: Option<tracing_appender::non_blocking::NonBlocking>,
}

impl<'a> MakeWriter<'a> for Sinks {
    type Writer = SinkWriter;

    fn make_writer(&'a self) -> Self::Writer {
        SinkWriter {
            stderr: io::stderr(),
            file: self.file.clone(),
        }
    }
}

pub struct SinkWriter {
    stderr: io::Stderr,
    file: Option<tracing_appender::non_blocking::NonBlocking>,
}

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(file) = &mut self.file {
            // The file's writer is lossy by design (a full queue drops lines, never blocks).
            let _ = file.write_all(buf);
        }
        self.stderr.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stderr.flush()
    }
}

/// `[log]` in `veild.toml`: the level, and an optional rotating log file for hosts without
/// journald. Under systemd, stderr goes to the journal (which stamps the time) and that is
/// enough.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A level or filter (`info`, `debug`, `veild=trace`); `--log-level` and `RUST_LOG` win.
    #[serde(default)]
    pub level: Option<String>,
    /// Also write the log to `veild.log.YYYY-MM-DD` files here, one a day.
    #[serde(default)]
    pub directory: Option<std::path::PathBuf>,
    /// Daily files kept in `directory`.
    #[serde(default = "default_keep")]
    pub keep: usize,
}

fn default_keep() -> usize {
    14
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: None,
            directory: None,
            keep: default_keep(),
        }
    }
}

impl LogConfig {
    /// Every value in range, or the first one that is not: (key, value, problem).
    pub fn check(&self) -> Result<(), (&'static str, String, String)> {
        if !(1..=3650).contains(&self.keep) {
            return Err((
                "log.keep",
                self.keep.to_string(),
                "must be from 1 to 3650".into(),
            ));
        }
        if let Some(dir) = &self.directory
            && !dir.is_absolute()
        {
            return Err((
                "log.directory",
                dir.display().to_string(),
                "must be an absolute path".into(),
            ));
        }
        Ok(())
    }
}

/// Whether stderr is the journal (systemd sets `JOURNAL_STREAM` to its device and inode):
/// then the journal stamps each line and veild leaves the time out.
pub fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let stderr = std::fs::metadata("/proc/self/fd/2");
    stderr.is_ok_and(|m| dev.parse() == Ok(m.dev()) && ino.parse() == Ok(m.ino()))
}

/// Request ids: veild numbers every request a front end hands to the service, and the id
/// rides along — in the front end's span, and into the applier's pass that settles it (its
/// span lists the ids it serves, and the config write logs inside it) — so one operation's
/// lines can be found together with `grep req=N` / `requests=…N`.
pub mod request {
    use std::sync::atomic::{AtomicU64, Ordering};

    static NEXT: AtomicU64 = AtomicU64::new(1);

    tokio::task_local! {
        static ID: u64;
    }

    /// A new request id.
    pub fn next() -> u64 {
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    /// Runs `fut` as request `id`: what it asks of the applier carries the id.
    pub async fn scope<F: std::future::Future>(id: u64, fut: F) -> F::Output {
        ID.scope(id, fut).await
    }

    /// The id of the request this task serves, if any.
    pub fn current() -> Option<u64> {
        ID.try_with(|id| *id).ok()
    }
}
