//! What the service's traffic reads and the poller share.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, oneshot};
use veil_shared::api::Event;
use veil_shared::traffic::CycleReport;

use super::config::TrafficConfig;
use super::db::IdMap;
use crate::applier::ApplierHandle;
use crate::corelink::CoreLink;
use crate::metrics::Metrics;
use crate::store::Store;

/// What the service layer and the poller share: rates of the last cycle and its report.
#[derive(Default)]
pub struct Live {
    /// (uplink, downlink) bytes/s over the last cycle, for keys that moved in it.
    pub rates: IdMap<(u64, u64)>,
    pub last_cycle: Option<CycleReport>,
}

pub(super) type SyncReply = oneshot::Sender<Result<CycleReport, crate::error::ServiceError>>;

/// Everything the poller and the `traffic.*` methods need.
pub struct Shared {
    pub store: Store,
    pub link: CoreLink,
    pub events: broadcast::Sender<Event>,
    pub applier: ApplierHandle,
    pub config: TrafficConfig,
    /// The core's config file, read for its online-statistics policy.
    pub core_config: PathBuf,
    pub live: Mutex<Live>,
    pub metrics: Arc<Metrics>,
}

impl Shared {
    pub(super) fn with_live<T>(&self, f: impl FnOnce(&mut Live) -> T) -> T {
        match self.live.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}
