//! The checks of the core's config, on its JSON alone: the managed inbound, the API, stats
//! and policy, routing, flows and REALITY. Each problem is a [`Finding`] with its fix.
//!
//! The managed inbound is read through the one model of the core's config
//! (`veil_shared::coreconfig`), the same reader the config writer and the share links
//! use; the rest of the file (API, routing, policy) is read here, as only the doctor
//! looks at it.

use serde_json::Value;
use veil_shared::api::Finding;
use veil_shared::coreconfig::ManagedInbound;

use super::api;
use super::facts::CoreFacts;
use super::inbound;
use super::reality;
use super::routing;
use super::stats;

/// Runs every config check on the core's config `root`.
pub fn check_core_config(root: &Value, facts: &CoreFacts<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let managed: Option<ManagedInbound> = inbound::managed_inbound(root, facts, &mut out);
    api::check_api(root, facts, &mut out);
    stats::check_stats(root, facts, managed.as_ref(), &mut out);
    if let Some(managed) = &managed {
        routing::check_private_destinations(root, facts, &mut out);
        inbound::check_flow(managed, facts, &mut out);
        reality::check_reality(managed, facts, &mut out);
        inbound::check_link_support(managed, &mut out);
    }
    out
}
