//! Who may read and replace the core's config on a server. The official Xray installer runs
//! the core as `nobody`, and veild runs as `veil`: they share a group that owns the config's
//! directory (setgid, so every file created in it gets the group), files are group-readable
//! and nothing is open to other users. `veil init`, `scripts/install` and the package set
//! this layout up; the doctor checks it and prints [`fix_commands`] when it is off.

use std::path::Path;

/// The group the core's config directory belongs to; veild and the core are both members.
pub const GROUP: &str = "xray-config";
/// The directory: owner and group may create, rename and delete files; setgid.
pub const DIR_MODE: u32 = 0o2770;
/// Files in it: the owner writes, the group (the core) reads, others nothing.
pub const FILE_MODE: u32 = 0o640;
/// The drop-in that adds the core's unit to [`GROUP`] (never edit the installer's own unit:
/// it is rewritten on upgrade).
pub const DROP_IN: &str = "50-veil.conf";

/// The shell commands (one per line) that give `dir` and `file` the layout for the core run
/// by `unit` and restart it.
#[must_use]
pub fn fix_commands(dir: &Path, file: &Path, unit: &str, group: &str) -> String {
    let dir = shell_word(&dir.to_string_lossy());
    let file = shell_word(&file.to_string_lossy());
    let unit = shell_word(unit);
    let group = shell_word(group);
    format!(
        "groupadd -f --system {group}\n\
         chgrp {group} {dir} {file} && chmod {DIR_MODE:o} {dir} && chmod {FILE_MODE:04o} {file}\n\
         mkdir -p /etc/systemd/system/{unit}.d\n\
         printf '[Service]\\nSupplementaryGroups={group}\\n' >/etc/systemd/system/{unit}.d/{DROP_IN}\n\
         systemctl daemon-reload && systemctl restart {unit}"
    )
}

/// `s` quoted for a POSIX shell when it holds anything but plain path characters.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_name_the_paths_and_quote_odd_ones() {
        let text = fix_commands(
            Path::new("/usr/local/etc/xray"),
            Path::new("/usr/local/etc/xray/it's.json"),
            "xray.service",
            GROUP,
        );
        assert!(text.contains("chmod 2770 /usr/local/etc/xray "), "{text}");
        assert!(
            text.contains(r"'/usr/local/etc/xray/it'\''s.json'"),
            "{text}"
        );
        assert!(
            text.contains("/etc/systemd/system/xray.service.d/50-veil.conf"),
            "{text}"
        );
        assert!(text.contains("SupplementaryGroups=xray-config"), "{text}");
    }
}
