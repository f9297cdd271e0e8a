//! Who may use the socket: root, the daemon's own user, and members of `socket_group`.
//!
//! The socket file's mode (0660, group `socket_group`) is the first gate; this check is the
//! second, so a mis-set mode or a socket passed through a more open directory still serves
//! no one else. Peer credentials come from SO_PEERCRED (uid, gid, pid at connect time).

use nix::unistd::{Gid, Group, Uid, User};
use veil_shared::api::Actor;

/// A connected client's credentials, read once at connect time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
}

impl Peer {
    /// The peer as the service and the audit trail name it.
    pub fn actor(self) -> Actor {
        Actor::Peer {
            uid: self.uid,
            gid: self.gid,
            pid: self.pid,
        }
    }
}

pub struct Access {
    pub group_name: String,
    pub gid: Gid,
    daemon_uid: Uid,
}

impl Access {
    /// Resolves the group now, so a missing group stops the daemon at start.
    pub fn new(group_name: &str) -> Result<Self, String> {
        let group = Group::from_name(group_name)
            .map_err(|e| format!("looking up group '{group_name}': {e}"))?
            .ok_or_else(|| {
                format!("socket_group = \"{group_name}\": no such group (create it with `groupadd --system {group_name}`)")
            })?;
        Ok(Self {
            group_name: group_name.to_owned(),
            gid: group.gid,
            daemon_uid: Uid::effective(),
        })
    }

    /// Root and veild's own user: they may use the reserved connection slots.
    pub fn privileged(&self, peer: &Peer) -> bool {
        let uid = Uid::from_raw(peer.uid);
        uid.is_root() || uid == self.daemon_uid
    }

    pub fn allows(&self, peer: &Peer) -> bool {
        let uid = Uid::from_raw(peer.uid);
        if uid.is_root() || uid == self.daemon_uid || Gid::from_raw(peer.gid) == self.gid {
            return true;
        }
        if let Some(pid) = peer.pid
            && process_groups(pid).contains(&self.gid.as_raw())
        {
            return true;
        }
        user_in_group(uid, self.gid)
    }
}

/// The supplementary groups of a live process, from `/proc/PID/status` ("Groups:" line).
/// Empty when unreadable (the process is gone, or no procfs).
fn process_groups(pid: i32) -> Vec<u32> {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Vec::new();
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("Groups:"))
        .map(|rest| {
            rest.split_whitespace()
                .filter_map(|g| g.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the group database lists the user as a member (covers a process that has not
/// re-logged in since being added).
fn user_in_group(uid: Uid, gid: Gid) -> bool {
    let Ok(Some(user)) = User::from_uid(uid) else {
        return false;
    };
    if user.gid == gid {
        return true;
    }
    match Group::from_gid(gid) {
        Ok(Some(group)) => group.mem.iter().any(|member| member == &user.name),
        _ => false,
    }
}
