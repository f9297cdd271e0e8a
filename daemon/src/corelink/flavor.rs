//! The names that differ between the cores' gRPC APIs.
//!
//! [`Flavor`] itself (xray | v2fly) is defined once for the workspace in
//! `veil_shared::coreconfig`; what only the core link needs is added here by [`FlavorApi`].

use tonic::codegen::http::uri::PathAndQuery;
pub use veil_shared::coreconfig::Flavor;

use super::error::CoreError;

/// Services we call, by their package-relative name.
pub(super) const HANDLER_SERVICE: &str = "app.proxyman.command.HandlerService";
pub(super) const STATS_SERVICE: &str = "app.stats.command.StatsService";

/// The core's API as each flavor names it. Both speak the same protobuf wire format, but
/// the package prefix differs, and it appears in two places the core checks: the gRPC path
/// and every `TypedMessage.type` string. Xray also answers on the v2ray service paths yet
/// rejects `v2ray.core.*` type strings, so the flavor must be right; it is configuration,
/// never guessed.
pub trait FlavorApi: Copy {
    /// The protobuf package prefix, including the trailing dot.
    fn prefix(self) -> &'static str;

    /// Whether HandlerService has GetInboundUsers/GetInboundUsersCount
    /// (Xray v24.11.5+; v2ray 4.34 answers UNIMPLEMENTED).
    fn supports_inbound_users(self) -> bool;

    /// Full protobuf name of a message under this flavor, for
    /// `TypedMessage.type`, e.g. `type_name("proxy.vless.Account")`.
    fn type_name(self, relative: &str) -> String {
        format!("{}{relative}", self.prefix())
    }

    /// The HTTP/2 path of an RPC, e.g. `/xray.app.stats.command.StatsService/QueryStats`.
    fn rpc_path(self, service: &str, method: &str) -> Result<PathAndQuery, CoreError> {
        let path = format!("/{}{service}/{method}", self.prefix());
        PathAndQuery::try_from(path.as_str())
            .map_err(|e| CoreError::Config(format!("bad RPC path {path:?}: {e}")))
    }
}

impl FlavorApi for Flavor {
    fn prefix(self) -> &'static str {
        match self {
            Flavor::Xray => "xray.",
            Flavor::V2fly => "v2ray.core.",
        }
    }

    fn supports_inbound_users(self) -> bool {
        matches!(self, Flavor::Xray)
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
