//! Everything `veild` and its clients must agree on.
//!
//! - [`rpc`]: the JSON-RPC 2.0 envelope (requests, responses, notifications, errors).
//! - [`actor`]: who made a change (socket peer, API token, veild itself).
//! - [`api`]: every method's parameters and result, and every event, as typed structs.
//! - [`model`]: the key model (states, reasons, identifiers).
//! - [`disconnect`]: cutting removed keys' connections, as `health` and events say it.
//! - [`validate`]: input rules for names, ids and UUIDs, applied to every input before use.
//! - [`framing`]: newline-delimited framing with a line cap.
//! - [`client`]: an async client for the socket, used by the CLI, the dashboard and tests.
//! - [`traffic`]: per-key traffic, history, resets and online users on the wire.
//! - [`coreconfig`]: the one model of the core's config (the managed inbound, its REALITY
//!   settings) and the one [`coreconfig::Flavor`] type.
//! - [`realitykey`]: REALITY's X25519 keys and short ids (read by the core-config model).
//! - [`reality`]: REALITY keys (X25519) and the endpoint clients dial, built from that model.
//! - [`link`]: `vless://` share links; [`clientconfig`]: client configs; [`qr`]: QR codes.
//! - [`subscription`]: subscription bodies (base64 links, sing-box, mihomo, Xray) and headers.
//! - [`doctor`]: the doctor's report on the wire (the checks run in the daemon).
//! - [`logline`]: log lines that cannot forge lines, reach a terminal raw or leak a UUID.
//! - [`token`]: API tokens of the HTTP API and its part of `health`.
//! - [`webhook`]: webhooks' delivery status (`webhook.list`, `health`).

pub mod actor;
pub mod api;
pub mod client;
pub mod clientconfig;
pub mod coreconfig;
pub mod disconnect;
pub mod doctor;
pub mod fleet;
pub mod framing;
pub mod link;
pub mod logline;
pub mod model;
pub mod qr;
pub mod reality;
pub mod realitykey;
pub mod rpc;
pub mod subscription;
pub mod token;
pub mod traffic;
pub mod validate;
pub mod webhook;

/// The socket protocol version. Bumped on any incompatible change; `hello` returns it and
/// clients refuse to talk to a daemon with another version.
pub const PROTOCOL_VERSION: u32 = 1;

/// Additions within [`PROTOCOL_VERSION`]: new members and kinds an older client may ignore.
/// 1: actors have a `kind` (peer, token, daemon); audit entries carry the actor; the
/// error code `too_many_connections`; numeric request ids must be exact integers.
pub const PROTOCOL_MINOR: u32 = 1;

/// The largest request line the daemon reads (1 MiB, newline excluded). A longer line is
/// answered with an `invalid_input` error and skipped; the connection stays usable.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Where `veild` listens and `veil` connects when nothing else is said.
pub const DEFAULT_SOCKET: &str = "/run/veil/veil.sock";

/// The environment variable that overrides the socket path for `veil`.
pub const SOCKET_ENV: &str = "VEIL_SOCKET";

/// This build's version, reported in `hello` and `health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
