//! Which core reads the config.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The core's family, as `veild.toml` (`[core] flavor`), `veil init --flavor` and the
/// `health` result name it: `"xray"` or `"v2fly"`. It is configuration, never guessed.
///
/// What differs in the config: v2ray 4.x has no REALITY, no flows, no `api.listen` and no
/// online-user statistics. (The names that differ on the core's gRPC API are the daemon's
/// concern: `veild::corelink`.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// XTLS/Xray-core: VLESS + REALITY + Vision.
    #[default]
    Xray,
    /// v2fly/v2ray-core v4 (e.g. Debian's 4.34): plain VLESS only.
    V2fly,
}

impl Flavor {
    /// The name users type and the protocol carries: `xray` or `v2fly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Xray => "xray",
            Flavor::V2fly => "v2fly",
        }
    }

    /// Whether the core knows VLESS flows (Vision); v2ray 4.x has none.
    pub fn has_flows(self) -> bool {
        matches!(self, Flavor::Xray)
    }

    /// Whether the core knows REALITY; v2ray 4.x has none (it serves plain VLESS instead).
    pub fn has_reality(self) -> bool {
        matches!(self, Flavor::Xray)
    }

    /// The systemd unit that runs this core where its installer put one (the official Xray
    /// installer's `xray.service`, the v2fly packages' `v2ray.service`).
    pub fn unit(self) -> &'static str {
        match self {
            Flavor::Xray => "xray.service",
            Flavor::V2fly => "v2ray.service",
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_on_the_wire() {
        for flavor in [Flavor::Xray, Flavor::V2fly] {
            let text = serde_json::to_string(&flavor).unwrap();
            assert_eq!(text, format!("\"{flavor}\""));
            assert_eq!(serde_json::from_str::<Flavor>(&text).unwrap(), flavor);
        }
        assert_eq!(Flavor::V2fly.as_str(), "v2fly");
        assert!(serde_json::from_str::<Flavor>("\"Xray\"").is_err());
    }
}
