//! Checked before veild starts serving (the seed: no hard-coded paths, the configuration
//! validated at start, the REALITY key format included). Each failure refuses the start
//! with one line naming the setting, the file and the fix:
//!
//! - the core's `test_command` names a program that exists and can run;
//! - the managed inbound's REALITY settings hold: the private key decodes to 32 bytes,
//!   short ids are even-length hex of at most 16 characters, server names and the target
//!   are well-formed (the doctor's own checks, those that are errors);
//! - veild's user can write the database's directory and the core config's directory.
//!
//! Whether the core's API answers is not checked here: a core that is down is reported by
//! `health` and changes wait for it.

use std::path::{Path, PathBuf};

use nix::unistd::{AccessFlags, access};
use serde_json::Value;
use veil_shared::doctor::Severity;

use crate::config::Config;
use crate::doctor::{CoreFacts, check_core_config, checks};

/// The REALITY checks whose errors stop the start (a link built from such an inbound
/// cannot connect).
const REALITY_CHECKS: &[&str] = &[
    checks::REALITY_ON_V2FLY,
    checks::TARGET,
    checks::SERVER_NAMES,
    checks::PRIVATE_KEY,
    checks::SHORT_IDS,
];

/// Runs every start-up check; the first failure is the error.
pub fn check(config: &Config, config_path: &Path, core_root: &Value) -> Result<(), String> {
    check_test_command(config, config_path)?;
    check_reality(config, core_root)?;
    check_writable(
        "database",
        &config.database,
        config_path,
        "give veild's user the directory (chown veil: DIR), or set database to a path it owns",
    )?;
    check_writable(
        "core.config",
        &config.core.config,
        config_path,
        "let veild's user write the directory (e.g. a group both veild and the core are in, \
         mode 2770), or run `veil doctor`",
    )?;
    Ok(())
}

/// The program of `test_command`: a path that is an executable file, or a name on PATH.
fn find_program(program: &str) -> Option<PathBuf> {
    let runnable = |p: &Path| p.is_file() && access(p, AccessFlags::X_OK).is_ok();
    if program.contains('/') {
        let path = PathBuf::from(program);
        return runnable(&path).then_some(path);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| runnable(p))
    })
}

fn check_test_command(config: &Config, config_path: &Path) -> Result<(), String> {
    let command = config.test_command();
    let Some(program) = command.first() else {
        return Ok(()); // refused by the config check already
    };
    if find_program(program).is_some() {
        return Ok(());
    }
    Err(format!(
        "core.test_command = {command:?} in {}: '{program}' is not an executable file nor a \
         program on PATH; install the core, or set test_command to the core's binary",
        config_path.display()
    ))
}

fn check_reality(config: &Config, root: &Value) -> Result<(), String> {
    let facts = CoreFacts {
        flavor: config.core.flavor,
        inbound_tag: &config.core.inbound_tag,
        api: &config.core.api,
    };
    let refused = check_core_config(root, &facts)
        .into_iter()
        .find(|f| f.severity == Severity::Error && REALITY_CHECKS.contains(&f.check.as_str()));
    match refused {
        None => Ok(()),
        Some(f) => Err(format!(
            "core config {} (inbound \"{}\"): {}; fix: {}",
            config.core.config.display(),
            config.core.inbound_tag,
            f.problem,
            f.fix
        )),
    }
}

fn check_writable(key: &str, file: &Path, config_path: &Path, fix: &str) -> Result<(), String> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("/"));
    // A database directory that does not exist yet is created by veild (its parent must
    // then be writable); the core's directory must exist.
    let probe = if dir.exists() || key == "core.config" {
        dir
    } else {
        dir.ancestors()
            .find(|a| a.exists())
            .unwrap_or(Path::new("/"))
    };
    match access(probe, AccessFlags::W_OK | AccessFlags::X_OK) {
        Ok(()) => Ok(()),
        Err(e) => Err(format!(
            "{key} = {} in {}: veild's user (uid {}) cannot write {} ({e}); {fix}",
            file.display(),
            config_path.display(),
            nix::unistd::geteuid(),
            probe.display()
        )),
    }
}
