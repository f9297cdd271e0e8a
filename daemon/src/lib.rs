//! The Veil daemon as a library: `main.rs` is only process plumbing (arguments, logging,
//! runtime), and integration tests use these modules directly.
//!
//! - [`config`]: `veild.toml`, strict and validated at start.
//! - [`store`]: SQLite, one group-committing writer and a reader pool.
//! - [`service`]: the typed service every front end calls (one method per operation).
//! - [`error`]: the service's errors: a kind and a message, no wire format.
//! - [`logging`]: every log line scrubbed: one line, no control characters, no whole UUID.
//! - [`restore`]: `veild --restore FILE`, a backup back in place with veild stopped.
//! - [`notify`]: what systemd hears: READY, STATUS lines, STOPPING, watchdog pings.
//! - [`ipc`]: the Unix socket: binding, access control, JSON-RPC connections.
//! - [`corelink`]: the gRPC link to the core (Xray or v2fly).
//! - [`coreuser`]: a key's name in the core (`key-ID@veil`).
//! - [`applier`]: the one task that applies pending keys to the core and the config file.
//! - [`disconnect`]: cutting the open connections of keys that left the core (sock_diag).
//! - [`corefile`]: the core's config file: patch the managed inbound's clients, check, write.
//! - [`watcher`]: core health, restart detection and resync, drift audit.
//! - [`adopt`]: first-start adoption of clients already in the core config.
//! - [`daemon`]: start-up and shutdown, in order.
//! - [`traffic`]: the stats poller, exact per-key accounting, history, limits and expiry.
//! - [`startup`]: what is checked before veild serves (test command, REALITY, writable dirs).
//! - [`share`]: each key's share link and client config (`key.link`, `key.config`).
//! - [`subscribe`]: `GET /sub/{token}`: subscription bodies for phone apps and the page for browsers.
//! - [`doctor`]: the setup checks behind `doctor` and `veild --doctor`.
//! - [`memory`]: freed heap handed back to the system after bursts of work.
//! - [`metrics`]: Prometheus metrics, and the optional `/metrics` listener.
//! - [`http`]: the optional HTTP API (API tokens, limits, one route per service call).
//! - [`httpserve`]: the bounded HTTP/1 accept loop both listeners share.
//! - [`webhook`]: signed event POSTs to `[[webhook]]` receivers, from a persistent queue.

pub mod adopt;
pub mod applier;
pub mod config;
pub mod corefile;
pub mod corelink;
pub mod coreuser;
pub mod daemon;
pub mod disconnect;
pub mod doctor;
pub mod error;
pub mod fleet;
pub mod http;
pub mod httpserve;
pub mod ipc;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod notify;
pub mod restore;
pub mod service;
pub mod share;
pub mod startup;
pub mod store;
pub mod subscribe;
pub mod traffic;
pub mod watcher;
pub mod webhook;
