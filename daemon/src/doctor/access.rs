//! Who may use the core's config on the machine: the core's user must read it (through
//! every directory above it) and veild must replace it (create, rename and delete files in
//! its directory). The core's user comes from its systemd unit ([`super::unit`]).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::unistd::{AccessFlags, Uid, access};
use veil_shared::api::Finding;
use veil_shared::coreconfig::layout;

use super::names::{CORE_ACCESS, CORE_CONFIG_WRITABLE, VEILD_UNIT};
use super::unit::{self, Identity, Lookup};
use crate::config::Config;

const READ: u32 = 4;
const WRITE: u32 = 2;
const SEARCH: u32 = 1;

/// `owner:group mode` of a file, for messages.
fn describe(meta: &std::fs::Metadata) -> String {
    let name = |uid| {
        nix::unistd::User::from_uid(Uid::from_raw(uid))
            .ok()
            .flatten()
            .map_or_else(|| uid.to_string(), |u| u.name)
    };
    let group = |gid| {
        nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
            .ok()
            .flatten()
            .map_or_else(|| gid.to_string(), |g| g.name)
    };
    format!(
        "{}:{} {:04o}",
        name(meta.uid()),
        group(meta.gid()),
        meta.mode() & 0o7777
    )
}

/// What `id` may not do on the way to `want` on `path`: search every directory above it,
/// then `want` on the path itself. Empty when everything is allowed.
fn denied(id: &Identity, path: &Path, want: u32) -> Vec<String> {
    let mut out = Vec::new();
    let dirs: Vec<&Path> = path.ancestors().skip(1).collect();
    for dir in dirs.into_iter().rev() {
        if dir.as_os_str().is_empty() {
            continue;
        }
        if let Ok(meta) = std::fs::metadata(dir)
            && !id.may(meta.uid(), meta.gid(), meta.mode(), SEARCH)
        {
            out.push(format!("enter {} ({})", dir.display(), describe(&meta)));
        }
    }
    if let Ok(meta) = std::fs::metadata(path)
        && !id.may(meta.uid(), meta.gid(), meta.mode(), want)
    {
        let verb = if want == READ { "read" } else { "write in" };
        out.push(format!("{verb} {} ({})", path.display(), describe(&meta)));
    }
    out
}

fn config_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The core's unit resolved to an identity, or the finding that says why it is not.
async fn core_identity(config: &Config) -> Result<Identity, Finding> {
    let unit = config.core_unit();
    let path = &config.core.config;
    let settings = match unit::lookup(unit).await {
        Lookup::Found(s) => s,
        Lookup::NotFound(place) => {
            return Err(Finding::info(
                CORE_ACCESS,
                format!(
                    "{place}: whether the core's user can read {} was not checked",
                    path.display()
                ),
                "if systemd runs the core under another name, set [core] unit in veild.toml",
            ));
        }
        Lookup::Failed(e) => {
            return Err(Finding::warning(
                CORE_ACCESS,
                format!("cannot read the core's unit {unit}: {e}"),
                format!("check `systemctl cat {unit}`"),
            ));
        }
    };
    if settings.dynamic_user {
        return Err(Finding::info(
            CORE_ACCESS,
            format!("{unit} uses DynamicUser=: its user exists only while it runs, not checked"),
            format!(
                "give the unit SupplementaryGroups={} and the layout below",
                layout::GROUP
            ),
        ));
    }
    unit::resolve(&settings).map_err(|e| {
        Finding::error(
            CORE_ACCESS,
            format!("{unit} ({}): {e}; the core does not start", settings.source),
            format!(
                "create what is missing (e.g. groupadd --system {}; scripts/install and the \
                 package do) or correct the unit's drop-in",
                layout::GROUP
            ),
        )
    })
}

/// The core's user (from its unit) can read its config through every directory above it;
/// else at its next restart the core exits 23 and `RestartPreventExitStatus=23` keeps it
/// down.
pub(super) async fn check_core_access(config: &Config, out: &mut Vec<Finding>) {
    let path = &config.core.config;
    if !path.exists() {
        return; // reported by core_config
    }
    let id = match core_identity(config).await {
        Ok(id) => id,
        Err(finding) => return out.push(finding),
    };
    let steps = denied(&id, path, READ);
    if steps.is_empty() {
        return;
    }
    let unit = config.core_unit();
    out.push(Finding::error(
        CORE_ACCESS,
        format!(
            "the core ({unit}: {}) cannot {}: at its next restart it exits 23 and stays down \
             (RestartPreventExitStatus=23)",
            id.label,
            steps.join(", ")
        ),
        format!(
            "give the core's directory the shared group (veild's unit is in it too):\n{}",
            layout::fix_commands(config_dir(path), path, unit, layout::GROUP)
        ),
    ));
}

/// veild can replace the config: create, rename and delete files in its directory (the
/// file itself is never written in place). Live, veild checks as itself; offline as root,
/// as the user of `veild.service` when that unit exists, else as whoever runs the check.
pub(super) async fn check_replace(config: &Config, live: bool, out: &mut Vec<Finding>) {
    let path = &config.core.config;
    let dir = config_dir(path);
    if !dir.exists() {
        return; // reported by core_config
    }
    let unit_id = if !live && Uid::effective().is_root() {
        match unit::lookup(VEILD_UNIT).await {
            Lookup::Found(s) => unit::resolve(&s).ok(),
            _ => None,
        }
    } else {
        None
    };
    let (who, steps) = match unit_id {
        Some(id) => (
            format!("veild ({VEILD_UNIT}: {})", id.label),
            denied(&id, dir, WRITE | SEARCH),
        ),
        None => {
            let steps = access(dir, AccessFlags::W_OK | AccessFlags::X_OK)
                .err()
                .map(|e| format!("write in {}: {}", dir.display(), e.desc()))
                .into_iter()
                .chain(sticky(dir, path))
                .collect();
            (format!("veild (uid {})", Uid::effective()), steps)
        }
    };
    if steps.is_empty() {
        return;
    }
    out.push(Finding::error(
        CORE_CONFIG_WRITABLE,
        format!(
            "{who} cannot {}: keys would stay pending and a restarted core would lose them",
            steps.join(", ")
        ),
        format!(
            "chgrp {g} {d} && chmod {m:o} {d}, with veild in group {g} (the shipped \
             veild.service has SupplementaryGroups={g})",
            g = layout::GROUP,
            d = dir.display(),
            m = layout::DIR_MODE
        ),
    ));
}

/// In a sticky directory only the file's or the directory's owner may rename over it.
fn sticky(dir: &Path, path: &Path) -> Option<String> {
    let d = std::fs::metadata(dir).ok()?;
    let f = std::fs::metadata(path).ok()?;
    let me = Uid::effective().as_raw();
    (d.mode() & 0o1000 != 0 && f.uid() != me && d.uid() != me && me != 0).then(|| {
        format!(
            "replace {} in the sticky directory {}",
            path.display(),
            dir.display()
        )
    })
}
