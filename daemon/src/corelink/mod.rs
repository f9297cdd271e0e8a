//! The link between `veild` and the proxy core's gRPC API.
//!
//! The core (Xray-core, or v2fly/v2ray for tests) keeps API-added users only in
//! memory, so the daemon owns the truth and pushes it through this link: add a
//! user, remove a user, read traffic counters and liveness. Everything here is
//! flavor-aware because the two cores speak identical protobuf on the wire but
//! under different package names (see [`Flavor`]).
//!
//! Calls are single attempts: the applier decides when to try again
//! ([`RetryPolicy`]), so a refusal is never repeated blindly.
//!
//! This module refers to its own parts only through `super::`/`self::` paths so
//! that integration tests can compile it in place with `#[path]`.

mod error;
mod flavor;
mod link;
mod retry;
mod stats;
mod users;

// The link's public surface; not every item is named by every user of the
// module (the daemon binary, integration tests), hence the allow.
#[allow(unused_imports)]
pub use self::{
    error::CoreError,
    flavor::{Flavor, FlavorApi},
    link::{CallObserver, CoreLink, LinkOptions},
    retry::RetryPolicy,
    stats::{RawStat, SysStats},
    users::{AddOutcome, CoreUser, RemoveOutcome},
};
