//! Shared support for veild's integration tests (`mod support;` in a test).
#![allow(dead_code)]

pub mod core_harness;
pub mod daemon;
