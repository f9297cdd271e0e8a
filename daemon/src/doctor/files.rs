//! The core's config file on the machine: readable and parseable, not world-readable, and
//! accepted by the core's own `-test` (who may read and replace it: `access`).

use std::os::unix::fs::MetadataExt;

use serde_json::Value;
use veil_shared::api::Finding;

use super::names::{CORE_CONFIG, CORE_CONFIG_MODE, CORE_TEST, TEST_TIMEOUT};
use crate::config::Config;
use crate::corefile;

pub(super) async fn read_core_config(config: &Config, out: &mut Vec<Finding>) -> Option<Value> {
    let path = &config.core.config;
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(e) => {
            out.push(Finding::error(
                CORE_CONFIG,
                format!("cannot read the core config {}: {e}", path.display()),
                "set [core] config in veild.toml to the core's config file, readable by veild's \
                 user (`veil init` writes one)",
            ));
            return None;
        }
    };
    match corefile::parse_json(path, &bytes) {
        Ok(root) => Some(root),
        Err(e) => {
            out.push(Finding::error(
                CORE_CONFIG,
                e.to_string(),
                "repair the file (the latest good version is in its .bak.* backups beside it)",
            ));
            None
        }
    }
}

/// The config lists every client's UUID (each a credential) and may hold the REALITY
/// private key: nobody but its owner and group may read it (the seed's rule: files
/// holding secrets are not world-readable).
pub(super) fn check_config_mode(config: &Config, root: &Value, out: &mut Vec<Finding>) {
    let path = &config.core.config;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.mode() & 0o777;
    if mode & 0o007 == 0 {
        return;
    }
    let has_key = root["inbounds"].as_array().is_some_and(|list| {
        list.iter().any(|i| {
            i["streamSettings"]["realitySettings"]
                .get("privateKey")
                .is_some()
        })
    });
    let holds = if has_key {
        "every client's UUID and the REALITY private key"
    } else {
        "every client's UUID"
    };
    out.push(Finding::warning(
        CORE_CONFIG_MODE,
        format!(
            "the core config {} holds {holds} but is readable by every local user (mode \
             {mode:04o})",
            path.display()
        ),
        format!(
            "chmod o-rwx {} (0640 with a group the core's user is in; veild keeps the mode \
             when it rewrites the file)",
            path.display()
        ),
    ));
}

pub(super) async fn check_core_test(config: &Config, out: &mut Vec<Finding>) {
    let path = &config.core.config;
    if !path.exists() {
        return; // reported by core_config
    }
    let command = config.test_command();
    if let Err(e) = corefile::test_file(path, &command, TEST_TIMEOUT).await {
        out.push(Finding::error(
            CORE_TEST,
            format!("the core's own test refuses the config: {e}"),
            "fix what the core reports; if the core binary is elsewhere, set [core] test_command \
             in veild.toml (default: the flavor's `xray run -test -config {config}` or \
             `v2ray -test -config {config}`)",
        ));
    }
}
