//! `veil key …`: its subcommands and flags.

use clap::{Args, Subcommand, ValueEnum};
use veil_shared::api::{BULK_MAX, KeyCreate, KeyUpdate};
use veil_shared::model::{KeyRef, KeyState};
use veil_shared::traffic::ResetSchedule;

use super::values;

/// How a name that starts with `-` is given (every key command takes it the same way).
pub const HYPHEN_NAMES: &str = "A name that starts with '-' goes after '--', which ends the \
options: veil key add -- -phone; veil key show -- -phone.";

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create one key by name, or COUNT keys named PREFIX-N.
    #[command(after_help = HYPHEN_NAMES)]
    Add(AddArgs),
    /// List keys (deleted ones only with --state deleted).
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show one key.
    Show(KeyArg),
    /// Rename a key.
    Rename {
        #[arg(value_name = "KEY", value_parser = values::key_ref)]
        key: KeyRef,
        /// The new name.
        #[arg(value_name = "NEW")]
        name: String,
    },
    /// Set a key's note; an empty TEXT ("") clears it.
    Note {
        #[arg(value_name = "KEY", value_parser = values::key_ref)]
        key: KeyRef,
        #[arg(value_name = "TEXT")]
        text: String,
    },
    /// Disable a key: its user is removed from the core.
    Disable(KeyArg),
    /// Enable a disabled key again.
    Enable(KeyArg),
    /// Delete a key for good.
    #[command(visible_alias = "delete")]
    Rm(KeyArg),
    /// Give a key a new UUID: the old one stops working; name and limits stay.
    Rotate(KeyArg),
    /// Change a key's data limit, expiry or traffic reset schedule (and name or note).
    #[command(visible_alias = "set")]
    Update(UpdateArgs),
    /// Print the key's vless:// share link.
    Link(KeyArg),
    /// Print a complete client config (JSON) for Xray-based clients.
    Config(ConfigArgs),
    /// Draw the key's share link as a QR code, for a phone to scan.
    Qr(QrArgs),
    /// Print the key's subscription URL (made if it has none) and its QR code; phone apps
    /// refresh the profile from it by themselves.
    Sub(SubArgs),
}

#[derive(Debug, Args)]
pub struct SubArgs {
    /// The key's id, UUID or name.
    #[arg(value_name = "KEY", value_parser = values::key_ref)]
    pub key: KeyRef,
    /// Replace the URL: the old one stops working at once.
    #[arg(long, conflicts_with = "revoke")]
    pub rotate: bool,
    /// End the URL: fetching it answers 404 (`veil key sub KEY` later makes a new one).
    #[arg(long)]
    pub revoke: bool,
    /// Draw the QR code for a light-background terminal.
    #[arg(long)]
    pub invert: bool,
    /// Print the URL only, without the QR code.
    #[arg(long)]
    pub no_qr: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The key's id, UUID or name.
    #[arg(value_name = "KEY", value_parser = values::key_ref)]
    pub key: KeyRef,
    /// The local SOCKS5 port [default: 10808].
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub socks_port: Option<u16>,
    /// The local HTTP proxy port [default: 10809].
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub http_port: Option<u16>,
}

#[derive(Debug, Args)]
pub struct QrArgs {
    /// The key's id, UUID or name.
    #[arg(value_name = "KEY", value_parser = values::key_ref)]
    pub key: KeyRef,
    /// Draw for a light-background terminal (dark modules as blocks).
    #[arg(long)]
    pub invert: bool,
}

/// One key, by id, UUID or name.
#[derive(Debug, Args)]
pub struct KeyArg {
    /// The key's id, UUID or name.
    #[arg(value_name = "KEY", value_parser = values::key_ref)]
    pub key: KeyRef,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The new key's name.
    #[arg(required_unless_present = "count", conflicts_with = "count")]
    pub name: Option<String>,

    /// A free-text note for the new key.
    #[arg(long, value_name = "TEXT", conflicts_with = "count")]
    pub note: Option<String>,

    /// Create this many keys at once (all or none); needs --prefix.
    #[arg(
        long,
        value_name = "N",
        requires = "prefix",
        value_parser = clap::value_parser!(u32).range(1..=i64::from(BULK_MAX))
    )]
    pub count: Option<u32>,

    /// Name bulk keys PREFIX-N, numbering on from the highest that exists.
    #[arg(long, value_name = "P", requires = "count")]
    pub prefix: Option<String>,

    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only keys in this state (without it, deleted keys are left out).
    #[arg(long, value_enum)]
    pub state: Option<StateArg>,

    /// Only keys whose name, note or UUID contains TEXT (any case).
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,

    /// Skip the first N matching keys.
    #[arg(long, value_name = "N")]
    pub offset: Option<u64>,

    /// Show at most N keys.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

/// `KeyState` as a clap value, so `--help` lists the choices and a typo names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    Active,
    Disabled,
    Deleted,
}

impl From<StateArg> for KeyState {
    fn from(state: StateArg) -> Self {
        match state {
            StateArg::Active => KeyState::Active,
            StateArg::Disabled => KeyState::Disabled,
            StateArg::Deleted => KeyState::Deleted,
        }
    }
}

/// `--limit`, `--expires`, `--reset` of `veil key add`.
#[derive(Debug, Default, Args)]
pub struct LimitArgs {
    /// Data limit (uplink + downlink since the last reset): 10GB, 50GiB, 1.5TiB, bytes.
    /// GB = 10^9 bytes, GiB (or G) = 2^30 bytes; likewise KB/KiB, MB/MiB, TB/TiB; any case.
    #[arg(long, value_name = "SIZE", value_parser = values::limit, conflicts_with = "count")]
    pub limit: Option<values::Limit>,
    /// Expiry: a date (2027-01-31: the END of that day, 23:59:59 UTC, so the key works all
    /// of the 31st), a date and time (2027-01-31T18:30 UTC, or RFC 3339 such as
    /// 2027-01-31T18:30:00Z), or a span from now (30d, 12h, 90m, 2w).
    #[arg(long, value_name = "WHEN", value_parser = values::expires, conflicts_with = "count")]
    pub expires: Option<values::Expiry>,
    /// Reset the totals periodically: none, daily, weekly:mon…sun, monthly:1…31 (UTC).
    #[arg(long, value_name = "SCHEDULE", value_parser = values::schedule, conflicts_with = "count")]
    pub reset: Option<ResetSchedule>,
    /// A fleet node: the nodes the key is on, comma-separated (default: every node).
    #[arg(
        long,
        value_name = "NODE,…",
        value_delimiter = ',',
        conflicts_with = "count"
    )]
    pub nodes: Option<Vec<String>>,
}

/// `veil key update KEY …`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("change").required(true).multiple(true)
    .args(["name", "note", "limit", "expires", "reset", "nodes"])))]
pub struct UpdateArgs {
    /// The key's id, UUID or name.
    #[arg(value_name = "KEY", value_parser = values::key_ref)]
    pub key: KeyRef,
    /// A new name.
    #[arg(long, value_name = "NEW")]
    pub name: Option<String>,
    /// A new note ("" clears it).
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Data limit as for `key add` (GB = 10^9 bytes, GiB = 2^30), or `none` for unlimited.
    /// Raising it enables a key that was disabled for its limit.
    #[arg(long, value_name = "SIZE|none", value_parser = values::limit)]
    pub limit: Option<values::Limit>,
    /// Expiry as for `key add` (a date is the end of that day UTC; 30d is from now), or
    /// `never`. Extending it enables a key that had expired.
    #[arg(long, value_name = "WHEN|never", value_parser = values::expires)]
    pub expires: Option<values::Expiry>,
    /// Reset schedule as for `key add`.
    #[arg(long, value_name = "SCHEDULE", value_parser = values::schedule)]
    pub reset: Option<ResetSchedule>,
    /// A fleet node: the nodes the key is on, comma-separated, or `all` for every node.
    #[arg(long, value_name = "NODE,…|all", value_delimiter = ',')]
    pub nodes: Option<Vec<String>>,
}

impl AddArgs {
    /// The `key.create` call for a named key; `None` for a bulk add (`--count`).
    pub fn create_params(&self) -> Option<KeyCreate> {
        Some(KeyCreate {
            name: self.name.clone()?,
            note: self.note.clone(),
            data_limit: self.limits.limit.and_then(|l| l.0),
            expires_at: self.limits.expires.and_then(|e| e.0),
            reset: self.limits.reset,
            nodes: self.limits.nodes.clone(),
        })
    }
}

impl UpdateArgs {
    pub fn into_params(self) -> KeyUpdate {
        KeyUpdate {
            key: self.key,
            name: self.name,
            note: self.note,
            data_limit: self.limit.map(|l| l.0),
            expires_at: self.expires.map(|e| e.0),
            reset: self.reset,
            // `all` (alone) puts the key back on every node.
            nodes: self
                .nodes
                .map(|nodes| if nodes == ["all"] { None } else { Some(nodes) }),
        }
    }
}
