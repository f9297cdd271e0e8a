//! Whether disabling a key can end its open connections here (`[core] disconnect`): the
//! core must report users' addresses (Xray), and veild must be able to destroy sockets
//! (`CAP_NET_ADMIN`, a kernel with `CONFIG_INET_DIAG_DESTROY`). Run inside the daemon, the
//! probe speaks for the daemon's own capabilities.

use veil_shared::api::Finding;

use super::names::DISCONNECT;
use crate::config::Config;
use crate::corelink::Flavor;
use crate::disconnect::{Availability, Mode, sockdiag};

pub(super) async fn check(config: &Config, out: &mut Vec<Finding>) {
    if config.core.disconnect == Mode::Off {
        return;
    }
    if config.core.flavor == Flavor::V2fly {
        out.push(Finding::info(
            DISCONNECT,
            "disabling a key does not end its open connections: the v2fly core (v2ray 4.x) \
             cannot say which addresses a key connects from",
            "run Xray (v25.2.18 or newer) with statsUserOnline on, or set [core] disconnect = \
             \"off\" to say so",
        ));
        return;
    }
    let probed = tokio::task::spawn_blocking(sockdiag::probe)
        .await
        .unwrap_or_else(|e| Availability::Failed(e.to_string()));
    let fix = match probed {
        Availability::Available => return,
        Availability::NoCapability => {
            "give veild CAP_NET_ADMIN (the packaged unit has AmbientCapabilities=CAP_NET_ADMIN), \
             or set [core] disconnect = \"off\""
        }
        Availability::NoKernelSupport => {
            "run a kernel built with CONFIG_INET_DIAG_DESTROY (Debian's has it), or set [core] \
             disconnect = \"off\""
        }
        Availability::Failed(_) => {
            "allow veild netlink sockets (RestrictAddressFamilies=… AF_NETLINK), or set [core] \
             disconnect = \"off\""
        }
    };
    out.push(Finding::warning(
        DISCONNECT,
        format!(
            "disabling a key does not end its open connections: {}",
            probed.describe()
        ),
        fix,
    ));
}
