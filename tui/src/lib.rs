//! The `veil` library: what the CLI (`main.rs`) and the terminal dashboard share, and the
//! dashboard itself, kept apart from the CLI so its benchmark and tests can drive it on
//! ratatui's `TestBackend`.
//!
//! - [`text`]: daemon text made safe for a terminal, display width, the one truncation.
//! - [`format`](mod@format): values for people: sizes, rates, times, durations, key states.
//! - [`parse`]: the one reader of sizes, spans and dates people type (rules in its docs).
//! - [`dash`]: the dashboard (state, update, drawing, the socket worker, the terminal).
//! - [`logfile`]: the optional log file of the dashboard and the CLI (never the terminal).
//!
//! Modules depend one way only, each on those before it: `text`, `format`, `parse`,
//! `logfile` (no crate imports, each) ← `dash`. Inside `dash`, the screens and update steps share leaf
//! modules (`ui::parts`, `update::outcome`) rather than their parent module. Test modules
//! (`#[cfg(test)]`) may reach back.

pub mod dash;
pub mod format;
pub mod logfile;
pub mod parse;
pub mod text;
