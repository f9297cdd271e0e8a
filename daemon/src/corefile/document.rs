//! The config file as a JSON document: parsing and reading the managed inbound (through
//! the one model of the core's config, `veil_shared::coreconfig`, with this file's path
//! added to every error), replacing the inbound's client list, and rendering.
//! Pure functions over bytes and values, so every rule here is unit-tested without I/O.
//!
//! Objects keep their key order (serde_json `preserve_order`), so a rendered document
//! lists everything in the operator's order.

use std::path::Path;

use serde_json::{Map, Value};
use veil_shared::coreconfig::{
    self, InboundError, ManagedInbound, ParseError, clients_key, find_inbound, json_type,
};

use super::error::CoreFileError;

/// A parsed config file.
#[derive(Debug, Clone)]
pub(super) struct Document {
    pub root: Value,
    /// The file had `//`, `/* */` or `#` comments, which a rewrite drops.
    pub had_comments: bool,
}

/// Parses the file's bytes (comments as v2ray/Xray accept them, and a UTF-8 byte-order
/// mark, are allowed).
pub(super) fn parse(path: &Path, bytes: &[u8]) -> Result<Document, CoreFileError> {
    match coreconfig::parse(bytes) {
        Ok(parsed) => Ok(Document {
            root: parsed.root,
            had_comments: parsed.had_comments,
        }),
        Err(ParseError::NotJson(reason)) => Err(CoreFileError::NotJson {
            path: path.to_owned(),
            reason,
        }),
        Err(e @ ParseError::NotObject(_)) => Err(CoreFileError::BadStructure {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// Renders a document as the file is written: pretty, 2-space indent, trailing newline.
pub(super) fn render(root: &Value) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = serde_json::to_vec_pretty(root)?;
    out.push(b'\n');
    Ok(out)
}

/// Reads the managed inbound. Every client entry must be usable (an object with a
/// non-empty string `id`, string `email`/`flow`, integer `level`).
pub(super) fn managed_inbound(
    doc: &Document,
    path: &Path,
    tag: &str,
) -> Result<ManagedInbound, CoreFileError> {
    ManagedInbound::read(&doc.root, tag).map_err(|e| with_path(path, e))
}

/// The model's error, naming the file.
fn with_path(path: &Path, e: InboundError) -> CoreFileError {
    let path = path.to_owned();
    match e {
        e @ (InboundError::NoInbounds | InboundError::InboundsNotArray(_)) => {
            CoreFileError::BadStructure {
                path,
                reason: e.to_string(),
            }
        }
        InboundError::NotFound { tag, available } => CoreFileError::InboundNotFound {
            path,
            tag,
            available,
        },
        InboundError::Duplicate { tag, count } => CoreFileError::DuplicateTag { path, tag, count },
        InboundError::NotObject { tag } => CoreFileError::BadInbound {
            path,
            tag,
            reason: "is not an object".to_owned(),
        },
        InboundError::NotVless { tag, protocol } => CoreFileError::NotVless {
            path,
            tag,
            protocol,
        },
        InboundError::BadSettings { tag, reason } => {
            CoreFileError::BadInbound { path, tag, reason }
        }
        InboundError::BadClient { tag, index, reason } => CoreFileError::BadClient {
            path,
            tag,
            index,
            reason,
        },
    }
}

/// Replaces the managed inbound's client list (creating `settings` if absent). Xray's
/// `users` alias is written to when the file uses it instead of `clients`.
pub(super) fn set_clients(
    doc: &mut Document,
    path: &Path,
    tag: &str,
    clients: Vec<Value>,
) -> Result<(), CoreFileError> {
    find_inbound(&doc.root, tag).map_err(|e| with_path(path, e))?;
    let bad = |reason: String| CoreFileError::BadInbound {
        path: path.to_owned(),
        tag: tag.to_owned(),
        reason,
    };
    let inbound = find_inbound_mut(&mut doc.root, tag)
        .ok_or_else(|| bad("inbound vanished while editing".to_owned()))?;
    let settings = inbound
        .entry("settings")
        .or_insert_with(|| Value::Object(Map::new()));
    if settings.is_null() {
        *settings = Value::Object(Map::new());
    }
    let Value::Object(settings) = settings else {
        return Err(bad(format!(
            "\"settings\" must be an object, found {}",
            json_type(settings)
        )));
    };
    let key = clients_key(settings);
    match settings.get_mut(key) {
        Some(slot) if slot.is_array() || slot.is_null() => *slot = Value::Array(clients),
        Some(other) => {
            return Err(bad(format!(
                "\"settings.{key}\" must be an array, found {}",
                json_type(other)
            )));
        }
        None => {
            settings.insert(key.to_owned(), Value::Array(clients));
        }
    }
    Ok(())
}

fn find_inbound_mut<'a>(root: &'a mut Value, tag: &str) -> Option<&'a mut Map<String, Value>> {
    root.get_mut("inbounds")?
        .as_array_mut()?
        .iter_mut()
        .find(|i| i.get("tag").and_then(Value::as_str) == Some(tag))?
        .as_object_mut()
}

#[cfg(test)]
#[path = "document_tests.rs"]
mod tests;
