//! The OpenAPI 3.1 document served at `GET /api/openapi.json`, built from one table of the
//! routes (the integration tests call every route it names). Bodies and results are
//! the socket methods' types; the key and the error shape are spelt out, the rest are
//! described as objects.

use serde_json::{Map, Value, json};

/// One operation: method, path, id, summary, and what it takes and answers.
struct Op {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    /// Query parameters: (name, JSON type).
    query: &'static [(&'static str, &'static str)],
    /// A JSON body (a schema reference or inline), if it takes one.
    body: Option<&'static str>,
    /// Success statuses and the schema each answers with.
    ok: &'static [(&'static str, &'static str)],
    /// A change (read-only tokens get 403; creations and deletions are also limited).
    change: bool,
}

const KEY_OK: &[(&str, &str)] = &[("200", "Key"), ("202", "Key")];
const OBJ_OK: &[(&str, &str)] = &[("200", "Object")];

const OPS: &[Op] = &[
    Op {
        method: "get",
        path: "/api/keys",
        id: "listKeys",
        summary: "Keys by id (filters, paging)",
        query: &[
            ("state", "string"),
            ("search", "string"),
            ("offset", "integer"),
            ("limit", "integer"),
        ],
        body: None,
        ok: &[("200", "KeyPage")],
        change: false,
    },
    Op {
        method: "post",
        path: "/api/keys",
        id: "createKeys",
        summary: "Create one key, or `count` keys named PREFIX-N",
        query: &[],
        body: Some("KeyCreate"),
        ok: &[("201", "Object"), ("202", "Object")],
        change: true,
    },
    Op {
        method: "get",
        path: "/api/keys/{ref}",
        id: "getKey",
        summary: "One key",
        query: &[],
        body: None,
        ok: &[("200", "Key")],
        change: false,
    },
    Op {
        method: "patch",
        path: "/api/keys/{ref}",
        id: "updateKey",
        summary: "Change name, note, limit, expiry or reset",
        query: &[],
        body: Some("KeyUpdate"),
        ok: KEY_OK,
        change: true,
    },
    Op {
        method: "delete",
        path: "/api/keys/{ref}",
        id: "deleteKey",
        summary: "Delete a key",
        query: &[],
        body: None,
        ok: KEY_OK,
        change: true,
    },
    Op {
        method: "post",
        path: "/api/keys/{ref}/disable",
        id: "disableKey",
        summary: "Disable a key",
        query: &[],
        body: None,
        ok: KEY_OK,
        change: true,
    },
    Op {
        method: "post",
        path: "/api/keys/{ref}/enable",
        id: "enableKey",
        summary: "Enable a key",
        query: &[],
        body: None,
        ok: KEY_OK,
        change: true,
    },
    Op {
        method: "post",
        path: "/api/keys/{ref}/rotate",
        id: "rotateKey",
        summary: "Give a key a new UUID",
        query: &[],
        body: None,
        ok: KEY_OK,
        change: true,
    },
    Op {
        method: "post",
        path: "/api/keys/{ref}/reset",
        id: "resetKeyTraffic",
        summary: "Set a key's traffic totals to zero",
        query: &[],
        body: None,
        ok: OBJ_OK,
        change: true,
    },
    Op {
        method: "get",
        path: "/api/keys/{ref}/link",
        id: "keyLink",
        summary: "The key's vless:// share link",
        query: &[],
        body: None,
        ok: &[("200", "Link")],
        change: false,
    },
    Op {
        method: "get",
        path: "/api/keys/{ref}/config",
        id: "keyConfig",
        summary: "A complete client config",
        query: &[("socks_port", "integer"), ("http_port", "integer")],
        body: None,
        ok: OBJ_OK,
        change: false,
    },
    Op {
        method: "get",
        path: "/api/keys/{ref}/traffic",
        id: "keyTraffic",
        summary: "A key's traffic, rates, online users, resets",
        query: &[],
        body: None,
        ok: OBJ_OK,
        change: false,
    },
    Op {
        method: "get",
        path: "/api/traffic",
        id: "listTraffic",
        summary: "Traffic of every key",
        query: &[
            ("state", "string"),
            ("search", "string"),
            ("sort", "string"),
            ("offset", "integer"),
            ("limit", "integer"),
        ],
        body: None,
        ok: OBJ_OK,
        change: false,
    },
    Op {
        method: "post",
        path: "/api/traffic/sync",
        id: "syncTraffic",
        summary: "Run a traffic cycle now",
        query: &[],
        body: None,
        ok: OBJ_OK,
        change: true,
    },
    Op {
        method: "get",
        path: "/api/audit",
        id: "audit",
        summary: "Recorded changes, newest first",
        query: &[("key", "string"), ("limit", "integer")],
        body: None,
        ok: OBJ_OK,
        change: false,
    },
];

fn schema(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn error(description: &str) -> Value {
    json!({"description": description,
           "content": {"application/json": {"schema": schema("Error")}}})
}

fn operation(op: &Op) -> Value {
    let mut parameters: Vec<Value> = Vec::new();
    if op.path.contains("{ref}") {
        parameters.push(json!({
            "name": "ref", "in": "path", "required": true,
            "description": "The key: a numeric id, a UUID or a name (percent-encoded)",
            "schema": {"type": "string"}
        }));
    }
    for (name, kind) in op.query {
        parameters.push(
            json!({"name": name, "in": "query", "required": false, "schema": {"type": kind}}),
        );
    }
    let mut responses = Map::new();
    for (status, name) in op.ok {
        responses.insert(
            (*status).to_owned(),
            json!({"description": if *status == "202" { "Written; the core does not have it yet (pending)" } else { "OK" },
                   "content": {"application/json": {"schema": schema(name)}}}),
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
            "content": {"application/json": {"schema": schema(body)}}});
    }
    out
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPS {
        let entry = paths
            .entry(op.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[op.method] = operation(op);
    }
    paths.insert(
        "/health".into(),
        json!({"get": {"operationId": "health", "summary": "Core and database status (no token)",
            "security": [],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": schema("Health")}}},
                "429": error("A rate limit"),
                "503": {"description": "The database fails", "content": {"application/json": {"schema": schema("Health")}}}
            }}}),
    );
    paths.insert(
        "/api/openapi.json".into(),
        json!({"get": {"operationId": "openapi", "summary": "This document (no token)",
            "security": [],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                          "429": error("A rate limit")}}}),
    );
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
            "schemas": schemas(),
        }
    })
}

fn schemas() -> Value {
    let nullable_int = json!({"type": ["integer", "null"]});
    let state = json!({"type": "string", "enum": ["active", "disabled", "deleted"]});
    json!({
        "Object": {"type": "object"},
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
        "Key": {"type": "object",
            "required": ["id", "uuid", "name", "note", "created_at", "updated_at", "state", "pending"],
            "properties": {
                "id": {"type": "integer"}, "uuid": {"type": "string", "format": "uuid"},
                "name": {"type": "string"}, "note": {"type": "string"},
                "created_at": {"type": "integer"}, "updated_at": {"type": "integer"},
                "state": state,
                "applied": {"type": ["string", "null"]},
                "pending": {"type": "boolean"},
                "disable_reason": {"type": ["string", "null"]},
                "data_limit": nullable_int, "expires_at": nullable_int,
                "apply_error": {"type": ["string", "null"]}
            }},
        "KeyPage": {"type": "object", "required": ["keys", "total"], "properties": {
            "keys": {"type": "array", "items": schema("Key")}, "total": {"type": "integer"}}},
        "KeyCreate": {"type": "object", "description": "One key ({name, note?, data_limit?, expires_at?, reset?}) or many ({count, prefix})",
            "properties": {
                "name": {"type": "string"}, "note": {"type": "string"},
                "data_limit": nullable_int, "expires_at": nullable_int,
                "reset": {"type": "string"},
                "count": {"type": "integer", "minimum": 1, "maximum": 10000},
                "prefix": {"type": "string"}}},
        "KeyUpdate": {"type": "object", "additionalProperties": false, "properties": {
            "name": {"type": "string"}, "note": {"type": "string"},
            "data_limit": nullable_int, "expires_at": nullable_int,
            "reset": {"type": "string"}}},
        "Link": {"type": "object", "required": ["link"], "properties": {"link": {"type": "string"}}},
        "Health": {"type": "object", "required": ["status"], "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded", "down"]},
            "version": {"type": "string"},
            "database": {"type": "object"}, "core": {"type": "object"},
            "pending": {"type": "integer"}}}
    })
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
