//! The stable names of the doctor's machine checks (scripts match on them) and the bounds
//! the checks use.

use std::time::Duration;

pub const VEILD_CONFIG: &str = "veild_config";
pub const SOCKET_GROUP: &str = "socket_group";
pub const CORE_CONFIG: &str = "core_config";
pub const CORE_CONFIG_WRITABLE: &str = "core_config_writable";
pub const CORE_CONFIG_MODE: &str = "core_config_mode";
/// The core's user (from its systemd unit) can read its config.
pub const CORE_ACCESS: &str = "core_config_access";
pub const CORE_TEST: &str = "core_test";
pub const DATABASE: &str = "database";
pub const DATABASE_MODE: &str = "database_mode";
pub const SOCKET: &str = "socket";
/// Disabling a key can end its open connections (`[core] disconnect`).
pub const DISCONNECT: &str = "disconnect";

/// veild's own unit, whose user the offline doctor checks as when run by root.
pub(super) const VEILD_UNIT: &str = "veild.service";
/// How long the core's `-test` may take.
pub(super) const TEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of `PRAGMA integrity_check` output quoted in a finding.
pub(super) const INTEGRITY_LINES: usize = 5;
