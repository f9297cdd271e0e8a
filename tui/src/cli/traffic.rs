//! `veil traffic …`: its subcommands and flags.

use clap::{Args, Subcommand, ValueEnum};
use veil_shared::model::KeyRef;

use super::values;

/// `veil traffic [list|show|reset|sync|history]`; bare `veil traffic` lists.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TrafficArgs {
    #[command(subcommand)]
    pub command: Option<TrafficCommand>,
    #[command(flatten)]
    pub list: TrafficListArgs,
}

#[derive(Debug, Subcommand)]
pub enum TrafficCommand {
    /// Every key's totals and live rates (deleted keys only with --state deleted).
    #[command(visible_alias = "ls")]
    List(TrafficListArgs),
    /// One key: totals, rates, limit, expiry, reset schedule, online users, resets.
    Show(TrafficKey),
    /// Set a key's totals back to zero (logged with the usage cleared).
    Reset(TrafficKey),
    /// Read the core's counters now instead of waiting for the poller.
    Sync,
    /// A key's traffic over time, per minute, hour or day (UTC).
    History(HistoryArgs),
}

#[derive(Debug, Args)]
pub struct TrafficKey {
    /// The key's id, UUID or name.
    #[arg(value_name = "KEY", value_parser = values::key_ref)]
    pub key: KeyRef,
}

#[derive(Debug, Default, Args)]
pub struct TrafficListArgs {
    /// Only keys in this state.
    #[arg(long, value_enum)]
    pub state: Option<StateChoice>,
    /// Only keys whose name, note or UUID contains TEXT (any case).
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Order: id, usage (most first), rate (fastest first), active (latest first).
    #[arg(long, value_enum, default_value_t = SortChoice::Id)]
    pub sort: SortChoice,
    /// Show at most N keys.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Skip the first N keys.
    #[arg(long, value_name = "N")]
    pub offset: Option<u64>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The key's id, UUID or name.
    #[arg(value_name = "KEY", value_parser = values::key_ref)]
    pub key: KeyRef,
    /// Bucket size.
    #[arg(long, value_enum, default_value_t = ByChoice::Hour)]
    pub by: ByChoice,
    /// Start: a date (2026-11-26: the START of that day, UTC), a date and time
    /// (2026-11-26T18:30 UTC, or RFC 3339), or a span back from now (90m, 12h, 7d).
    #[arg(long, value_name = "WHEN", value_parser = values::since)]
    pub since: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StateChoice {
    Active,
    Disabled,
    Deleted,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum SortChoice {
    #[default]
    Id,
    Usage,
    Rate,
    Active,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ByChoice {
    Minute,
    Hour,
    Day,
}
