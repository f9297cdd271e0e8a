//! What the applier and the health watcher know, shared with `health`. Short critical
//! sections only: a plain mutex.

use std::sync::Mutex;

use veil_shared::api::{ConfigFileHealth, CoreStatus, DisconnectHealth, ResyncInfo};

#[derive(Debug)]
pub struct Status {
    inner: Mutex<Snapshot>,
}

#[derive(Clone, Debug)]
pub struct Snapshot {
    pub core: CoreStatus,
    pub uptime_secs: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub last_error: Option<String>,
    pub last_resync: Option<ResyncInfo>,
    pub drift: Option<u64>,
    pub config: ConfigFileHealth,
    /// Set at start when the daemon has a core (the applier's disconnector).
    pub disconnect: Option<DisconnectHealth>,
}

impl Status {
    pub fn new(config_path: String) -> Self {
        Self {
            inner: Mutex::new(Snapshot {
                core: CoreStatus::Unknown,
                uptime_secs: None,
                memory_bytes: None,
                last_error: None,
                last_resync: None,
                drift: None,
                config: ConfigFileHealth {
                    path: config_path,
                    writes: 0,
                    last_write_at: None,
                    last_error: None,
                    unmanaged_clients: Vec::new(),
                    behind: 0,
                    behind_since: None,
                },
                disconnect: None,
            }),
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        match self.inner.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn update(&self, f: impl FnOnce(&mut Snapshot)) {
        match self.inner.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    pub fn core_status(&self) -> CoreStatus {
        self.snapshot().core
    }
}
