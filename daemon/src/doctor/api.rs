//! The core's API: declared, with the services veild calls, served on loopback only (it
//! has no authentication), at the address veild dials.

use std::net::IpAddr;

use serde_json::Value;
use veil_shared::api::Finding;
use veil_shared::coreconfig::{Flavor, single_port, strings};

use super::facts::checks::{API, API_ADDRESS, API_LOOPBACK, API_SERVICES};
use super::facts::{CoreFacts, inbounds, str_at};
use super::routing::rules;

/// `HOST:PORT` split, brackets removed from an IPv6 host.
pub(super) fn split_host_port(addr: &str) -> Option<(&str, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host, port.parse().ok()?))
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Where the core serves its API.
struct ApiEndpoint {
    /// How the config says it, for messages.
    shown: String,
    host: String,
    port: Option<u16>,
    /// A Unix socket path: local by nature.
    unix: bool,
}

fn is_unix(listen: &str) -> bool {
    listen.starts_with('/') || listen.starts_with('@')
}

fn api_endpoints(root: &Value, facts: &CoreFacts<'_>, api_tag: &str) -> Vec<ApiEndpoint> {
    let mut found = Vec::new();
    if facts.flavor == Flavor::Xray
        && let Some(listen) = root
            .get("api")
            .and_then(|a| str_at(a, "listen"))
            .filter(|l| !l.is_empty())
    {
        let unix = is_unix(listen);
        let (host, port) = match split_host_port(listen) {
            Some((h, p)) if !unix => (h.to_owned(), Some(p)),
            _ => (listen.to_owned(), None),
        };
        found.push(ApiEndpoint {
            shown: format!("api.listen \"{listen}\""),
            host,
            port,
            unix,
        });
    }
    let api_inbound_tags: Vec<&str> = rules(root)
        .into_iter()
        .filter(|r| str_at(r, "outboundTag") == Some(api_tag))
        .flat_map(|r| strings(r.get("inboundTag")))
        .collect();
    for inbound in inbounds(root) {
        let Some(tag) = str_at(inbound, "tag") else {
            continue;
        };
        if !api_inbound_tags.contains(&tag) {
            continue;
        }
        let listen = str_at(inbound, "listen").unwrap_or("0.0.0.0");
        found.push(ApiEndpoint {
            shown: format!("inbound \"{tag}\" (listen \"{listen}\")"),
            host: listen.to_owned(),
            port: inbound.get("port").and_then(single_port),
            unix: is_unix(listen),
        });
    }
    found
}

fn api_fix(facts: &CoreFacts<'_>) -> String {
    match facts.flavor {
        Flavor::Xray => format!(
            "set \"api\": {{\"tag\": \"api\", \"listen\": \"{}\", \"services\": [\"HandlerService\", \
             \"StatsService\"]}}",
            facts.api
        ),
        Flavor::V2fly => {
            let port = split_host_port(facts.api).map_or(10085, |(_, p)| p);
            format!(
                "v2ray 4.x ignores api.listen: set \"api\": {{\"tag\": \"api\", \"services\": \
                 [\"HandlerService\", \"StatsService\"]}}, add the inbound {{\"tag\": \"api-in\", \
                 \"listen\": \"127.0.0.1\", \"port\": {port}, \"protocol\": \"dokodemo-door\", \
                 \"settings\": {{\"address\": \"127.0.0.1\"}}}} and the first routing rule \
                 {{\"type\": \"field\", \"inboundTag\": [\"api-in\"], \"outboundTag\": \"api\"}}"
            )
        }
    }
}

/// The `api` object (tag, services) and where it is served.
pub(super) fn check_api(root: &Value, facts: &CoreFacts<'_>, out: &mut Vec<Finding>) {
    if let Some((host, _)) = split_host_port(facts.api)
        && !is_loopback_host(host)
    {
        out.push(Finding::error(
            API_LOOPBACK,
            format!(
                "veild dials the core's API at {} (veild.toml [core] api), which is not a loopback \
                 address; the API has no authentication",
                facts.api
            ),
            "serve the API on 127.0.0.1 only and set [core] api = \"127.0.0.1:PORT\"",
        ));
    }
    let Some(api) = root.get("api").filter(|a| a.is_object()) else {
        out.push(Finding::error(
            API,
            "the core config has no \"api\" object, so veild can neither add users nor read traffic",
            api_fix(facts),
        ));
        return;
    };
    let tag = str_at(api, "tag").unwrap_or_default();
    if tag.is_empty() {
        out.push(Finding::error(
            API,
            "\"api\" has no \"tag\"; the cores refuse that (\"API tag can't be empty\")",
            api_fix(facts),
        ));
    }
    let services: Vec<String> = strings(api.get("services"))
        .into_iter()
        .map(str::to_ascii_lowercase)
        .collect();
    for (service, what) in [
        ("HandlerService", "add and remove users"),
        ("StatsService", "read traffic and health"),
    ] {
        if !services.contains(&service.to_ascii_lowercase()) {
            out.push(Finding::error(
                API_SERVICES,
                format!("api.services lacks \"{service}\": veild cannot {what}"),
                format!("add \"{service}\" to api.services"),
            ));
        }
    }
    if facts.flavor == Flavor::V2fly && api.get("listen").is_some() {
        out.push(Finding::info(
            API,
            "api.listen is set, but v2ray 4.x ignores it",
            "serve the API through a dokodemo-door inbound and a routing rule instead",
        ));
    }
    check_api_served(root, facts, tag, out);
}

/// The API is served somewhere, on loopback, at the address veild dials.
fn check_api_served(root: &Value, facts: &CoreFacts<'_>, tag: &str, out: &mut Vec<Finding>) {
    let endpoints = api_endpoints(root, facts, tag);
    if endpoints.is_empty() {
        out.push(Finding::error(
            API,
            "the core does not serve its API anywhere: no api.listen (Xray) and no inbound routed \
             to the api tag",
            api_fix(facts),
        ));
        return;
    }
    for e in &endpoints {
        if !e.unix && !is_loopback_host(&e.host) {
            out.push(Finding::error(
                API_LOOPBACK,
                format!(
                    "the core's API is reachable off loopback: {} listens on \"{}\"; anyone who \
                     reaches it can add users and read traffic (it has no authentication)",
                    e.shown, e.host
                ),
                format!("make it listen on 127.0.0.1 ({})", api_fix(facts)),
            ));
        }
    }
    let dialed = split_host_port(facts.api);
    let matches = endpoints.iter().any(|e| match dialed {
        Some((host, port)) => {
            e.port == Some(port)
                && (e.host == host
                    || (is_loopback_host(&e.host) && is_loopback_host(host))
                    || e.host == "0.0.0.0"
                    || e.host == "::")
        }
        None => false,
    });
    if !matches {
        let shown: Vec<&str> = endpoints.iter().map(|e| e.shown.as_str()).collect();
        out.push(Finding::error(
            API_ADDRESS,
            format!(
                "veild dials the API at {} but the core serves it at {}",
                facts.api,
                shown.join(", ")
            ),
            "make [core] api in veild.toml and the core's API address the same HOST:PORT",
        ));
    }
}
