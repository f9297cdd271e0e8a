//! Protobuf messages for the core's gRPC API (HandlerService, StatsService).
//!
//! The messages are written by Veil from the field numbers the core uses; the
//! package name `veil.core` is our own and never reaches the wire. Callers
//! pick the real service paths and `TypedMessage.type` strings per core flavor
//! (`xray.` or `v2ray.core.`), which is why no generated client is exported.
//!
//! The generated servers (`handler_service_server`, `stats_service_server`)
//! exist for test doubles of the core; their built-in paths use `veil.core`, so
//! a test must re-route the real paths onto them.

#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used
)]
mod generated {
    tonic::include_proto!("veil.core");
}

pub use generated::*;

/// The protobuf package our .proto files declare; generated servers route on
/// `/veil.core.<Service>/<Method>`.
pub const PACKAGE: &str = "veil.core";
