//! The managed inbound: the one VLESS inbound (by tag) whose clients Veil owns.

use serde_json::{Map, Value};
use thiserror::Error;

use super::client::{InboundClient, no_flow_as_empty};
use super::flavor::Flavor;
use super::json::{json_type, single_port};
use super::stream::StreamSettings;

/// Why the managed inbound cannot be read. The messages do not name the file; callers add
/// it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum InboundError {
    #[error("there is no \"inbounds\" array")]
    NoInbounds,
    #[error("\"inbounds\" must be an array, found {0}")]
    InboundsNotArray(&'static str),
    /// No inbound carries the tag; `available` lists the tags there are.
    #[error(
        "no inbound is tagged \"{tag}\" (tags present: {})",
        list_or_none(available)
    )]
    NotFound { tag: String, available: Vec<String> },
    #[error("{count} inbounds are tagged \"{tag}\"; tags must be unique")]
    Duplicate { tag: String, count: usize },
    #[error("inbound \"{tag}\" is not an object")]
    NotObject { tag: String },
    #[error("inbound \"{tag}\" has protocol \"{protocol}\", not \"vless\"")]
    NotVless { tag: String, protocol: String },
    /// `settings`, its client list or its flow has the wrong JSON type.
    #[error("inbound \"{tag}\": {reason}")]
    BadSettings { tag: String, reason: String },
    /// One entry of the client list is unusable (0-based `index`).
    #[error("inbound \"{tag}\": settings.clients[{index}]: {reason}")]
    BadClient {
        tag: String,
        index: usize,
        reason: String,
    },
}

fn list_or_none(tags: &[String]) -> String {
    if tags.is_empty() {
        "none".to_owned()
    } else {
        tags.iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The managed inbound as found in the config.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedInbound {
    pub tag: String,
    /// As written (the cores compare it case-insensitively; this is always some case of "vless").
    pub protocol: String,
    /// `None` when absent or not a single port (a range or an env reference).
    pub port: Option<u16>,
    pub listen: Option<String>,
    /// `settings.decryption` when it is a string (both cores require `"none"`).
    pub decryption: Option<String>,
    /// `settings.flow`, which Xray gives clients without their own; `"none"` reads as `""`.
    pub settings_flow: String,
    /// The flow new clients should get: the settings-level `flow` if set, else the flow
    /// most existing clients use (first seen wins a tie; `"none"` is no flow), else `""`.
    pub flow: String,
    /// The client list as found, in file order (`clients`, or Xray's alias `users`).
    pub clients: Vec<InboundClient>,
    /// The same entries as raw JSON, index for index with `clients`, for preserving the
    /// clients Veil does not own verbatim (unknown fields included).
    pub raw_clients: Vec<Value>,
    /// Transport, security and REALITY's settings.
    pub stream: StreamSettings,
}

impl ManagedInbound {
    /// Finds the inbound tagged `tag` in the config `root` and reads it. Every client entry
    /// must be usable (an object with a non-empty string `id`, string `email`/`flow`,
    /// integer `level`).
    pub fn read(root: &Value, tag: &str) -> Result<ManagedInbound, InboundError> {
        Self::from_object(find_inbound(root, tag)?, tag)
    }

    /// Reads an inbound already found by [`find_inbound`].
    pub fn from_object(
        inbound: &Map<String, Value>,
        tag: &str,
    ) -> Result<ManagedInbound, InboundError> {
        let bad = |reason: String| InboundError::BadSettings {
            tag: tag.to_owned(),
            reason,
        };
        let settings = match inbound.get("settings") {
            None | Some(Value::Null) => None,
            Some(Value::Object(s)) => Some(s),
            Some(other) => {
                return Err(bad(format!(
                    "\"settings\" must be an object, found {}",
                    json_type(other)
                )));
            }
        };
        let raw_clients: Vec<Value> = match settings.and_then(|s| s.get(clients_key(s))) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list.clone(),
            Some(other) => {
                return Err(bad(format!(
                    "\"settings.clients\" must be an array, found {}",
                    json_type(other)
                )));
            }
        };
        let clients = raw_clients
            .iter()
            .enumerate()
            .map(|(index, raw)| {
                InboundClient::from_json(raw).map_err(|reason| InboundError::BadClient {
                    tag: tag.to_owned(),
                    index,
                    reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let settings_flow = match settings.and_then(|s| s.get("flow")) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(f)) => no_flow_as_empty(f).to_owned(),
            Some(other) => {
                return Err(bad(format!(
                    "\"settings.flow\" must be a string, found {}",
                    json_type(other)
                )));
            }
        };
        let flow = if settings_flow.is_empty() {
            common_flow(&clients)
        } else {
            settings_flow.clone()
        };
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        Ok(ManagedInbound {
            tag: tag.to_owned(),
            protocol: text(inbound.get("protocol")).unwrap_or_default(),
            port: inbound.get("port").and_then(single_port),
            listen: text(inbound.get("listen")),
            decryption: text(settings.and_then(|s| s.get("decryption"))),
            settings_flow,
            flow,
            clients,
            raw_clients,
            stream: StreamSettings::read(inbound.get("streamSettings")),
        })
    }

    /// The flow every key's user gets, as the applier gives it and links carry it: the
    /// inbound's flow on Xray, none on v2fly (which has no flows).
    pub fn key_flow(&self, flavor: Flavor) -> &str {
        if flavor.has_flows() { &self.flow } else { "" }
    }

    /// The flow the core gives `client`: its own, else the settings-level one.
    pub fn client_flow<'a>(&'a self, client: &'a InboundClient) -> &'a str {
        match client.own_flow() {
            "" => &self.settings_flow,
            own => own,
        }
    }

    /// The raw entries of clients for which `is_managed` is false, in file order: the
    /// clients a rewrite must keep as they are.
    pub fn unmanaged(&self, is_managed: impl Fn(&InboundClient) -> bool) -> Vec<Value> {
        self.clients
            .iter()
            .zip(&self.raw_clients)
            .filter(|(c, _)| !is_managed(c))
            .map(|(_, raw)| raw.clone())
            .collect()
    }
}

/// The key holding the client list: `clients` (which Xray prefers when both are set) unless
/// only the alias `users` is present.
pub fn clients_key(settings: &Map<String, Value>) -> &'static str {
    let present = |k: &str| settings.get(k).is_some_and(|v| !v.is_null());
    if !present("clients") && present("users") {
        "users"
    } else {
        "clients"
    }
}

fn tag_of(inbound: &Value) -> Option<&str> {
    inbound.get("tag").and_then(Value::as_str)
}

/// Finds the one inbound tagged `tag` in the config `root` and checks that it is VLESS.
pub fn find_inbound<'a>(
    root: &'a Value,
    tag: &str,
) -> Result<&'a Map<String, Value>, InboundError> {
    let list = match root.get("inbounds") {
        Some(Value::Array(list)) => list,
        Some(other) => return Err(InboundError::InboundsNotArray(json_type(other))),
        None => return Err(InboundError::NoInbounds),
    };
    let matches: Vec<&Value> = list.iter().filter(|i| tag_of(i) == Some(tag)).collect();
    let inbound = match matches.as_slice() {
        [] => {
            return Err(InboundError::NotFound {
                tag: tag.to_owned(),
                available: list.iter().filter_map(tag_of).map(str::to_owned).collect(),
            });
        }
        [one] => *one,
        many => {
            return Err(InboundError::Duplicate {
                tag: tag.to_owned(),
                count: many.len(),
            });
        }
    };
    // A value with a "tag" member is an object; this cannot fail.
    let inbound = inbound.as_object().ok_or_else(|| InboundError::NotObject {
        tag: tag.to_owned(),
    })?;
    let protocol = inbound.get("protocol").and_then(Value::as_str);
    if !protocol.is_some_and(|p| p.eq_ignore_ascii_case("vless")) {
        return Err(InboundError::NotVless {
            tag: tag.to_owned(),
            protocol: protocol.unwrap_or("(none)").to_owned(),
        });
    }
    Ok(inbound)
}

/// The flow most clients use (`"none"` counted as no flow); ties go to the flow seen
/// first; no clients gives `""`.
fn common_flow(clients: &[InboundClient]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for c in clients {
        let f = c.own_flow();
        match counts.iter_mut().find(|(g, _)| *g == f) {
            Some((_, n)) => *n += 1,
            None => counts.push((f, 1)),
        }
    }
    // max_by_key keeps the last maximum, so scan reversed for the first seen to win.
    counts
        .iter()
        .rev()
        .max_by_key(|(_, n)| *n)
        .map(|(f, _)| (*f).to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
