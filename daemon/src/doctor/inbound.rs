//! The managed inbound: there is exactly one, it is VLESS and readable by veild, every key
//! gets a flow the core accepts, and links can be built for it.

use serde_json::Value;
use veil_shared::api::Finding;
use veil_shared::coreconfig::{InboundError, ManagedInbound, find_inbound};
use veil_shared::reality::{Endpoint, EndpointError, VISION};

use super::facts::CoreFacts;
use super::facts::checks::{FLOW, LINK_SUPPORT, MANAGED_INBOUND};

const EXAMPLE: &str = "{\"tag\": \"vless-in\", \"port\": 443, \"protocol\": \"vless\", \
                       \"settings\": {\"clients\": [], \"decryption\": \"none\"}, …}";

/// Reads the managed inbound through the shared model; what stops it is the finding.
pub(super) fn managed_inbound(
    root: &Value,
    facts: &CoreFacts<'_>,
    out: &mut Vec<Finding>,
) -> Option<ManagedInbound> {
    let tag = facts.inbound_tag;
    let found = match find_inbound(root, tag) {
        Ok(found) => found,
        Err(e) => {
            out.push(not_found(tag, e));
            return None;
        }
    };
    if found
        .get("settings")
        .and_then(|s| s.get("decryption"))
        .and_then(Value::as_str)
        != Some("none")
    {
        out.push(Finding::error(
            MANAGED_INBOUND,
            format!("the inbound \"{tag}\" has no \"decryption\": \"none\" in its settings"),
            "add \"decryption\": \"none\" to its \"settings\"; both cores refuse a VLESS \
             inbound without it",
        ));
    }
    match ManagedInbound::from_object(found, tag) {
        Ok(inbound) => Some(inbound),
        Err(e) => {
            out.push(Finding::error(
                MANAGED_INBOUND,
                format!("veild cannot read the inbound's clients: {e}"),
                "fix the entry as the message says; veild refuses to start (and to rewrite the \
                 file) until then",
            ));
            None
        }
    }
}

/// The finding for an inbound that cannot be found (or is not VLESS).
fn not_found(tag: &str, e: InboundError) -> Finding {
    match e {
        InboundError::NotVless { protocol, .. } => Finding::error(
            MANAGED_INBOUND,
            format!("the inbound \"{tag}\" speaks \"{protocol}\", not VLESS"),
            format!(
                "Veil manages VLESS users only: point [core] inbound_tag at a VLESS inbound, \
                 or make \"{tag}\" one ({EXAMPLE})"
            ),
        ),
        InboundError::Duplicate { count, .. } => Finding::error(
            MANAGED_INBOUND,
            format!("{count} inbounds are tagged \"{tag}\""),
            "give every inbound its own tag; the cores refuse duplicate tags",
        ),
        other => {
            let tags = match other {
                InboundError::NotFound { available, .. } if !available.is_empty() => {
                    available.join(", ")
                }
                _ => "none".to_owned(),
            };
            Finding::error(
                MANAGED_INBOUND,
                format!("the core config has no inbound tagged \"{tag}\" (tags found: {tags})"),
                format!(
                    "add a VLESS inbound tagged \"{tag}\" ({EXAMPLE}), or set [core] inbound_tag \
                     in veild.toml to the tag of yours; `veil init` writes a complete config"
                ),
            )
        }
    }
}

pub(super) fn check_flow(inbound: &ManagedInbound, facts: &CoreFacts<'_>, out: &mut Vec<Finding>) {
    if !facts.flavor.has_flows() {
        return; // v2ray 4.x has no flows; veild gives keys none.
    }
    let tag = facts.inbound_tag;
    let flow = inbound.flow.as_str();
    if !flow.is_empty() && flow != VISION {
        out.push(Finding::error(
            FLOW,
            format!("the inbound \"{tag}\" uses the flow \"{flow}\", which Xray does not support"),
            format!("use \"flow\": \"{VISION}\" (or no flow)"),
        ));
    }
    let odd: Vec<String> = inbound
        .clients
        .iter()
        .filter(|c| inbound.client_flow(c) != flow)
        .map(|c| format!("{} (\"{}\")", c.who(), inbound.client_flow(c)))
        .collect();
    if !odd.is_empty() {
        let shown: Vec<&str> = odd.iter().take(5).map(String::as_str).collect();
        let more = odd.len().saturating_sub(shown.len());
        out.push(Finding::error(
            FLOW,
            format!(
                "the inbound's flow is \"{flow}\" but {} client(s) use another: {}{}; their links \
                 carry \"{flow}\" and the core refuses a flow that differs from the user's",
                odd.len(),
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ),
            format!(
                "give every client of \"{tag}\" the same flow: set \"flow\": \"{flow}\" in its \
                 settings and remove the clients' own \"flow\" members"
            ),
        ));
    }
    let stream = &inbound.stream;
    if flow == VISION
        && (!matches!(stream.security_name(), "reality" | "tls") || !stream.is_raw_tcp())
    {
        out.push(Finding::error(
            FLOW,
            format!(
                "the flow \"{VISION}\" needs raw TCP with REALITY or TLS, but \"{tag}\" has \
                 network \"{}\" and security \"{}\"",
                stream.network.as_deref().unwrap_or("tcp"),
                match stream.security_name() {
                    "" => "none",
                    s => s,
                },
            ),
            "use \"network\": \"raw\" with \"security\": \"reality\", or drop the flow",
        ));
    }
}

pub(super) fn check_link_support(inbound: &ManagedInbound, out: &mut Vec<Finding>) {
    let Err(err) = Endpoint::from_stream(inbound.port, &inbound.stream, "") else {
        return;
    };
    // REALITY's own keys are reported by their checks.
    if matches!(
        err,
        EndpointError::NoPort | EndpointError::Network(_) | EndpointError::Security(_)
    ) {
        out.push(Finding::warning(
            LINK_SUPPORT,
            format!("share links and client configs cannot be built: {err}"),
            "Veil's links cover VLESS over raw TCP with REALITY (or plain, for trials) on one port",
        ));
    }
}
