//! Fair use of the socket: no local user can lock the others out.
//!
//! - The total number of open connections fits the file descriptors the process has,
//!   minus a reserve for the store, the applier, the core link and the config writer, so
//!   veild never runs out of descriptors because of clients.
//! - Each uid has its own cap, well below the total.
//! - The last slots are kept for root (and veild's own user): `veil health` as root works
//!   even when every other slot is taken.
//! - A connection that sends nothing for `idle_timeout_ms` is closed (one that watches
//!   events is not idle).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use crate::config::ConnectionsConfig;
use std::time::Duration;

/// Descriptors kept out of the connection budget: SQLite (database, WAL, shared memory per
/// connection, the reader pool), the core's gRPC channel, config writes and backups, the
/// listener, logs.
pub const FD_RESERVE: u64 = 128;
/// Sockets beyond the budget that may be open at once just to be told they are refused.
/// Past budget + headroom, veild stops accepting until a socket closes (new ones wait in
/// the kernel's backlog), so refusals cannot eat the reserve either.
pub const REFUSAL_HEADROOM: u64 = 32;

/// Why a connection was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot open to this caller is taken.
    Full,
    /// This uid has its own cap's worth open.
    PerUid,
}

#[derive(Debug)]
struct Counts {
    total: u64,
    by_uid: HashMap<u32, u64>,
}

/// The connection budget, shared by every connection task.
#[derive(Debug)]
pub struct Budget {
    /// The total after fitting the descriptor limit.
    pub max: u64,
    pub per_uid: u64,
    pub root_reserve: u64,
    counts: Mutex<Counts>,
    /// One permit per open socket, admitted or being refused.
    sockets: Arc<tokio::sync::Semaphore>,
}

impl Budget {
    /// The configured caps, lowered to fit `fd_limit` open descriptors.
    pub fn new(config: &ConnectionsConfig, fd_limit: u64) -> Arc<Self> {
        let fits = fd_limit
            .saturating_sub(FD_RESERVE + REFUSAL_HEADROOM)
            .max(2);
        let max = config.max.min(fits);
        let root_reserve = config.root_reserve.min(max / 2).max(1);
        let per_uid = config.per_uid.min(max - root_reserve).max(1);
        Arc::new(Self {
            max,
            per_uid,
            root_reserve,
            counts: Mutex::new(Counts {
                total: 0,
                by_uid: HashMap::new(),
            }),
            sockets: Arc::new(tokio::sync::Semaphore::new(
                usize::try_from(max + REFUSAL_HEADROOM).unwrap_or(usize::MAX),
            )),
        })
    }

    /// Waits until one more socket may be open; hold the permit while it is.
    pub async fn socket_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.sockets).acquire_owned().await.ok()
    }

    /// Takes a slot for `uid`; `privileged` callers (root, veild's user) may use the
    /// reserve and have no per-uid cap.
    pub fn admit(self: &Arc<Self>, uid: u32, privileged: bool) -> Result<Slot, Refusal> {
        let mut counts = match self.counts.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let open_to_caller = if privileged {
            self.max
        } else {
            self.max - self.root_reserve
        };
        if counts.total >= open_to_caller {
            return Err(Refusal::Full);
        }
        let mine = counts.by_uid.entry(uid).or_insert(0);
        if !privileged && *mine >= self.per_uid {
            return Err(Refusal::PerUid);
        }
        *mine += 1;
        counts.total += 1;
        Ok(Slot {
            budget: Arc::clone(self),
            uid,
        })
    }

    /// Open connections now.
    pub fn open(&self) -> u64 {
        self.counts.lock().map_or(0, |c| c.total)
    }
}

/// One taken slot, given back on drop.
#[derive(Debug)]
pub struct Slot {
    budget: Arc<Budget>,
    uid: u32,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = match self.budget.counts.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        counts.total = counts.total.saturating_sub(1);
        if let Some(mine) = counts.by_uid.get_mut(&self.uid) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                counts.by_uid.remove(&self.uid);
            }
        }
    }
}

/// Raises the soft limit on open files to the hard limit (systemd starts services at
/// 1,024) and returns the soft limit that holds.
pub fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => {
                tracing::info!(from = soft, to = hard, "raised the open-file limit");
                hard
            }
            Err(e) => {
                tracing::warn!(soft, hard, error = %e, "could not raise the open-file limit");
                soft
            }
        },
        Ok((soft, _)) => soft,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the open-file limit; assuming 1024");
            1024
        }
    }
}

/// Refused peers (not root, not in the socket group) are logged and audited at most once
/// per uid per window; the next record carries how many were suppressed in between.
#[derive(Debug, Default)]
pub struct RefusalLog {
    seen: Mutex<HashMap<u32, (std::time::Instant, u64)>>,
}

/// The window of [`RefusalLog`].
pub const REFUSAL_WINDOW: Duration = Duration::from_secs(60);

impl RefusalLog {
    /// `Some(suppressed since the last record)` when this refusal should be recorded.
    pub fn should_record(&self, uid: u32) -> Option<u64> {
        let mut seen = match self.seen.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let now = std::time::Instant::now();
        // Forget peers quiet for a whole window, so the map stays small.
        seen.retain(|_, (since, _)| now.duration_since(*since) < REFUSAL_WINDOW * 2);
        match seen.get_mut(&uid) {
            Some((since, suppressed)) if now.duration_since(*since) < REFUSAL_WINDOW => {
                *suppressed += 1;
                None
            }
            Some((since, suppressed)) => {
                let before = *suppressed;
                *since = now;
                *suppressed = 0;
                Some(before)
            }
            None => {
                seen.insert(uid, (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max: u64, per_uid: u64, root_reserve: u64) -> ConnectionsConfig {
        ConnectionsConfig {
            max,
            per_uid,
            root_reserve,
            idle_timeout_ms: 1_000,
        }
    }

    #[test]
    fn one_uid_cannot_take_every_slot_and_root_always_gets_in() {
        let budget = Budget::new(&config(20, 8, 4), 1 << 20);
        let mut held = Vec::new();
        for _ in 0..8 {
            held.push(budget.admit(1000, false).unwrap());
        }
        assert_eq!(budget.admit(1000, false).unwrap_err(), Refusal::PerUid);
        for _ in 0..8 {
            held.push(budget.admit(1001, false).unwrap());
        }
        // 16 of 20 taken: the last 4 are root's.
        assert_eq!(budget.admit(1002, false).unwrap_err(), Refusal::Full);
        for _ in 0..4 {
            held.push(budget.admit(0, true).unwrap());
        }
        assert_eq!(budget.admit(0, true).unwrap_err(), Refusal::Full);
        held.truncate(10);
        assert_eq!(budget.open(), 10);
        assert!(budget.admit(1002, false).is_ok());
        drop(held);
        assert_eq!(budget.open(), 0);
    }

    #[test]
    fn the_budget_fits_the_descriptor_limit() {
        let budget = Budget::new(&ConnectionsConfig::default(), 1024);
        assert_eq!(budget.max, 1024 - FD_RESERVE - REFUSAL_HEADROOM);
        assert!(budget.per_uid < budget.max - budget.root_reserve);
        let tiny = Budget::new(&ConnectionsConfig::default(), 64);
        assert!(tiny.max >= 2 && tiny.root_reserve >= 1 && tiny.per_uid >= 1);
    }

    #[test]
    fn refusals_are_recorded_once_per_window() {
        let log = RefusalLog::default();
        assert_eq!(log.should_record(7), Some(0));
        for _ in 0..3000 {
            assert_eq!(log.should_record(7), None);
        }
        assert_eq!(log.should_record(8), Some(0));
    }
}
