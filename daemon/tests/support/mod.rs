//! Shared support for veild's integration tests (`mod support;` in a test).
//!
//! Each test binary compiles its own copy of this module, so what one binary does not use
//! is dead code there: hence the `allow` below.
#![allow(dead_code)]

pub mod accounts;
pub mod core_harness;
pub mod daemon;
pub mod postgres;

use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs the tests of one binary one at a time: take the guard first thing in a test that
/// starts several processes or measures time. A test that panicked does not block the rest.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A multi-threaded tokio runtime (two workers) for the async parts of a blocking test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A fresh temporary directory, removed on drop, named after the test binary
/// (`veil-core_live-…`) so a leftover one says where it came from.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(concat!("veil-", env!("CARGO_CRATE_NAME"), "-"))
        .tempdir()
        .expect("tempdir")
}

/// A key's id, from a key object veild returned.
pub fn id_of(key: &Value) -> i64 {
    key["id"].as_i64().expect("key.id")
}

/// A key's UUID, lower-cased, from a key object veild returned.
pub fn uuid_of(key: &Value) -> String {
    key["uuid"].as_str().expect("key.uuid").to_lowercase()
}

/// The email veild gives a key in the core: derived from the immutable id.
pub fn email_of(id: i64) -> String {
    format!("key-{id}@veil")
}
