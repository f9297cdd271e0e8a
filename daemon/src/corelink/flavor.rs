//! Which core we talk to, and the names that differ between cores.

use serde::{Deserialize, Serialize};
use tonic::codegen::http::uri::PathAndQuery;

use super::error::CoreError;

/// The core's family. Both speak the same protobuf wire format, but the
/// package prefix differs, and it appears in two places the core checks:
/// the gRPC path and every `TypedMessage.type` string. Xray also answers on
/// the v2ray service paths yet rejects `v2ray.core.*` type strings, so the
/// flavor must be right; it is configuration, never guessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// XTLS/Xray-core: package prefix `xray.`.
    Xray,
    /// v2fly/v2ray-core v4 (e.g. Debian's 4.34): package prefix `v2ray.core.`.
    V2fly,
}

/// Services we call, by their package-relative name.
pub(super) const HANDLER_SERVICE: &str = "app.proxyman.command.HandlerService";
pub(super) const STATS_SERVICE: &str = "app.stats.command.StatsService";

impl Flavor {
    /// The protobuf package prefix, including the trailing dot.
    pub fn prefix(self) -> &'static str {
        match self {
            Flavor::Xray => "xray.",
            Flavor::V2fly => "v2ray.core.",
        }
    }

    /// Whether HandlerService has GetInboundUsers/GetInboundUsersCount
    /// (Xray v24.11.5+; v2ray 4.34 answers UNIMPLEMENTED).
    pub fn supports_inbound_users(self) -> bool {
        matches!(self, Flavor::Xray)
    }

    /// Full protobuf name of a message under this flavor, for
    /// `TypedMessage.type`, e.g. `type_name("proxy.vless.Account")`.
    pub(super) fn type_name(self, relative: &str) -> String {
        format!("{}{relative}", self.prefix())
    }

    /// The HTTP/2 path of an RPC, e.g. `/xray.app.stats.command.StatsService/QueryStats`.
    pub(super) fn rpc_path(self, service: &str, method: &str) -> Result<PathAndQuery, CoreError> {
        let path = format!("/{}{service}/{method}", self.prefix());
        PathAndQuery::try_from(path.as_str())
            .map_err(|e| CoreError::Config(format!("bad RPC path {path:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_flavor_prefix() {
        assert_eq!(
            Flavor::V2fly
                .rpc_path(HANDLER_SERVICE, "AlterInbound")
                .map(|p| p.to_string())
                .ok(),
            Some("/v2ray.core.app.proxyman.command.HandlerService/AlterInbound".to_owned())
        );
        assert_eq!(
            Flavor::Xray.type_name("proxy.vless.Account"),
            "xray.proxy.vless.Account"
        );
    }
}
