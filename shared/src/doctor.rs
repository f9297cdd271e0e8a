//! `doctor`: what is wrong with a setup, each problem with its fix.
//!
//! This module holds the report (the result of the `doctor` socket method) and the checks
//! that need nothing but the core's config as JSON, so they are pure functions that every
//! front end can run. Checks that need the machine (file modes, the database, the socket,
//! the core's own `-test`) live in the daemon (`veild::doctor`).

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::reality::{self, EndpointError, VISION};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something does not work (or is unsafe) until it is fixed.
    Error,
    /// Works, but something a Veil setup relies on is off.
    Warning,
    /// Advice or a check that could not run; never fails `doctor`.
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One problem, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// A stable name of the check, e.g. `api_loopback` (see [`checks`]).
    pub check: String,
    pub severity: Severity,
    pub problem: String,
    pub fix: String,
}

impl Finding {
    pub fn new(
        check: &str,
        severity: Severity,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            check: check.to_owned(),
            severity,
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    pub fn error(check: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Severity::Error, problem, fix)
    }

    pub fn warning(check: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Severity::Warning, problem, fix)
    }

    pub fn info(check: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(check, Severity::Info, problem, fix)
    }
}

/// The result of `doctor`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorReport {
    /// Every problem found, errors first.
    pub findings: Vec<Finding>,
    /// The names of the checks that ran.
    pub checked: Vec<String>,
}

impl DoctorReport {
    /// True when nothing is an error or a warning (infos do not count).
    pub fn ok(&self) -> bool {
        self.findings.iter().all(|f| f.severity == Severity::Info)
    }

    /// Orders findings errors first, keeping the order within a severity.
    pub fn sort(&mut self) {
        self.findings.sort_by_key(|f| match f.severity {
            Severity::Error => 0,
            Severity::Warning => 1,
            Severity::Info => 2,
        });
    }

    fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// The report for people: each finding with its fix, then a summary line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            out.push_str(&format!(
                "{} [{}] {}\n    fix: {}\n",
                f.severity.as_str(),
                f.check,
                f.problem,
                f.fix
            ));
        }
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let ran = plural(self.checked.len(), "check", "checks");
        let (errors, warnings) = (self.count(Severity::Error), self.count(Severity::Warning));
        if !self.findings.is_empty() {
            out.push('\n');
        }
        if errors + warnings == 0 {
            out.push_str(&format!("No problems found ({ran} ran).\n"));
        } else {
            out.push_str(&format!(
                "{} and {} ({ran} ran).\n",
                plural(errors, "error", "errors"),
                plural(warnings, "warning", "warnings")
            ));
        }
        out
    }
}

/// The check names, stable for scripts.
pub mod checks {
    pub const MANAGED_INBOUND: &str = "managed_inbound";
    pub const API: &str = "api";
    pub const API_SERVICES: &str = "api_services";
    pub const API_LOOPBACK: &str = "api_loopback";
    pub const API_ADDRESS: &str = "api_address";
    pub const PRIVATE_DESTINATIONS: &str = "private_destinations";
    pub const STATS: &str = "stats";
    pub const USER_STATS: &str = "user_stats";
    pub const USER_ONLINE: &str = "user_online";
    pub const PHONE_POLICY: &str = "phone_policy";
    pub const FLOW: &str = "flow";
    pub const REALITY_ON_V2FLY: &str = "reality_on_v2fly";
    pub const TARGET: &str = "target";
    pub const SERVER_NAMES: &str = "server_names";
    pub const PRIVATE_KEY: &str = "private_key";
    pub const SHORT_IDS: &str = "short_ids";
    pub const MIN_CLIENT_VER: &str = "min_client_ver";
    pub const LINK_SUPPORT: &str = "link_support";

    /// Every check [`super::check_core_config`] runs.
    pub const CORE_CONFIG: &[&str] = &[
        MANAGED_INBOUND,
        API,
        API_SERVICES,
        API_LOOPBACK,
        API_ADDRESS,
        PRIVATE_DESTINATIONS,
        STATS,
        USER_STATS,
        USER_ONLINE,
        PHONE_POLICY,
        FLOW,
        REALITY_ON_V2FLY,
        TARGET,
        SERVER_NAMES,
        PRIVATE_KEY,
        SHORT_IDS,
        MIN_CLIENT_VER,
        LINK_SUPPORT,
    ];
}

// Named one by one: a glob import would be silently shadowed by a module item of the same
// name.
use checks::{
    API, API_ADDRESS, API_LOOPBACK, API_SERVICES, FLOW, LINK_SUPPORT, MANAGED_INBOUND,
    MIN_CLIENT_VER, PHONE_POLICY, PRIVATE_DESTINATIONS, PRIVATE_KEY, REALITY_ON_V2FLY,
    SERVER_NAMES, SHORT_IDS, STATS, TARGET, USER_ONLINE, USER_STATS,
};

/// Which core reads the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreFlavor {
    Xray,
    /// Debian's v2ray 4.x: no REALITY, no flows, no `api.listen`.
    V2fly,
}

/// What the daemon's own config says about the core.
#[derive(Clone, Copy, Debug)]
pub struct CoreFacts<'a> {
    pub flavor: CoreFlavor,
    /// `[core] inbound_tag`.
    pub inbound_tag: &'a str,
    /// `[core] api`: the `HOST:PORT` veild dials.
    pub api: &'a str,
}

/// The S28 phone-friendly policy of level 0, as `(key, value)`.
pub const PHONE_POLICY_VALUES: &[(&str, u64)] = &[
    ("handshake", 4),
    ("connIdle", 300),
    ("uplinkOnly", 2),
    ("downlinkOnly", 5),
];

/// The `minClientVer` Veil writes: old enough for sing-box based clients (1.8.1).
pub const MIN_CLIENT_VERSION: &str = "1.8.0";

/// Runs every config check on the core's config `root`.
pub fn check_core_config(root: &Value, facts: &CoreFacts<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let inbound = managed_inbound(root, facts, &mut out);
    check_api(root, facts, &mut out);
    check_stats(root, facts, inbound, &mut out);
    if let Some(inbound) = inbound {
        check_private_destinations(root, facts, &mut out);
        check_flow(inbound, facts, &mut out);
        check_reality(inbound, facts, &mut out);
        check_link_support(inbound, &mut out);
    }
    out
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn array_at<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn inbounds(root: &Value) -> &[Value] {
    array_at(root, "inbounds")
}

/// The routing rules, wherever the config keeps them (`routing.rules`, or v4's legacy
/// `routing.settings.rules`).
fn rules(root: &Value) -> Vec<&Value> {
    let routing = root.get("routing");
    let direct = routing.map(|r| array_at(r, "rules")).unwrap_or_default();
    let legacy = routing
        .and_then(|r| r.get("settings"))
        .map(|s| array_at(s, "rules"))
        .unwrap_or_default();
    direct.iter().chain(legacy).collect()
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    }
}

fn managed_inbound<'a>(
    root: &'a Value,
    facts: &CoreFacts<'_>,
    out: &mut Vec<Finding>,
) -> Option<&'a Value> {
    let tag = facts.inbound_tag;
    let found: Vec<&Value> = inbounds(root)
        .iter()
        .filter(|i| str_at(i, "tag") == Some(tag))
        .collect();
    let example = "{\"tag\": \"vless-in\", \"port\": 443, \"protocol\": \"vless\", \"settings\": \
                   {\"clients\": [], \"decryption\": \"none\"}, …}";
    match found.as_slice() {
        [] => {
            let tags: Vec<&str> = inbounds(root)
                .iter()
                .filter_map(|i| str_at(i, "tag"))
                .collect();
            out.push(Finding::error(
                MANAGED_INBOUND,
                format!(
                    "the core config has no inbound tagged \"{tag}\" (tags found: {})",
                    if tags.is_empty() {
                        "none".to_owned()
                    } else {
                        tags.join(", ")
                    }
                ),
                format!(
                    "add a VLESS inbound tagged \"{tag}\" ({example}), or set [core] inbound_tag in \
                     veild.toml to the tag of yours; `veil init` writes a complete config"
                ),
            ));
            None
        }
        [one] => {
            let protocol = str_at(one, "protocol").unwrap_or("(none)");
            if !protocol.eq_ignore_ascii_case("vless") {
                out.push(Finding::error(
                    MANAGED_INBOUND,
                    format!("the inbound \"{tag}\" speaks \"{protocol}\", not VLESS"),
                    format!(
                        "Veil manages VLESS users only: point [core] inbound_tag at a VLESS inbound, \
                         or make \"{tag}\" one ({example})"
                    ),
                ));
                return None;
            }
            if str_at(&one["settings"], "decryption") != Some("none") {
                out.push(Finding::error(
                    MANAGED_INBOUND,
                    format!(
                        "the inbound \"{tag}\" has no \"decryption\": \"none\" in its settings"
                    ),
                    "add \"decryption\": \"none\" to its \"settings\"; both cores refuse a VLESS \
                     inbound without it",
                ));
            }
            Some(one)
        }
        many => {
            out.push(Finding::error(
                MANAGED_INBOUND,
                format!("{} inbounds are tagged \"{tag}\"", many.len()),
                "give every inbound its own tag; the cores refuse duplicate tags",
            ));
            None
        }
    }
}

/// `HOST:PORT` split, brackets removed from an IPv6 host.
fn split_host_port(addr: &str) -> Option<(&str, u16)> {
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

fn api_endpoints(root: &Value, facts: &CoreFacts<'_>, api_tag: &str) -> Vec<ApiEndpoint> {
    let mut found = Vec::new();
    if facts.flavor == CoreFlavor::Xray
        && let Some(listen) = root
            .get("api")
            .and_then(|a| str_at(a, "listen"))
            .filter(|l| !l.is_empty())
    {
        let unix = listen.starts_with('/') || listen.starts_with('@');
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
        let port = inbound.get("port").and_then(|p| match p {
            Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        });
        found.push(ApiEndpoint {
            shown: format!("inbound \"{tag}\" (listen \"{listen}\")"),
            host: listen.to_owned(),
            port,
            unix: listen.starts_with('/') || listen.starts_with('@'),
        });
    }
    found
}

fn api_fix(facts: &CoreFacts<'_>) -> String {
    match facts.flavor {
        CoreFlavor::Xray => format!(
            "set \"api\": {{\"tag\": \"api\", \"listen\": \"{}\", \"services\": [\"HandlerService\", \
             \"StatsService\"]}}",
            facts.api
        ),
        CoreFlavor::V2fly => {
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

fn check_api(root: &Value, facts: &CoreFacts<'_>, out: &mut Vec<Finding>) {
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
    if facts.flavor == CoreFlavor::V2fly && api.get("listen").is_some() {
        out.push(Finding::info(
            API,
            "api.listen is set, but v2ray 4.x ignores it",
            "serve the API through a dokodemo-door inbound and a routing rule instead",
        ));
    }
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

/// Whether an `ip` entry of a routing rule covers 127.0.0.1.
fn covers_loopback(entry: &str) -> bool {
    if entry.eq_ignore_ascii_case("geoip:private") {
        return true;
    }
    let (addr, bits) = match entry.split_once('/') {
        Some((a, b)) => (a, b.parse::<u32>().ok()),
        None => (entry, Some(32)),
    };
    let (Ok(net), Some(bits)) = (addr.parse::<Ipv4Addr>(), bits) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    (u32::from(net) & mask) == (u32::from(Ipv4Addr::LOCALHOST) & mask)
}

fn check_private_destinations(root: &Value, facts: &CoreFacts<'_>, out: &mut Vec<Finding>) {
    let blackholes: Vec<&str> = array_at(root, "outbounds")
        .iter()
        .filter(|o| str_at(o, "protocol").is_some_and(|p| p.eq_ignore_ascii_case("blackhole")))
        .filter_map(|o| str_at(o, "tag"))
        .collect();
    let blocked = rules(root).into_iter().any(|r| {
        let applies = match r.get("inboundTag") {
            None => true,
            tags => strings(tags).contains(&facts.inbound_tag),
        };
        applies
            && str_at(r, "outboundTag").is_some_and(|t| blackholes.contains(&t))
            && strings(r.get("ip")).into_iter().any(covers_loopback)
    });
    if !blocked {
        out.push(Finding::warning(
            PRIVATE_DESTINATIONS,
            format!(
                "traffic from \"{}\" to loopback and private addresses is not blocked: a key's \
                 user can reach the server's own services, the core's API included",
                facts.inbound_tag
            ),
            "add an outbound {\"tag\": \"block\", \"protocol\": \"blackhole\"} and the routing rule \
             {\"type\": \"field\", \"ip\": [\"127.0.0.0/8\", \"10.0.0.0/8\", \"172.16.0.0/12\", \
             \"192.168.0.0/16\", \"169.254.0.0/16\", \"::1/128\", \"fc00::/7\", \"fe80::/10\"], \
             \"outboundTag\": \"block\"}",
        ));
    }
}

/// The policy levels the managed clients use (always including 0, which Veil gives keys).
fn levels_in_use(inbound: Option<&Value>) -> Vec<u64> {
    let mut levels = vec![0];
    if let Some(inbound) = inbound {
        for c in clients(inbound) {
            let level = c.get("level").and_then(Value::as_u64).unwrap_or(0);
            if !levels.contains(&level) {
                levels.push(level);
            }
        }
    }
    levels
}

fn clients(inbound: &Value) -> &[Value] {
    let settings = &inbound["settings"];
    let list = array_at(settings, "clients");
    if list.is_empty() {
        array_at(settings, "users")
    } else {
        list
    }
}

fn check_stats(
    root: &Value,
    facts: &CoreFacts<'_>,
    inbound: Option<&Value>,
    out: &mut Vec<Finding>,
) {
    if !root.get("stats").is_some_and(Value::is_object) {
        out.push(Finding::error(
            STATS,
            "the core config has no top-level \"stats\" object: every key's traffic reads zero",
            "add \"stats\": {} at the top level",
        ));
    }
    let levels = &root["policy"]["levels"];
    for level in levels_in_use(inbound) {
        let policy = &levels[level.to_string()];
        let on = |key: &str| policy.get(key).and_then(Value::as_bool) == Some(true);
        let off: Vec<&str> = ["statsUserUplink", "statsUserDownlink"]
            .into_iter()
            .filter(|k| !on(k))
            .collect();
        if !off.is_empty() {
            out.push(Finding::error(
                USER_STATS,
                format!(
                    "policy.levels.\"{level}\" does not turn on {}: per-key traffic reads zero",
                    off.join(" and ")
                ),
                format!(
                    "set \"policy\": {{\"levels\": {{\"{level}\": {{\"statsUserUplink\": true, \
                     \"statsUserDownlink\": true}}}}}}"
                ),
            ));
        }
        if facts.flavor == CoreFlavor::Xray && !on("statsUserOnline") {
            out.push(Finding::warning(
                USER_ONLINE,
                format!(
                    "policy.levels.\"{level}\".statsUserOnline is off: Veil cannot tell which keys \
                     are online"
                ),
                format!("set policy.levels.\"{level}\".statsUserOnline to true (Xray ≥ 24.11.5)"),
            ));
        }
    }
    let level0 = &levels["0"];
    let off: Vec<String> = PHONE_POLICY_VALUES
        .iter()
        .filter(|(k, v)| level0.get(*k).and_then(Value::as_u64) != Some(*v))
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if !off.is_empty() {
        out.push(Finding::info(
            PHONE_POLICY,
            format!(
                "policy.levels.\"0\" differs from the phone-friendly timeouts ({})",
                off.join(", ")
            ),
            "phones switching networks reconnect faster with handshake 4, connIdle 300, \
             uplinkOnly 2, downlinkOnly 5 and a modest bufferSize (e.g. 64)",
        ));
    }
}

/// A flow as the cores read it: `"none"` is no flow.
fn flow_value(v: Option<&Value>) -> &str {
    match v.and_then(Value::as_str) {
        Some("none") | None => "",
        Some(f) => f,
    }
}

/// The flow every key gets: the settings-level flow, else the one most clients use.
pub fn inbound_flow(inbound: &Value) -> String {
    let settings_flow = flow_value(inbound["settings"].get("flow"));
    if !settings_flow.is_empty() {
        return settings_flow.to_owned();
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for c in clients(inbound) {
        let f = flow_value(c.get("flow"));
        match counts.iter_mut().find(|(g, _)| *g == f) {
            Some((_, n)) => *n += 1,
            None => counts.push((f, 1)),
        }
    }
    // Ties go to the flow seen first (max_by_key keeps the last maximum, so scan reversed).
    counts
        .iter()
        .rev()
        .max_by_key(|(_, n)| *n)
        .map(|(f, _)| (*f).to_owned())
        .unwrap_or_default()
}

fn stream_str(inbound: &Value, key: &str) -> String {
    inbound["streamSettings"]
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

fn check_flow(inbound: &Value, facts: &CoreFacts<'_>, out: &mut Vec<Finding>) {
    if facts.flavor == CoreFlavor::V2fly {
        return; // v2ray 4.x has no flows; veild gives keys none.
    }
    let tag = facts.inbound_tag;
    let flow = inbound_flow(inbound);
    let settings_flow = flow_value(inbound["settings"].get("flow"));
    if !flow.is_empty() && flow != VISION {
        out.push(Finding::error(
            FLOW,
            format!("the inbound \"{tag}\" uses the flow \"{flow}\", which Xray does not support"),
            format!("use \"flow\": \"{VISION}\" (or no flow)"),
        ));
    }
    let odd: Vec<String> = clients(inbound)
        .iter()
        .filter_map(|c| {
            let own = flow_value(c.get("flow"));
            let effective = if own.is_empty() { settings_flow } else { own };
            (effective != flow).then(|| {
                let who = str_at(c, "email")
                    .filter(|e| !e.is_empty())
                    .or_else(|| str_at(c, "id"))
                    .unwrap_or("?");
                format!("{who} (\"{effective}\")")
            })
        })
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
    if flow == VISION {
        let security = stream_str(inbound, "security");
        let network = stream_str(inbound, "network");
        if !matches!(security.as_str(), "reality" | "tls")
            || !matches!(network.as_str(), "" | "tcp" | "raw")
        {
            out.push(Finding::error(
                FLOW,
                format!(
                    "the flow \"{VISION}\" needs raw TCP with REALITY or TLS, but \"{tag}\" has \
                     network \"{}\" and security \"{}\"",
                    if network.is_empty() { "tcp" } else { &network },
                    if security.is_empty() {
                        "none"
                    } else {
                        &security
                    },
                ),
                "use \"network\": \"raw\" with \"security\": \"reality\", or drop the flow",
            ));
        }
    }
}

fn valid_target(target: &str) -> bool {
    if target.starts_with('/') || target.starts_with('@') {
        return true;
    }
    if target.parse::<u16>().is_ok_and(|p| p > 0) {
        return true;
    }
    split_host_port(target).is_some_and(|(host, port)| !host.is_empty() && port > 0)
}

fn valid_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| p.parse::<u8>().is_ok())
}

fn check_reality(inbound: &Value, facts: &CoreFacts<'_>, out: &mut Vec<Finding>) {
    if stream_str(inbound, "security") != "reality" {
        return;
    }
    if facts.flavor == CoreFlavor::V2fly {
        out.push(Finding::error(
            REALITY_ON_V2FLY,
            "the inbound asks for REALITY, but v2ray 4.x has none: it silently serves plain VLESS",
            "run Xray (flavor = \"xray\") for REALITY, or set \"security\": \"none\" for a plain \
             trial setup",
        ));
        return;
    }
    let Some(rs) = inbound["streamSettings"]
        .get("realitySettings")
        .filter(|r| r.is_object())
    else {
        out.push(Finding::error(
            TARGET,
            "\"security\" is \"reality\" but streamSettings.realitySettings is missing",
            "add realitySettings with target, serverNames, privateKey, shortIds and minClientVer \
             (`veil init` writes them)",
        ));
        return;
    };
    let target = str_at(rs, "target").or_else(|| str_at(rs, "dest"));
    match target {
        Some(t) if valid_target(t) => {}
        other => out.push(Finding::error(
            TARGET,
            match other {
                Some(t) => format!("realitySettings.target \"{t}\" is not HOST:PORT"),
                None => "realitySettings has no \"target\" (or \"dest\")".to_owned(),
            },
            "set \"target\": \"www.example.com:443\", a real TLS 1.3 site whose name is in \
             serverNames",
        )),
    }
    let names: Vec<&str> = strings(rs.get("serverNames"))
        .into_iter()
        .filter(|n| !n.trim().is_empty())
        .collect();
    if names.is_empty() {
        out.push(Finding::error(
            SERVER_NAMES,
            "realitySettings.serverNames is empty: no client name is accepted, and links have no sni",
            "set \"serverNames\": [\"www.example.com\"], the name(s) of the target site",
        ));
    }
    match reality::decode_key(str_at(rs, "privateKey").unwrap_or_default()) {
        Ok(_) => {}
        Err(e) => out.push(Finding::error(
            PRIVATE_KEY,
            format!("realitySettings.privateKey {e}"),
            "generate a keypair (`xray x25519`) and set \"privateKey\" to its private half; \
             every key's link then carries the new public key, so hand out links again \
             (`veil key qr KEY`)",
        )),
    }
    match rs.get("shortIds").and_then(Value::as_array) {
        Some(ids) if !ids.is_empty() => {
            for (i, id) in ids.iter().enumerate() {
                let problem = match id.as_str() {
                    Some(s) => reality::short_id_problem(s),
                    None => Some(format!("{id} is not a string")),
                };
                if let Some(problem) = problem {
                    out.push(Finding::error(
                        SHORT_IDS,
                        format!("realitySettings.shortIds[{i}]: {problem}"),
                        "use even-length hex of at most 16 characters, e.g. \"0123456789abcdef\"",
                    ));
                }
            }
        }
        _ => out.push(Finding::error(
            SHORT_IDS,
            "realitySettings.shortIds is missing or empty; Xray requires at least one",
            "set \"shortIds\": [\"<8 random bytes as hex>\"] (`openssl rand -hex 8`)",
        )),
    }
    match str_at(rs, "minClientVer").unwrap_or_default() {
        "" => out.push(Finding::error(
            MIN_CLIENT_VER,
            "realitySettings.minClientVer is empty: since Xray 26.7.11 that means 26.3.27, which \
             silently refuses every sing-box based client (Hiddify, NekoBox) and older Xray clients",
            format!("set \"minClientVer\": \"{MIN_CLIENT_VERSION}\""),
        )),
        v if !valid_version(v) => out.push(Finding::error(
            MIN_CLIENT_VER,
            format!("realitySettings.minClientVer \"{v}\" is not x.y.z (each 0–255)"),
            format!("set \"minClientVer\": \"{MIN_CLIENT_VERSION}\""),
        )),
        _ => {}
    }
}

fn check_link_support(inbound: &Value, out: &mut Vec<Finding>) {
    let port = inbound.get("port").and_then(|p| match p {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    let err = match reality::Endpoint::read(port, inbound.get("streamSettings"), "") {
        Ok(_) => return,
        Err(e) => e,
    };
    // REALITY's own keys are reported by their checks above.
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn loopback_coverage() {
        for yes in [
            "127.0.0.0/8",
            "127.0.0.1",
            "127.0.0.1/32",
            "0.0.0.0/0",
            "geoip:private",
        ] {
            assert!(covers_loopback(yes), "{yes}");
        }
        for no in ["10.0.0.0/8", "::1/128", "127.0.0.2/32", "x", "127.0.0.0/33"] {
            assert!(!covers_loopback(no), "{no}");
        }
    }

    #[test]
    fn flow_majority_and_ties() {
        let inbound = |clients: Value| json!({"settings": {"clients": clients}});
        let c = |f: &str| json!({"id": "u", "flow": f});
        assert_eq!(
            inbound_flow(&inbound(json!([c(""), c(VISION), c(VISION)]))),
            VISION
        );
        assert_eq!(inbound_flow(&inbound(json!([c(VISION), c("")]))), VISION);
        assert_eq!(inbound_flow(&inbound(json!([c(""), c(VISION)]))), "");
        assert_eq!(inbound_flow(&inbound(json!([]))), "");
        let with_settings = json!({"settings": {"flow": VISION, "clients": [c("")]}});
        assert_eq!(inbound_flow(&with_settings), VISION);
    }

    #[test]
    fn targets_and_versions() {
        for ok in [
            "www.example.com:443",
            "443",
            "/run/x.sock",
            "@abstract",
            "[::1]:8443",
        ] {
            assert!(valid_target(ok), "{ok}");
        }
        for bad in ["www.example.com", ":443", "x:0", ""] {
            assert!(!valid_target(bad), "{bad}");
        }
        assert!(valid_version("1.8.0") && valid_version("255.0.1"));
        assert!(!valid_version("1.8") && !valid_version("1.8.256") && !valid_version("a.b.c"));
    }
}
