//! The reader threads: up to [`max_readers`] threads, each owning one read-only connection,
//! take read jobs from one queue. A thread is started when a job finds none idle (so a
//! store that reads little keeps one), and stays until the store closes. Under load a
//! thread runs job after job without sleeping; an idle one is woken only when it is needed.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::error::StoreError;

/// The most reader threads (and reader connections) of one store: one per core, 2 to 4.
/// More threads than cores only add wake-ups and switches (on 2 cores, 4 readers served
/// `GET /api/keys/{id}` a quarter slower than 2).
fn max_readers() -> usize {
    thread::available_parallelism()
        .map_or(2, std::num::NonZeroUsize::get)
        .clamp(2, 4)
}

/// A read: it gets a connection, or the error opening one.
pub type Job = Box<dyn FnOnce(Result<&Connection, StoreError>) + Send>;

pub struct Readers {
    path: PathBuf,
    /// [`max_readers`].
    most: usize,
    queue: Mutex<Queue>,
    ready: Condvar,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Threads waiting for a job.
    idle: usize,
    threads: Vec<thread::JoinHandle<()>>,
    /// No more jobs taken: threads finish what is queued, then leave.
    stopped: bool,
}

/// A connection for reads only.
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = open(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

impl Readers {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            most: max_readers(),
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job` for a reader thread; hands it back once the store is closed.
    pub fn submit(self: &Arc<Self>, job: Job) -> Result<(), Job> {
        let mut queue = self.lock();
        if queue.stopped {
            return Err(job);
        }
        queue.jobs.push_back(job);
        let wake = queue.idle >= queue.jobs.len();
        if !wake && queue.threads.len() < self.most {
            let readers = Arc::clone(self);
            let started = thread::Builder::new()
                .name("veild-db-reader".into())
                .spawn(move || readers.run());
            match started {
                Ok(handle) => queue.threads.push(handle),
                // The threads there are take the job; with none, hand it back.
                Err(e) if queue.threads.is_empty() => {
                    tracing::warn!(error = %e, "could not start a database reader thread");
                    // The job pushed above (the lock was held since).
                    return match queue.jobs.pop_back() {
                        Some(job) => Err(job),
                        None => Ok(()),
                    };
                }
                Err(e) => tracing::warn!(error = %e, "could not start a database reader thread"),
            }
        }
        drop(queue);
        if wake {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// One reader thread: its connection (opened at its first job, again after a failure).
    fn run(&self) {
        let mut conn: Option<Connection> = None;
        while let Some(job) = self.next() {
            if conn.is_none() {
                match open_reader(&self.path) {
                    Ok(opened) => conn = Some(opened),
                    Err(e) => {
                        job(Err(e));
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_ref() else { continue };
            // A job that panics leaves its caller an error (its reply is dropped); the
            // connection, maybe mid-statement, is not used again.
            if catch_unwind(AssertUnwindSafe(|| job(Ok(c)))).is_err() {
                tracing::error!("a database read panicked");
                conn = None;
            }
        }
    }

    /// The next job, waiting for one; `None` once stopped.
    fn next(&self) -> Option<Job> {
        let mut queue = self.lock();
        loop {
            if let Some(job) = queue.jobs.pop_front() {
                return Some(job);
            }
            if queue.stopped {
                return None;
            }
            queue.idle += 1;
            queue = self
                .ready
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
            queue.idle -= 1;
        }
    }

    /// Takes no more jobs; the threads leave once the queue is empty (not waited for).
    pub fn stop(&self) {
        self.lock().stopped = true;
        self.ready.notify_all();
    }

    /// Stops the threads and waits until each has closed its connection.
    pub fn close(&self) {
        self.stop();
        let threads = std::mem::take(&mut self.lock().threads);
        for handle in threads {
            if handle.join().is_err() {
                tracing::error!("a database reader thread panicked");
            }
        }
    }
}

/// How long a connection waits for a lock before failing (the busy timeout). Only the writer writes, so
/// this guards against outside tools (sqlite3 shell, backups) holding the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to the database with the settings every connection has (the writer's
/// and the readers').
pub(super) fn open(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Sqlite(format!("opening {}: {e}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(conn)
}
