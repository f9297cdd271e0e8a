//! Fleet mode: many servers, one key registry in PostgreSQL. Each veild is a node that
//! keeps its own SQLite database as a copy of the registry and reconciles its own core
//! from that copy, with the applier it always had: only the source of desire changes.
//!
//! - [`registry`]: the synchronous PostgreSQL client on the database writer's thread. A
//!   key change runs as one step: take the fleet's lock, catch up with the registry, make
//!   the change in SQLite, write it to PostgreSQL, commit PostgreSQL, then SQLite. The
//!   change is refused (`registry_unavailable`) while the registry cannot be reached.
//! - `mirror`: registry rows ⇄ local rows (the outbox of local changes, the pull of the
//!   others').
//! - `traffic`: each node's own bytes per key, written as absolute figures; the others'
//!   folded into the local totals, so limits, usage and every reader see the fleet's sum.
//! - [`nodes`]: every node's beat (health, the server its keys dial), drains, and the
//!   local copy `node.list` and subscriptions read.
//! - `run`: the node's background task: LISTEN/NOTIFY wakes it, a slow timer and every
//!   reconnect re-read the whole registry (a lost notification never leaves drift).
//! - [`admin`]: `veild fleet init` and `veild fleet add-node` (the registry's owner).
//! - `tls`: rustls for `sslmode=require`; `pg`: PostgreSQL errors in words, and whether the
//!   link is gone; `fail`: how a step with the registry can end.

pub mod admin;
mod fail;
mod mirror;
pub mod nodes;
mod pg;
pub mod registry;
mod run;
mod tls;
mod traffic;

pub use registry::{LinkReport, Registry};
pub use run::{FleetTask, open};

pub use admin::SCHEMA_VERSION;
