//! One model of the core's config: the typed reader of the managed inbound, shared by the
//! daemon's config writer, share links and client configs, `veil init` and the doctor.
//!
//! - [`parse`]: the file's bytes to a JSON value, with the comments the cores accept.
//! - [`find_inbound`] and [`ManagedInbound::read`]: the one inbound Veil manages (by tag):
//!   port, listen, the flow every key gets, its clients, and its stream settings
//!   ([`StreamSettings`], with [`RealitySettings`] when it speaks REALITY).
//! - [`Flavor`]: which core reads the config (Xray or Debian's v2ray 4.x).
//! - [`layout`]: who may read and replace the file on a server (group, modes, the fix).
//! - What Veil writes and recommends: [`MIN_CLIENT_VERSION`], [`PHONE_POLICY_VALUES`].
//!
//! Everything here is pure: values in, values out, no I/O. The reader is strict where the
//! daemon must refuse a file (a client without an id, a client list that is not an array)
//! and lenient where the doctor explains the problem instead (REALITY's own settings are
//! read as found; the link endpoint and the doctor judge them).

mod client;
mod flavor;
mod inbound;
mod json;
pub mod layout;
mod stream;
mod text;

pub use self::client::InboundClient;
pub use self::flavor::Flavor;
pub use self::inbound::{InboundError, ManagedInbound, clients_key, find_inbound};
pub use self::json::{json_type, single_port, strings};
pub use self::stream::{RealitySettings, StreamSettings};
pub use self::text::{ParseError, ParsedConfig, parse, strip_comments};

/// The phone-friendly policy of level 0 that Veil writes and the doctor recommends
/// (phones switching networks reconnect faster), as `(key, value)`.
pub const PHONE_POLICY_VALUES: &[(&str, u64)] = &[
    ("handshake", 4),
    ("connIdle", 300),
    ("uplinkOnly", 2),
    ("downlinkOnly", 5),
];

/// The `minClientVer` Veil writes: old enough for sing-box based clients (1.8.1).
pub const MIN_CLIENT_VERSION: &str = "1.8.0";
