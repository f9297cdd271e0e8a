//! The SQLite store: one writer, many readers.
//!
//! - One OS thread owns the only writing connection. Write jobs queue to it; it runs every
//!   queued job in one `BEGIN IMMEDIATE` transaction, each job in its own savepoint, then
//!   commits once and answers them all (group commit). A failing job rolls back only its own
//!   savepoint. Nothing is answered before its commit.
//! - Reads run on a few reader threads, each owning its connection, fed from one queue (no
//!   thread hand-off through the runtime's blocking pool, no connection opened per read
//!   under load). In WAL mode a reader sees the last commit and never waits behind the
//!   writer.

pub mod audit;
pub mod backup;
mod error;
pub mod filelag;
pub mod keys;
mod migrate;
pub mod subs;
pub mod tokens;
pub mod webhooks;

pub use error::StoreError;

mod readers;
use readers::open;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

use rusqlite::{Connection, OpenFlags, Savepoint, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

/// The most jobs one group commit takes; bounds how long the first caller waits.
const MAX_BATCH: usize = 512;

type Job = Box<dyn FnOnce(&mut Savepoint<'_>) -> Completion + Send>;

/// What a job left to do after the commit: hand the caller its result, or an error if the
/// commit itself failed.
struct Completion {
    ok: bool,
    deliver: Box<dyn FnOnce(Option<StoreError>) + Send>,
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    jobs: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    writer: Mutex<Option<thread::JoinHandle<()>>>,
    readers: Arc<readers::Readers>,
}

impl Drop for Inner {
    /// The last handle is gone: the reader threads stop (the writer stops as its queue's
    /// sender drops).
    fn drop(&mut self) {
        self.readers.stop();
    }
}

impl Store {
    /// Opens (creating if needed) the database, applies migrations and starts the writer.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Sqlite(format!("creating {}: {e}", dir.display())))?;
        }
        secure_files(path)?;
        let mut conn = open(path, OpenFlags::default())?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Sqlite(format!(
                "could not switch {} to WAL (got {mode})",
                path.display()
            )));
        }
        // FULL: an answered change survives power loss, not only a crash; group commit
        // keeps the fsync cost per batch, not per request.
        conn.pragma_update(None, "synchronous", "FULL")?;
        migrate::run(&mut conn)?;

        let (tx, rx) = mpsc::unbounded_channel();
        let writer = thread::Builder::new()
            .name("veild-db-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Sqlite(format!("starting the writer thread: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                jobs: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(writer)),
                readers: Arc::new(readers::Readers::new(path)),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in the writer's transaction and returns once it is committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Savepoint<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |sp| {
            let result = f(sp);
            Completion {
                ok: result.is_ok(),
                deliver: Box::new(move |commit_error| {
                    let result = match commit_error {
                        Some(e) => Err(e),
                        None => result,
                    };
                    // The caller may have gone away (connection closed); nothing to do then.
                    let _ = reply.send(result);
                }),
            }
        });
        let sender = self
            .inner
            .jobs
            .lock()
            .map_err(|_| StoreError::Closed)?
            .clone();
        sender
            .ok_or(StoreError::Closed)?
            .send(job)
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on a reader connection (on a reader thread; once the store is closed, on a
    /// connection of its own on the blocking pool).
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: readers::Job = Box::new(move |conn| {
            // The caller may have gone away; nothing to do then.
            let _ = reply.send(conn.and_then(f));
        });
        if let Err(job) = self.inner.readers.submit(job) {
            let path = self.inner.path.clone();
            tokio::task::spawn_blocking(move || match readers::open_reader(&path) {
                Ok(conn) => job(Ok(&conn)),
                Err(e) => job(Err(e)),
            })
            .await
            .map_err(|e| StoreError::Sqlite(format!("reader task failed: {e}")))?;
        }
        answer
            .await
            .map_err(|_| StoreError::Sqlite("reader task failed".into()))?
    }

    /// Stops taking writes, lets the writer finish what is queued, and closes every
    /// connection (the WAL is checkpointed when the last one closes).
    pub fn close(&self) {
        if let Ok(mut jobs) = self.inner.jobs.lock() {
            jobs.take();
        }
        self.inner.readers.close();
        let handle = self.inner.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::error!("the database writer thread panicked");
        }
    }
}

fn writer_loop(mut conn: Connection, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let completions = run_batch(&mut conn, &mut batch);
        let (completions, commit_error) = match completions {
            Ok(done) => (done, None),
            Err((done, e)) => {
                tracing::error!(error = %e, "database commit failed; the batch was rolled back");
                (done, Some(e))
            }
        };
        for c in completions {
            (c.deliver)(commit_error.clone());
        }
    }
    if let Err((_, e)) = conn.close().map_err(|(c, e)| (c, StoreError::from(e))) {
        tracing::error!(error = %e, "closing the database failed");
    }
}

/// Runs a batch in one transaction. On a commit failure the completions are still returned
/// so every caller hears of it.
fn run_batch(
    conn: &mut Connection,
    batch: &mut Vec<Job>,
) -> Result<Vec<Completion>, (Vec<Completion>, StoreError)> {
    let mut done = Vec::with_capacity(batch.len());
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            // The jobs never ran; fail them all.
            let e = StoreError::from(e);
            for _job in batch.drain(..) {}
            return Err((done, e));
        }
    };
    for job in batch.drain(..) {
        let mut sp = match tx.savepoint() {
            Ok(sp) => sp,
            Err(e) => {
                done.push(Completion {
                    ok: false,
                    deliver: Box::new(|_| {}),
                });
                tracing::error!(error = %e, "could not open a savepoint");
                continue;
            }
        };
        let completion = job(&mut sp);
        let kept = if completion.ok {
            sp.commit()
        } else {
            sp.rollback().and_then(|()| sp.commit())
        };
        if let Err(e) = kept {
            tracing::error!(error = %e, "closing a savepoint failed");
        }
        done.push(completion);
    }
    match tx.commit() {
        Ok(()) => Ok(done),
        Err(e) => Err((done, StoreError::from(e))),
    }
}

/// The database file and the WAL and shared-memory files SQLite keeps beside it.
pub fn files_of(path: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [path.to_owned(), with("-wal"), with("-shm")]
}

/// Every key's UUID is a credential: the database and its companions are 0600. A new
/// database is created 0600 whatever the umask (SQLite gives the WAL and shared-memory
/// files the database's mode); an existing one that is more open is closed with a
/// warning, and veild refuses to start when it cannot do so.
fn secure_files(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    if let Err(e) = created
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(StoreError::Sqlite(format!(
            "creating {}: {e}",
            path.display()
        )));
    }
    for file in files_of(path) {
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        let mode = meta.mode() & 0o777;
        if mode & 0o077 == 0 {
            continue;
        }
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => tracing::warn!(
                path = %file.display(),
                was = format!("{mode:04o}"),
                "the database file was readable by others; it holds every key's UUID, so it \
                 is now 0600"
            ),
            Err(e) => {
                return Err(StoreError::Sqlite(format!(
                    "{} is readable by others (mode {mode:04o}) and holds every key's UUID; \
                     veild cannot make it 0600 ({e}): run `chmod 600 {}` as its owner \
                     (uid {})",
                    file.display(),
                    file.display(),
                    meta.uid()
                )));
            }
        }
    }
    Ok(())
}

/// The schema version this build writes (and the newest it reads).
pub fn schema_version() -> i64 {
    migrate::LATEST
}

/// Seconds since the Unix epoch, for row times.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
