//! Who a systemd unit's processes run as: `User=`, `Group=` and `SupplementaryGroups=`, read
//! with `systemctl show` when systemd runs, else from the unit file and its drop-ins (in
//! `$SYSTEMD_UNIT_PATH` when that is set, as systemd itself reads it), and resolved to ids.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::unistd::{Gid, Group, Uid, User, getgrouplist};

/// How long `systemctl show` may take.
const SHOW_TIMEOUT: Duration = Duration::from_secs(10);
/// Where systemd looks for unit files when `$SYSTEMD_UNIT_PATH` is unset, first wins.
const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// A unit's identity settings as written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Settings {
    pub user: Option<String>,
    pub group: Option<String>,
    pub supplementary: Vec<String>,
    pub dynamic_user: bool,
    /// Where they were read: `systemctl show UNIT` or the files.
    pub source: String,
}

/// What looking a unit up found.
#[derive(Debug)]
pub enum Lookup {
    Found(Settings),
    /// No such unit; says where it was looked for.
    NotFound(String),
    /// Looking failed (systemctl did not answer, a file did not read).
    Failed(String),
}

/// A resolved identity: the uid and every gid its processes carry.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `User=nobody, groups nogroup xray-config`, for messages.
    pub label: String,
    pub uid: u32,
    pub gids: Vec<u32>,
}

impl Identity {
    /// Whether this identity may `want` (4 read, 2 write, 1 search/execute) a file with
    /// `owner`, `group` and `mode`, by the permission bits (root may everything).
    pub fn may(&self, owner: u32, group: u32, mode: u32, want: u32) -> bool {
        let bits = if self.uid == 0 {
            return true;
        } else if owner == self.uid {
            mode >> 6
        } else if self.gids.contains(&group) {
            mode >> 3
        } else {
            mode
        };
        bits & want == want
    }
}

/// Reads `unit`'s settings: from systemd when it runs (and `$SYSTEMD_UNIT_PATH` is unset),
/// else from the files.
pub async fn lookup(unit: &str) -> Lookup {
    let path_override = std::env::var_os("SYSTEMD_UNIT_PATH").is_some();
    if !path_override && Path::new("/run/systemd/system").is_dir() {
        return show(unit).await;
    }
    let unit = unit.to_owned();
    tokio::task::spawn_blocking(move || from_files(&unit, &unit_dirs()))
        .await
        .unwrap_or_else(|e| Lookup::Failed(format!("the lookup task failed: {e}")))
}

async fn show(unit: &str) -> Lookup {
    let mut command = tokio::process::Command::new("systemctl");
    command
        .args([
            "show",
            "--property=LoadState,User,Group,SupplementaryGroups,DynamicUser",
            "--",
            unit,
        ])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = match tokio::time::timeout(SHOW_TIMEOUT, command.output()).await {
        Ok(Ok(out)) if out.status.success() => out,
        Ok(Ok(out)) => {
            return Lookup::Failed(format!(
                "systemctl show {unit} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Err(e)) => return Lookup::Failed(format!("cannot run systemctl: {e}")),
        Err(_) => return Lookup::Failed(format!("systemctl show {unit} did not answer")),
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let mut settings = Settings {
        source: format!("systemctl show {unit}"),
        ..Settings::default()
    };
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key {
            "LoadState" if value == "not-found" => {
                return Lookup::NotFound(format!("systemd has no unit {unit}"));
            }
            "User" if !value.is_empty() => settings.user = Some(value.to_owned()),
            "Group" if !value.is_empty() => settings.group = Some(value.to_owned()),
            "SupplementaryGroups" => {
                settings.supplementary = value.split_whitespace().map(str::to_owned).collect();
            }
            "DynamicUser" => settings.dynamic_user = value == "yes",
            _ => {}
        }
    }
    Lookup::Found(settings)
}

fn unit_dirs() -> Vec<PathBuf> {
    let defaults = || UNIT_DIRS.iter().map(PathBuf::from);
    match std::env::var("SYSTEMD_UNIT_PATH") {
        Ok(value) => {
            // As systemd: a trailing ':' appends the usual directories.
            let mut dirs: Vec<PathBuf> = value
                .split(':')
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .collect();
            if value.ends_with(':') {
                dirs.extend(defaults());
            }
            dirs
        }
        Err(_) => defaults().collect(),
    }
}

/// `name@instance.service` → `name@.service`.
fn template_of(unit: &str) -> Option<String> {
    let (prefix, rest) = unit.split_once('@')?;
    let (_, suffix) = rest.rsplit_once('.')?;
    Some(format!("{prefix}@.{suffix}"))
}

/// Reads the unit file (the first found along `dirs`) and its `*.conf` drop-ins (a name in
/// an earlier directory hides the same name in a later one; applied in name order).
pub fn from_files(unit: &str, dirs: &[PathBuf]) -> Lookup {
    let mut names = vec![unit.to_owned()];
    names.extend(template_of(unit));
    let Some(main) = names
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
    else {
        let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        return Lookup::NotFound(format!("no {unit} in {}", looked.join(", ")));
    };
    let mut drop_ins: BTreeMap<String, PathBuf> = BTreeMap::new();
    for name in names.iter().rev() {
        for dir in dirs.iter().rev() {
            let Ok(entries) = std::fs::read_dir(dir.join(format!("{name}.d"))) else {
                continue;
            };
            for entry in entries.flatten() {
                let file_name = entry.file_name().to_string_lossy().into_owned();
                if file_name.ends_with(".conf") {
                    drop_ins.insert(file_name, entry.path());
                }
            }
        }
    }
    let mut settings = Settings::default();
    let mut read = Vec::new();
    for path in std::iter::once(main).chain(drop_ins.into_values()) {
        match std::fs::read_to_string(&path) {
            Ok(text) => apply(&mut settings, &text),
            Err(e) => return Lookup::Failed(format!("cannot read {}: {e}", path.display())),
        }
        read.push(path.display().to_string());
    }
    settings.source = read.join(" + ");
    Lookup::Found(settings)
}

/// Applies one file's `[Service]` identity lines (an empty assignment resets, as systemd).
fn apply(settings: &mut Settings, text: &str) {
    let mut in_service = false;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let mut line = line.trim().to_owned();
        while line.ends_with('\\') {
            line.pop();
            line.push(' ');
            match lines.next() {
                Some(next) => line.push_str(next.trim()),
                None => break,
            }
        }
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            in_service = line == "[Service]";
            continue;
        }
        if !in_service {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let one = || (!value.is_empty()).then(|| value.to_owned());
        match key.trim() {
            "User" => settings.user = one(),
            "Group" => settings.group = one(),
            "SupplementaryGroups" if value.is_empty() => settings.supplementary.clear(),
            "SupplementaryGroups" => settings
                .supplementary
                .extend(value.split_whitespace().map(str::to_owned)),
            "DynamicUser" => {
                settings.dynamic_user = matches!(value, "yes" | "true" | "on" | "1");
            }
            _ => {}
        }
    }
}

fn group_id(name: &str) -> Result<Gid, String> {
    if let Ok(n) = name.parse::<u32>() {
        return Ok(Gid::from_raw(n));
    }
    match Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid),
        Ok(None) => Err(format!("no such group {name}")),
        Err(e) => Err(format!("looking up group {name}: {e}")),
    }
}

fn group_name(gid: u32) -> String {
    match Group::from_gid(Gid::from_raw(gid)) {
        Ok(Some(g)) => g.name,
        _ => gid.to_string(),
    }
}

/// The uid and gids the unit's processes get: `User=` (root when unset) with its own
/// groups (systemd calls initgroups), `Group=` instead of its primary group, and
/// `SupplementaryGroups=`.
pub fn resolve(settings: &Settings) -> Result<Identity, String> {
    let name = settings.user.as_deref().unwrap_or("root");
    let user = match name.parse::<u32>() {
        Ok(n) => User::from_uid(Uid::from_raw(n)),
        Err(_) => User::from_name(name),
    }
    .map_err(|e| format!("looking up user {name}: {e}"))?
    .ok_or_else(|| format!("User={name}: no such user"))?;
    let primary = match &settings.group {
        Some(g) => group_id(g).map_err(|e| format!("Group={g}: {e}"))?,
        None => user.gid,
    };
    let mut gids = vec![primary.as_raw()];
    if let Ok(cname) = CString::new(user.name.clone())
        && let Ok(list) = getgrouplist(&cname, primary)
    {
        gids.extend(list.into_iter().map(Gid::as_raw));
    }
    for g in &settings.supplementary {
        let gid = group_id(g).map_err(|e| format!("SupplementaryGroups={g}: {e}"))?;
        gids.push(gid.as_raw());
    }
    gids.sort_unstable();
    gids.dedup();
    let names: Vec<String> = gids.iter().map(|g| group_name(*g)).collect();
    Ok(Identity {
        label: format!("User={}, groups {}", user.name, names.join(" ")),
        uid: user.uid.as_raw(),
        gids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_ins_add_groups_and_empty_assignments_reset() {
        let mut s = Settings::default();
        apply(
            &mut s,
            "[Unit]\nUser=wrong\n[Service]\nUser=nobody\n# User=root\nSupplementaryGroups=a \\\n b\n",
        );
        assert_eq!(s.user.as_deref(), Some("nobody"));
        assert_eq!(s.supplementary, ["a", "b"]);
        apply(
            &mut s,
            "[Service]\nSupplementaryGroups=\nSupplementaryGroups=c\nUser=\n",
        );
        assert_eq!(s.supplementary, ["c"]);
        assert_eq!(s.user, None);
    }

    #[test]
    fn files_are_found_with_their_drop_ins_in_name_order() {
        let root = std::env::temp_dir().join(format!("veil-unit-{}", std::process::id()));
        let (etc, lib) = (root.join("etc"), root.join("lib"));
        std::fs::create_dir_all(etc.join("core.service.d")).unwrap();
        std::fs::create_dir_all(lib.join("core.service.d")).unwrap();
        std::fs::write(lib.join("core.service"), "[Service]\nUser=nobody\n").unwrap();
        std::fs::write(
            lib.join("core.service.d/50-veil.conf"),
            "[Service]\nSupplementaryGroups=hidden\n",
        )
        .unwrap();
        std::fs::write(
            etc.join("core.service.d/50-veil.conf"),
            "[Service]\nSupplementaryGroups=shared\n",
        )
        .unwrap();
        std::fs::write(
            etc.join("core.service.d/90-group.conf"),
            "[Service]\nGroup=nogroup\n",
        )
        .unwrap();
        let found = from_files("core.service", &[etc, lib]);
        let _ = std::fs::remove_dir_all(&root);
        let Lookup::Found(s) = found else {
            panic!("not found: {found:?}")
        };
        assert_eq!(s.user.as_deref(), Some("nobody"));
        assert_eq!(s.group.as_deref(), Some("nogroup"));
        assert_eq!(s.supplementary, ["shared"]);
        assert!(matches!(
            from_files("absent.service", &[root]),
            Lookup::NotFound(_)
        ));
    }

    #[test]
    fn permission_bits_by_owner_group_other() {
        let id = Identity {
            label: String::new(),
            uid: 65534,
            gids: vec![65534, 990],
        };
        assert!(!id.may(0, 0, 0o600, 4));
        assert!(id.may(0, 990, 0o640, 4));
        assert!(!id.may(0, 990, 0o640, 2));
        assert!(id.may(65534, 0, 0o400, 4));
        assert!(!id.may(65534, 990, 0o040, 4), "the owner's bits decide");
        assert!(id.may(0, 0, 0o751, 1));
        assert!(template_of("xray@main.service").as_deref() == Some("xray@.service"));
    }
}
