//! Only root and members of `socket_group` are served. Needs root to create throwaway
//! users and a group (CI runs as root); elsewhere it says so and checks nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt;

use serde_json::json;
use support::accounts::{Accounts, veil_as};
use support::daemon::{Daemon, DaemonConfig};
use support::tempdir;

#[test]
fn only_root_and_socket_group_members_are_served() {
    let Some(accounts) = Accounts::create(1) else {
        return;
    };
    let member = accounts.members[0].clone();
    let dir = tempdir();
    // Let other users reach the socket file; its own mode is what guards it.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            socket_group: accounts.group.clone(),
            ..Default::default()
        },
    );

    // A member of the group is served.
    let (code, out, err) = veil_as(&member, &d.socket, &["key", "add", "from-member"]);
    assert_eq!(code, 0, "member refused: {err}");
    assert!(out.contains("from-member"));

    // An outsider cannot even open the socket (mode 0660, group socket_group): exit 3.
    let (code, _, err) = veil_as(&accounts.outsider, &d.socket, &["key", "list"]);
    assert_eq!(code, 3, "outsider: {err}");

    // With the file opened up by mistake, the daemon's own check still refuses: exit 1.
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, _, err) = veil_as(&accounts.outsider, &d.socket, &["key", "add", "intruder"]);
    assert_eq!(code, 1, "outsider with an open socket: {err}");
    assert!(err.contains("permission denied"), "{err}");

    // Nothing the outsider asked for happened, and the refusal is in the audit trail.
    let mut c = d.raw();
    assert_eq!(
        c.call_err("key.get", json!({"key": "intruder"})),
        "not_found"
    );
    let uid = nix::unistd::User::from_name(&accounts.outsider)
        .unwrap()
        .unwrap()
        .uid
        .as_raw();
    let entries = c.call("audit.list", json!({}))["entries"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        entries
            .iter()
            .any(|e| e["uid"] == uid && e["outcome"] == "forbidden" && e["method"] == "connect"),
        "{entries:?}"
    );
    let member_uid = nix::unistd::User::from_name(&member)
        .unwrap()
        .unwrap()
        .uid
        .as_raw();
    assert!(
        entries
            .iter()
            .any(|e| e["uid"] == member_uid && e["method"] == "key.create" && e["outcome"] == "ok")
    );
}
