//! The `veil` library: the terminal dashboard, kept apart from the CLI (`main.rs`) so its
//! benchmark and tests can drive it on ratatui's `TestBackend`.
//!
//! - [`dash`]: the dashboard (state, update, drawing, the socket worker, the terminal).

pub mod dash;
