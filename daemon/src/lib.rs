//! The Veil daemon as a library: `main.rs` is only process plumbing (arguments, logging,
//! runtime), and integration tests use these modules directly.
//!
//! - [`config`]: `veild.toml`, strict and validated at start.
//! - [`store`]: SQLite, one group-committing writer and a reader pool.
//! - [`service`]: the one service layer (validation, audit, events) behind every front end.
//! - [`ipc`]: the Unix socket: binding, access control, JSON-RPC connections.
//! - [`corelink`]: the gRPC link to the core (Xray or v2fly).
//! - [`daemon`]: start-up and shutdown, in order.

pub mod config;
pub mod corelink;
pub mod daemon;
pub mod ipc;
pub mod service;
pub mod store;
