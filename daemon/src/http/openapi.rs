//! The OpenAPI 3.1 document served at `GET /api/openapi.json`, built from one table of the
//! routes (the integration tests call every route it names). Every body, query and answer
//! schema is derived (schemars) from the Rust types the handlers read and write, so the
//! document cannot drift from them; only the error shape is spelt out here.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};
use veil_shared::api::{
    AuditPage, KeyBulk, KeyConfigResult, KeyCreate, KeyCreateBulk, KeyLinkResult, KeyList, KeyPage,
    KeyUpdate,
};
use veil_shared::model::Key;
use veil_shared::traffic::{CycleReport, KeyTraffic, KeyTrafficDetail, TrafficList, TrafficPage};

use super::routes::{AuditQuery, HealthBody, Ports};

/// Makes (or refers to) a schema in the document's `components/schemas`.
type Schemer = fn(&mut SchemaGenerator) -> Schema;

fn sub<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// One operation: method, path, id, summary, and what it takes and answers.
struct Op {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    /// The query parameters: the members of this type's (object) schema.
    query: Option<Schemer>,
    /// A JSON body, if it takes one.
    body: Option<Schemer>,
    /// Success statuses and the schema each answers with.
    ok: &'static [(&'static str, Schemer)],
    /// A change (read-only tokens get 403).
    change: bool,
}

const KEY_OK: &[(&str, Schemer)] = &[("200", sub::<Key>), ("202", sub::<Key>)];

const OPS: &[Op] = &[
    Op {
        method: "get",
        path: "/api/keys",
        id: "listKeys",
        summary: "Keys by id (filters, paging)",
        query: Some(sub::<KeyList>),
        body: None,
        ok: &[("200", sub::<KeyPage>)],
        change: false,
    },
    Op {
        method: "post",
        path: "/api/keys",
        id: "createKeys",
        summary: "Create one key, or `count` keys named PREFIX-N",
        query: None,
        body: Some(create_body),
        ok: &[("201", created), ("202", created)],
        change: true,
    },
    Op {
        method: "get",
        path: "/api/keys/{ref}",
        id: "getKey",
        summary: "One key (404 once it is deleted; deleted keys stay listed with state=deleted)",
        query: None,
        body: None,
        ok: &[("200", sub::<Key>)],
        change: false,
    },
    Op {
        method: "patch",
        path: "/api/keys/{ref}",
        id: "updateKey",
        summary: "Change name, note, limit, expiry or reset schedule",
        query: None,
        body: Some(update_body),
        ok: KEY_OK,
        change: true,
    },
    Op {
        method: "delete",
        path: "/api/keys/{ref}",
        id: "deleteKey",
        summary: "Delete a key: it leaves the core, its name is free, its record and history stay",
        query: None,
        body: None,
        ok: KEY_OK,
        change: true,
    },
    Op {
        method: "post",
        path: "/api/keys/{ref}/disable",
        id: "disableKey",
        summary: "Disable a key",
        query: None,
        body: None,
        ok: KEY_OK,
        change: true,
    },
    Op {
        method: "post",
        path: "/api/keys/{ref}/enable",
        id: "enableKey",
        summary: "Enable a key",
        query: None,
        body: None,
        ok: KEY_OK,
        change: true,
    },
    Op {
        method: "post",
        path: "/api/keys/{ref}/rotate",
        id: "rotateKey",
        summary: "Give a key a new UUID",
        query: None,
        body: None,
        ok: KEY_OK,
        change: true,
    },
    Op {
        method: "post",
        path: "/api/keys/{ref}/reset",
        id: "resetKeyTraffic",
        summary: "Set a key's traffic totals to zero",
        query: None,
        body: None,
        ok: &[("200", sub::<KeyTraffic>)],
        change: true,
    },
    Op {
        method: "get",
        path: "/api/keys/{ref}/link",
        id: "keyLink",
        summary: "The key's vless:// share link",
        query: None,
        body: None,
        ok: &[("200", sub::<KeyLinkResult>)],
        change: false,
    },
    Op {
        method: "get",
        path: "/api/keys/{ref}/config",
        id: "keyConfig",
        summary: "A complete client config",
        query: Some(sub::<Ports>),
        body: None,
        ok: &[("200", sub::<KeyConfigResult>)],
        change: false,
    },
    Op {
        method: "get",
        path: "/api/keys/{ref}/traffic",
        id: "keyTraffic",
        summary: "A key's traffic, rates, online users, resets",
        query: None,
        body: None,
        ok: &[("200", sub::<KeyTrafficDetail>)],
        change: false,
    },
    Op {
        method: "get",
        path: "/api/traffic",
        id: "listTraffic",
        summary: "Traffic of every key",
        query: Some(sub::<TrafficList>),
        body: None,
        ok: &[("200", sub::<TrafficPage>)],
        change: false,
    },
    Op {
        method: "post",
        path: "/api/traffic/sync",
        id: "syncTraffic",
        summary: "Run a traffic cycle now",
        query: None,
        body: None,
        ok: &[("200", sub::<CycleReport>)],
        change: true,
    },
    Op {
        method: "get",
        path: "/api/audit",
        id: "audit",
        summary: "Recorded changes, newest first",
        query: Some(sub::<AuditQuery>),
        body: None,
        ok: &[("200", sub::<AuditPage>)],
        change: false,
    },
];

/// `POST /api/keys` takes one key or a bulk request.
fn create_body(g: &mut SchemaGenerator) -> Schema {
    let one = g.subschema_for::<KeyCreate>();
    let bulk = g.subschema_for::<KeyCreateBulk>();
    schemars::json_schema!({"oneOf": [one, bulk]})
}

/// `POST /api/keys` answers with the key, or the keys of a bulk request.
fn created(g: &mut SchemaGenerator) -> Schema {
    let one = g.subschema_for::<Key>();
    let bulk = g.subschema_for::<KeyBulk>();
    schemars::json_schema!({"oneOf": [one, bulk]})
}

/// `PATCH /api/keys/{ref}`: the members of `key.update` but `key` (the path names it).
fn update_body(g: &mut SchemaGenerator) -> Schema {
    let mut schema = g.root_schema_for::<KeyUpdate>();
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("$schema");
        obj.remove("title");
        if let Some(Value::Object(props)) = obj.get_mut("properties") {
            props.remove("key");
        }
        if let Some(Value::Array(required)) = obj.get_mut("required") {
            required.retain(|r| r != "key");
        }
    }
    schema
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn error(description: &str) -> Value {
    json!({"description": description,
           "content": {"application/json": {"schema": reference("Error")}}})
}

/// A query member's schema without `null` (a query parameter is absent instead).
fn without_null(schema: &Value) -> Value {
    let mut out = schema.clone();
    if let Some(Value::Array(types)) = out.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            out["type"] = only;
        }
    }
    if let Some(Value::Array(any)) = out.get("anyOf") {
        let rest: Vec<Value> = any
            .iter()
            .filter(|s| s.get("type") != Some(&json!("null")))
            .cloned()
            .collect();
        if let [only] = rest.as_slice() {
            let mut merged = only.clone();
            if let (Some(m), Some(Value::String(d))) =
                (merged.as_object_mut(), schema.get("description"))
            {
                m.insert("description".into(), Value::String(d.clone()));
            }
            return merged;
        }
    }
    out
}

/// The query parameters of `ty`: one per member of its object schema (made inline).
fn query_parameters(g: &mut SchemaGenerator, ty: Schemer) -> Vec<Value> {
    let reference = ty(g);
    let name = reference
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_owned);
    let schema = name
        .and_then(|n| g.definitions().get(&n).cloned())
        .unwrap_or_else(|| reference.to_value());
    let Some(Value::Object(props)) = schema.get("properties") else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, member)| {
            let mut p = json!({"name": name, "in": "query", "required": false,
                               "schema": without_null(member)});
            if let Some(d) = member.get("description") {
                p["description"] = d.clone();
            }
            p
        })
        .collect()
}

fn operation(g: &mut SchemaGenerator, op: &Op) -> Value {
    let mut parameters: Vec<Value> = Vec::new();
    if op.path.contains("{ref}") {
        parameters.push(json!({
            "name": "ref", "in": "path", "required": true,
            "description": "The key: a numeric id, a UUID or a name (percent-encoded); a reference that names no key is 404",
            "schema": {"type": "string", "minLength": 1}
        }));
    }
    if let Some(query) = op.query {
        parameters.extend(query_parameters(g, query));
    }
    let mut responses = Map::new();
    for (status, schema) in op.ok {
        let description = if *status == "202" {
            "Written; the core does not have it yet (pending)"
        } else {
            "OK"
        };
        responses.insert(
            (*status).to_owned(),
            json!({"description": description,
                   "content": {"application/json": {"schema": schema(g)}}}),
        );
    }
    for (status, what) in [
        ("400", "The path, query or body does not parse"),
        ("401", "No token, or an unknown, revoked or expired one"),
        ("404", "No such key or route"),
        ("409", "Conflicts with the keys as they are"),
        ("422", "A value breaks a rule"),
        ("429", "A rate limit; Retry-After says when to try again"),
        ("500", "Failed inside veild"),
        (
            "503",
            "The core is needed now and down, or the request timed out",
        ),
    ] {
        responses.insert(status.to_owned(), error(what));
    }
    if op.change {
        responses.insert("403".into(), error("The token is read-only"));
    }
    if op.body.is_some() {
        responses.insert("413".into(), error("The body is over max_body_bytes"));
        responses.insert("415".into(), error("The body is not sent as JSON"));
    }
    let mut out = json!({
        "operationId": op.id,
        "summary": op.summary,
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(body) = op.body {
        out["requestBody"] = json!({"required": true,
            "content": {"application/json": {"schema": body(g)}}});
    }
    out
}

/// The whole document.
pub fn document() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    let mut g = SchemaGenerator::new(settings);
    let mut paths = Map::new();
    for op in OPS {
        let operation = operation(&mut g, op);
        let entry = paths
            .entry(op.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[op.method] = operation;
    }
    let health = g.subschema_for::<HealthBody>();
    paths.insert(
        "/health".into(),
        json!({"get": {"operationId": "health", "summary": "Core and database status (no token)",
            "security": [],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": health}}},
                "429": error("A rate limit"),
                "503": {"description": "The database fails", "content": {"application/json": {"schema": health}}}
            }}}),
    );
    paths.insert(
        "/api/openapi.json".into(),
        json!({"get": {"operationId": "openapi", "summary": "This document (no token)",
            "security": [],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                          "429": error("A rate limit")}}}),
    );
    let mut schemas: Map<String, Value> = g.take_definitions(true).into_iter().collect();
    schemas.insert("Error".into(), error_schema());
    let mut paths = Value::Object(paths);
    let mut schemas = Value::Object(schemas);
    integer_bounds(&mut paths);
    integer_bounds(&mut schemas);
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Veil HTTP API", "version": veil_shared::VERSION},
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            },
            "schemas": schemas,
        }
    })
}

/// Gives every integer schema the bounds of its Rust type (schemars names the type in
/// `format` but bounds only the unsigned side), so that clients and fuzzers know what fits.
fn integer_bounds(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let bounds: Option<(Value, Value)> = match map.get("format").and_then(Value::as_str) {
                Some("int64") => Some((i64::MIN.into(), i64::MAX.into())),
                Some("uint64") => Some((0.into(), u64::MAX.into())),
                Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
                Some("uint32") => Some((0.into(), u32::MAX.into())),
                Some("uint16") => Some((0.into(), u16::MAX.into())),
                Some("uint8") => Some((0.into(), u8::MAX.into())),
                _ => None,
            };
            if let Some((min, max)) = bounds {
                map.entry("minimum").or_insert(min);
                map.entry("maximum").or_insert(max);
            }
            map.values_mut().for_each(integer_bounds);
        }
        Value::Array(items) => items.iter_mut().for_each(integer_bounds),
        _ => {}
    }
}

/// `{"error": {"code", "message"}}`, the one error shape (see `error.rs`).
fn error_schema() -> Value {
    json!({"type": "object", "required": ["error"], "additionalProperties": false,
           "properties": {"error": {
               "type": "object", "required": ["code", "message"], "additionalProperties": false,
               "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `(method, path)` the document describes, `/health` and itself included.
    fn routes() -> Vec<(&'static str, &'static str)> {
        let mut out: Vec<_> = OPS.iter().map(|op| (op.method, op.path)).collect();
        out.push(("get", "/health"));
        out.push(("get", "/api/openapi.json"));
        out
    }

    #[test]
    fn the_document_is_openapi_3_1_with_every_route() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        for (method, path) in routes() {
            assert!(doc["paths"][path][method].is_object(), "{method} {path}");
        }
        let ids: std::collections::BTreeSet<&str> = OPS.iter().map(|op| op.id).collect();
        assert_eq!(ids.len(), OPS.len(), "an operationId is used twice");
    }
}
