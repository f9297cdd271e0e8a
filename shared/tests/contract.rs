//! The wire contract, round-tripped: every request, result, event and envelope is written
//! as one JSON line and read back equal. Adding a method, result, event, action or error
//! code without a sample here fails to compile (exhaustive matches) or fails a coverage test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fmt::Debug;

use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;
use veil_shared::api::*;
use veil_shared::model::{DisableReason, Key, KeyRef, KeyState};
use veil_shared::rpc::{
    ErrorCode, INVALID_REQUEST, JSONRPC, NotificationEnvelope, PARSE_ERROR, RequestEnvelope,
    ResponseEnvelope, RpcError, ServerMessage,
};
use veil_shared::traffic::{
    Online, OnlineIp, PollerInfo, Resolution, TrafficBucket, TrafficReset, TrafficSort, TrafficTick,
};
use veil_shared::validate;

// ---------------------------------------------------------------------------------------
// Samples

const UUID: &str = "6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d1e";

fn uuid() -> Uuid {
    Uuid::parse_str(UUID).unwrap()
}

/// A key with every optional member set.
fn full_key() -> Key {
    Key {
        id: 7,
        uuid: uuid(),
        name: "東京 office 🦊".into(),
        note: "line one\nline two\t\"quoted\"".into(),
        created_at: 1_795_708_980,
        updated_at: 1_795_709_000,
        state: KeyState::Disabled,
        applied: Some(KeyState::Active),
        pending: true,
        disable_reason: Some(DisableReason::Limited),
        data_limit: Some(u64::MAX),
        expires_at: Some(i64::MAX),
        apply_error: Some("proxy/vless: invalid flow".into()),
        nodes: None,
    }
}

/// A key with every optional member absent.
fn bare_key() -> Key {
    Key {
        id: i64::MAX,
        uuid: Uuid::nil(),
        name: "a".into(),
        note: String::new(),
        created_at: 0,
        updated_at: -1,
        state: KeyState::Active,
        applied: None,
        pending: false,
        disable_reason: None,
        data_limit: None,
        expires_at: None,
        apply_error: None,
        nodes: None,
    }
}

fn key_refs() -> [KeyRef; 3] {
    [
        KeyRef::Id(42),
        KeyRef::Uuid(uuid()),
        KeyRef::Name("Маша".into()),
    ]
}

/// Each request with all optional members, and again with none: one per method at least.
#[allow(clippy::too_many_lines, reason = "a table of samples, one per method")]
fn sample_requests() -> Vec<Request> {
    let mut out: Vec<Request> = vec![
        HelloParams::default().into(),
        HelloParams {
            client: Some("veil 0.1.0".into()),
            protocol: Some(veil_shared::PROTOCOL_VERSION),
        }
        .into(),
        KeyCreate {
            name: "alice".into(),
            note: None,
            data_limit: None,
            expires_at: None,
            reset: None,
            nodes: None,
        }
        .into(),
        KeyCreate {
            name: "👨‍👩‍👧 family".into(),
            note: Some("multi\nline".into()),
            data_limit: Some(u64::MAX),
            expires_at: Some(i64::MIN),
            reset: Some(ResetSchedule::Monthly(31)),
            nodes: None,
        }
        .into(),
        KeyCreateBulk {
            count: BULK_MAX,
            prefix: "batch".into(),
        }
        .into(),
        KeyList::default().into(),
        KeyList {
            state: Some(KeyState::Deleted),
            search: Some("ph".into()),
            offset: Some(u64::MAX),
            limit: Some(0),
        }
        .into(),
        KeyUpdate {
            key: KeyRef::Id(1),
            name: None,
            note: None,
            data_limit: None,
            expires_at: None,
            reset: None,
            nodes: None,
        }
        .into(),
        KeyUpdate {
            key: KeyRef::Name("bob".into()),
            name: Some("robert".into()),
            note: Some(String::new()),
            data_limit: Some(Some(1 << 20)),
            expires_at: Some(Some(1_800_000_000)),
            reset: Some(ResetSchedule::Weekly(7)),
            nodes: None,
        }
        .into(),
        // null clears: unlimited, never expires.
        KeyUpdate {
            key: KeyRef::Id(2),
            name: None,
            note: None,
            data_limit: Some(None),
            expires_at: Some(None),
            reset: Some(ResetSchedule::None),
            nodes: None,
        }
        .into(),
        HealthParams {}.into(),
        DoctorParams {}.into(),
        WatchParams {}.into(),
        AuditList::default().into(),
        TrafficList::default().into(),
        TrafficList {
            state: Some(KeyState::Disabled),
            search: Some("ph".into()),
            sort: Some(TrafficSort::Rate),
            offset: Some(5),
            limit: Some(10),
        }
        .into(),
        TrafficSync {}.into(),
        BackupParams { to: None }.into(),
        BackupParams {
            to: Some("/var/lib/veil/backups/veil-é 🦊.db".into()),
        }
        .into(),
        TokenAdd {
            name: "billing".into(),
            read_only: true,
            expires_at: Some(1_801_439_999),
        }
        .into(),
        TokenList {}.into(),
        TokenRevoke {
            name: "billing".into(),
        }
        .into(),
        WebhookList {}.into(),
        veil_shared::fleet::NodeListParams {}.into(),
        veil_shared::fleet::NodeDrainParams {
            node: "fra-1".into(),
            undo: false,
        }
        .into(),
        veil_shared::fleet::NodeDrainParams {
            node: "d\u{e9}-2 \"q\"".into(),
            undo: true,
        }
        .into(),
    ];
    for resolution in [Resolution::Minute, Resolution::Hour, Resolution::Day] {
        out.push(
            TrafficHistory {
                key: KeyRef::Id(3),
                resolution: Some(resolution),
                since: Some(0),
                until: Some(i64::MAX),
            }
            .into(),
        );
    }
    for key in key_refs() {
        out.push(KeyGet { key: key.clone() }.into());
        out.push(KeyDisable { key: key.clone() }.into());
        out.push(KeyEnable { key: key.clone() }.into());
        out.push(KeyDelete { key: key.clone() }.into());
        out.push(KeyRotate { key: key.clone() }.into());
        out.push(KeyLink { key: key.clone() }.into());
        out.push(
            KeyConfig {
                key: key.clone(),
                socks_port: None,
                http_port: None,
            }
            .into(),
        );
        out.push(
            KeyConfig {
                key: key.clone(),
                socks_port: Some(1080),
                http_port: Some(u16::MAX),
            }
            .into(),
        );
        out.push(
            KeySub {
                key: key.clone(),
                rotate: true,
                revoke: false,
            }
            .into(),
        );
        out.push(TrafficGet { key: key.clone() }.into());
        out.push(TrafficResetParams { key: key.clone() }.into());
        out.push(
            TrafficHistory {
                key: key.clone(),
                resolution: None,
                since: None,
                until: None,
            }
            .into(),
        );
        out.push(
            AuditList {
                key: Some(key),
                limit: Some(10_000),
            }
            .into(),
        );
    }
    out
}

/// Fails to compile when a method is added, pointing here to add its samples.
fn method_is_sampled(request: &Request) {
    match request {
        Request::Hello(_)
        | Request::KeyCreate(_)
        | Request::KeyCreateBulk(_)
        | Request::KeyList(_)
        | Request::KeyGet(_)
        | Request::KeyUpdate(_)
        | Request::KeyDisable(_)
        | Request::KeyEnable(_)
        | Request::KeyDelete(_)
        | Request::KeyRotate(_)
        | Request::KeyLink(_)
        | Request::KeyConfig(_)
        | Request::KeySub(_)
        | Request::Doctor(_)
        | Request::Health(_)
        | Request::Watch(_)
        | Request::AuditList(_)
        | Request::TrafficGet(_)
        | Request::TrafficList(_)
        | Request::TrafficSync(_)
        | Request::TrafficReset(_)
        | Request::TrafficHistory(_)
        | Request::Backup(_)
        | Request::TokenAdd(_)
        | Request::TokenList(_)
        | Request::TokenRevoke(_)
        | Request::WebhookList(_)
        | Request::NodeList(_)
        | Request::NodeDrain(_) => {}
    }
}

fn every_action() -> Vec<KeyAction> {
    // Fails to compile when an action is added, pointing here.
    let sampled = |a: KeyAction| match a {
        KeyAction::Created
        | KeyAction::Updated
        | KeyAction::Disabled
        | KeyAction::Enabled
        | KeyAction::Deleted
        | KeyAction::Rotated
        | KeyAction::Applied => a,
    };
    [
        KeyAction::Created,
        KeyAction::Updated,
        KeyAction::Disabled,
        KeyAction::Enabled,
        KeyAction::Deleted,
        KeyAction::Rotated,
        KeyAction::Applied,
    ]
    .into_iter()
    .map(sampled)
    .collect()
}

fn sample_health(full: bool) -> Health {
    Health {
        version: "0.1.0".into(),
        protocol: 1,
        pid: 4242,
        uptime_secs: 3_600,
        database: DatabaseHealth {
            ok: !full,
            path: "/var/lib/veil/veil.db".into(),
            keys: KeyCounts {
                active: 12,
                disabled: 3,
                deleted: 1,
            },
            error: full.then(|| "disk I/O error".into()),
        },
        core: CoreHealth {
            status: if full {
                CoreStatus::Down
            } else {
                CoreStatus::Unknown
            },
            flavor: "xray".into(),
            api: "127.0.0.1:10085".into(),
            uptime_secs: full.then_some(60),
            memory_bytes: full.then_some(1 << 30),
            last_error: full.then(|| "connection refused".into()),
            last_resync: full.then(|| ResyncInfo {
                at: 1_795_700_000,
                duration_ms: 120,
                keys: 12,
                reason: "core_restart".into(),
            }),
            drift: full.then_some(2),
        },
        pending: u64::from(full),
        refused: u64::from(full),
        config: full.then(|| ConfigFileHealth {
            path: "/usr/local/etc/xray/config.json".into(),
            writes: 7,
            last_write_at: Some(1_795_700_000),
            last_error: Some("test command failed".into()),
            unmanaged_clients: vec!["legacy@example".into()],
            behind: 3,
            behind_since: Some(1_795_700_100),
        }),
        http: full.then(|| {
            Box::new(veil_shared::api::HttpHealth {
                listen: "127.0.0.1:8080".into(),
                requests_last_minute: 12,
                auth_failures: vec![veil_shared::api::AuthFailure {
                    at: 1_795_708_000,
                    remote: "203.0.113.9".into(),
                }],
                tls: false,
                cert_not_after: None,
            })
        }),
        webhooks: Vec::new(),
        disconnect: Some(DisconnectHealth {
            status: if full {
                DisconnectStatus::Unavailable {
                    reason: "veild lacks CAP_NET_ADMIN".into(),
                }
            } else {
                DisconnectStatus::On
            },
            connections_cut: u64::from(full) * 3,
            last: full.then(|| "key 7: disconnected 3 connections from 2 addresses".into()),
        }),
        fleet: Some(veil_shared::fleet::FleetHealth {
            node: "fra-1".into(),
            up: false,
            since: Some(1_790_000_000),
            last_error: Some("connection refused".into()),
            last_sync: Some(1_789_999_990),
            pulled: 3,
            pushed: 2,
        }),
    }
}

fn sample_audit() -> AuditPage {
    AuditPage {
        entries: vec![
            AuditEntry {
                id: 1,
                time: 1_795_708_980,
                actor: Actor::Peer {
                    uid: 0,
                    gid: 0,
                    pid: Some(99),
                },
                uid: Some(0),
                pid: Some(99),
                method: "key.create".into(),
                key_id: Some(7),
                key_ref: Some("alice".into()),
                outcome: "ok".into(),
                detail: Some("created".into()),
            },
            AuditEntry {
                id: 2,
                time: 0,
                actor: Actor::Token {
                    name: "billing".into(),
                    remote: "203.0.113.9:5123".into(),
                },
                uid: None,
                pid: None,
                method: "key.get".into(),
                key_id: None,
                key_ref: None,
                outcome: "not_found".into(),
                detail: None,
            },
        ],
    }
}

/// A key's traffic with every optional member set.
fn full_traffic() -> KeyTraffic {
    KeyTraffic {
        id: 7,
        name: "東京 office 🦊".into(),
        state: KeyState::Disabled,
        disable_reason: Some(DisableReason::Limited),
        uplink: u64::MAX,
        downlink: 5 * 1024 * 1024,
        lifetime_uplink: u64::MAX,
        lifetime_downlink: 1,
        uplink_rate: 12_345,
        downlink_rate: u64::MAX,
        last_active: Some(1_795_708_980),
        data_limit: Some(1 << 20),
        expires_at: Some(i64::MIN),
        reset: ResetSchedule::Weekly(1),
        next_reset_at: Some(1_795_737_600),
        last_reset_at: Some(1_795_132_800),
    }
}

/// A key's traffic with every optional member absent.
fn bare_traffic() -> KeyTraffic {
    KeyTraffic {
        id: 1,
        name: "a".into(),
        state: KeyState::Active,
        disable_reason: None,
        uplink: 0,
        downlink: 0,
        lifetime_uplink: 0,
        lifetime_downlink: 0,
        uplink_rate: 0,
        downlink_rate: 0,
        last_active: None,
        data_limit: None,
        expires_at: None,
        reset: ResetSchedule::None,
        next_reset_at: None,
        last_reset_at: None,
    }
}

fn sample_onlines() -> Vec<Online> {
    vec![
        Online::Unsupported {
            reason: "v2fly has no online statistics".into(),
        },
        Online::Off,
        Online::Known {
            count: 2,
            ips: vec![
                OnlineIp {
                    ip: "203.0.113.7".into(),
                    last_seen: 1_795_708_980,
                },
                OnlineIp {
                    ip: "[2001:db8::1]".into(),
                    last_seen: 0,
                },
            ],
        },
        Online::Known {
            count: 0,
            ips: vec![],
        },
        Online::Unavailable {
            error: "core unreachable".into(),
        },
    ]
}

fn sample_cycle(full: bool) -> CycleReport {
    CycleReport {
        at: 1_795_708_980,
        counters: if full { 20_000 } else { 0 },
        moved: u64::from(full),
        epoch: if full { u64::MAX } else { 1 },
        new_epoch: full,
        took_us: 4_321,
        disabled: if full { vec![1, 2] } else { vec![] },
        enabled: if full { vec![3] } else { vec![] },
        reset: if full { vec![4] } else { vec![] },
    }
}

// ---------------------------------------------------------------------------------------
// Round-trip helpers

/// Serializes to one line: no raw newline inside, whatever the payload holds.
fn to_line<T: Serialize>(value: &T) -> String {
    let mut line = serde_json::to_string(value).unwrap();
    assert!(!line.contains('\n'), "a message spans lines: {line}");
    line.push('\n');
    line
}

fn from_line<T: DeserializeOwned>(line: &str) -> T {
    let body = line.strip_suffix('\n').expect("a line ends in a newline");
    serde_json::from_str(body).unwrap()
}

/// A request as a client sends it and the daemon reads it.
fn request_round_trip(request: &Request) -> Request {
    let envelope = RequestEnvelope {
        jsonrpc: JSONRPC.into(),
        id: Some(json!(1)),
        method: request.name().into(),
        params: Some(request.params().unwrap()),
    };
    let read: RequestEnvelope = from_line(&to_line(&envelope));
    assert_eq!(read, envelope);
    Request::parse(&read.method, read.params).unwrap()
}

/// A result as the daemon sends it and a client reads it, typed by the method.
fn result_round_trip<M: Method>(result: &M::Output) -> Value
where
    M::Output: PartialEq + Debug,
{
    let value = serde_json::to_value(result).unwrap();
    // A `null` result would read back as "no result" (both are `None`), so every result
    // must be an object.
    assert!(value.is_object(), "{}: result is not an object", M::NAME);
    let line = to_line(&ResponseEnvelope::ok(json!(9), value.clone()));
    let ServerMessage::Response(response) = from_line(&line) else {
        panic!("{}: a response read as a notification", M::NAME);
    };
    assert_eq!(response.id, json!(9));
    assert_eq!(response.error, None);
    let read: M::Output = serde_json::from_value(response.result.unwrap()).unwrap();
    assert_eq!(&read, result, "{}", M::NAME);
    value
}

fn event_round_trip(event: &Event) {
    let envelope = NotificationEnvelope {
        jsonrpc: JSONRPC.into(),
        method: event.method().into(),
        params: event.params().unwrap(),
    };
    let line = to_line(&envelope);
    let ServerMessage::Notification(read) = from_line(&line) else {
        panic!("a notification read as a response: {line}");
    };
    assert_eq!(read, envelope);
    assert_eq!(
        Event::parse(&read.method, read.params).unwrap(),
        Some(event.clone())
    );
}

fn refused(method: &str, params: Value) -> ErrorCode {
    match Request::parse(method, Some(params.clone())) {
        Ok(r) => panic!("{method} {params} was accepted as {r:?}"),
        Err(e) => {
            assert_eq!(e.code, e.kind().rpc_code());
            e.kind()
        }
    }
}

// ---------------------------------------------------------------------------------------
// Requests

#[test]
fn samples_cover_every_method() {
    let samples = sample_requests();
    samples.iter().for_each(method_is_sampled);
    let sampled: BTreeSet<&str> = samples.iter().map(Request::name).collect();
    let methods: BTreeSet<&str> = Request::METHODS.iter().copied().collect();
    assert_eq!(sampled, methods);
    assert_eq!(
        methods.len(),
        Request::METHODS.len(),
        "a method name is listed twice"
    );
}

#[test]
fn every_request_round_trips() {
    for request in sample_requests() {
        assert_eq!(request_round_trip(&request), request);
    }
}

#[test]
fn method_names_match_the_method_trait() {
    fn check<M: Method + Clone>(params: M) {
        let request: Request = params.into();
        assert_eq!(request.name(), M::NAME);
    }
    check(HelloParams::default());
    check(KeyList::default());
    check(HealthParams {});
    check(WatchParams {});
    check(AuditList::default());
    check(KeyGet { key: KeyRef::Id(1) });
    check(KeyCreateBulk {
        count: 1,
        prefix: "p".into(),
    });
}

#[test]
fn missing_params_read_as_an_empty_object() {
    let optional_only: [(&str, Request); 12] = [
        ("hello", HelloParams::default().into()),
        ("key.list", KeyList::default().into()),
        ("health", HealthParams {}.into()),
        ("watch", WatchParams {}.into()),
        ("audit.list", AuditList::default().into()),
        ("traffic.list", TrafficList::default().into()),
        ("traffic.sync", TrafficSync {}.into()),
        ("doctor", DoctorParams {}.into()),
        ("backup", BackupParams::default().into()),
        ("token.list", TokenList {}.into()),
        ("webhook.list", WebhookList {}.into()),
        ("node.list", veil_shared::fleet::NodeListParams {}.into()),
    ];
    for (method, empty) in optional_only.iter().cloned() {
        assert_eq!(Request::parse(method, None).unwrap(), empty, "{method}");
        assert_eq!(Request::parse(method, Some(Value::Null)).unwrap(), empty);
        assert_eq!(Request::parse(method, Some(json!({}))).unwrap(), empty);
        // Absent optional members are left out when sending, so `{}` goes on the wire.
        assert_eq!(empty.params().unwrap(), json!({}), "{method}");
    }
    // Methods with a required member refuse missing params rather than guessing.
    for method in Request::METHODS {
        if optional_only.iter().any(|(name, _)| name == method) {
            continue;
        }
        let err = Request::parse(method, None).unwrap_err();
        assert_eq!(err.kind(), ErrorCode::InvalidInput, "{method}");
    }
}

#[test]
fn unknown_members_are_refused() {
    for request in sample_requests() {
        let Value::Object(mut params) = request.params().unwrap() else {
            panic!("{}: params are not an object", request.name());
        };
        params.insert("bogus".into(), json!(1));
        let kind = refused(request.name(), Value::Object(params));
        assert_eq!(kind, ErrorCode::InvalidInput, "{}", request.name());
    }
}

#[test]
fn wrong_types_are_refused() {
    let cases = [
        ("hello", json!({"protocol": "1"})),
        ("hello", json!({"client": 5})),
        ("key.link", json!({"key": 0})),
        ("key.config", json!({"key": 1, "socks_port": 70000})),
        ("key.config", json!({"key": 1, "http_port": -1})),
        ("key.config", json!({"key": 1, "http_port": "8080"})),
        ("key.create", json!({"name": 5})),
        ("key.create", json!({"name": "a", "note": ["x"]})),
        ("key.create_bulk", json!({"count": -1, "prefix": "p"})),
        ("key.create_bulk", json!({"count": 1.5, "prefix": "p"})),
        (
            "key.create_bulk",
            json!({"count": 4_294_967_296_u64, "prefix": "p"}),
        ),
        ("key.list", json!({"state": "frozen"})),
        ("key.list", json!({"state": "Active"})),
        ("key.list", json!({"limit": "ten"})),
        ("key.list", json!({"offset": -1})),
        ("key.get", json!({"key": true})),
        ("key.get", json!({"key": null})),
        ("key.get", json!({"key": 1.5})),
        ("key.get", json!({"key": {"id": 1}})),
        ("key.update", json!({"key": 1, "name": false})),
        ("audit.list", json!({"limit": -5})),
        ("audit.list", json!({"key": []})),
        ("key.create", json!({"name": "a", "data_limit": -1})),
        ("key.create", json!({"name": "a", "data_limit": "50GiB"})),
        (
            "key.create",
            json!({"name": "a", "expires_at": "2027-01-01"}),
        ),
        ("key.create", json!({"name": "a", "reset": "hourly"})),
        ("key.update", json!({"key": 1, "reset": "monthly:32"})),
        ("key.update", json!({"key": 1, "data_limit": 1.5})),
        ("traffic.list", json!({"sort": "speed"})),
        ("traffic.history", json!({"key": 1, "resolution": "week"})),
        ("traffic.history", json!({"key": 1, "since": "yesterday"})),
        ("traffic.get", json!({"key": 0})),
    ];
    for (method, params) in cases {
        assert_eq!(refused(method, params), ErrorCode::InvalidInput, "{method}");
    }
}

#[test]
fn params_must_be_named() {
    for method in Request::METHODS {
        for params in [json!([]), json!([1]), json!("x"), json!(1), json!(true)] {
            assert_eq!(refused(method, params), ErrorCode::InvalidInput, "{method}");
        }
    }
}

#[test]
fn unknown_methods_are_refused() {
    for method in [
        "",
        "key",
        "key.frobnicate",
        "KEY.GET",
        "event.key",
        "rpc.discover",
    ] {
        let err = Request::parse(method, None).unwrap_err();
        assert_eq!(err.kind(), ErrorCode::UnknownMethod, "{method:?}");
        assert_eq!(err.code, -32601);
    }
}

// ---------------------------------------------------------------------------------------
// Key references

fn key_ref_from(value: Value) -> Result<KeyRef, serde_json::Error> {
    serde_json::from_value(value)
}

#[test]
fn key_refs_accept_ids_uuids_and_names() {
    assert_eq!(key_ref_from(json!(7)).unwrap(), KeyRef::Id(7));
    assert_eq!(key_ref_from(json!("7")).unwrap(), KeyRef::Id(7));
    assert_eq!(key_ref_from(json!(" 7 ")).unwrap(), KeyRef::Id(7));
    assert_eq!(key_ref_from(json!(i64::MAX)).unwrap(), KeyRef::Id(i64::MAX));
    for form in [
        UUID.to_owned(),
        UUID.to_uppercase(),
        UUID.replace('-', ""),
        format!("{{{UUID}}}"),
        format!("urn:uuid:{UUID}"),
    ] {
        assert_eq!(
            key_ref_from(json!(form)).unwrap(),
            KeyRef::Uuid(uuid()),
            "{form}"
        );
    }
    assert_eq!(
        key_ref_from(json!("alice")).unwrap(),
        KeyRef::Name("alice".into())
    );
    assert_eq!(
        key_ref_from(json!("東京 🦊")).unwrap(),
        KeyRef::Name("東京 🦊".into())
    );
}

#[test]
fn key_refs_refuse_zero_negative_and_empty() {
    for bad in [
        json!(0),
        json!(-1),
        json!(i64::MIN),
        json!("0"),
        json!("-3"),
        json!("+0"),
        json!(""),
        json!("   "),
        json!("99999999999999999999"),
        json!(u64::MAX),
    ] {
        assert!(key_ref_from(bad.clone()).is_err(), "{bad} was accepted");
        assert_eq!(
            refused("key.get", json!({"key": bad})),
            ErrorCode::InvalidInput
        );
    }
}

#[test]
fn key_refs_write_ids_as_numbers_and_uuids_canonically() {
    assert_eq!(serde_json::to_value(KeyRef::Id(7)).unwrap(), json!(7));
    let upper = validate::key_ref(&UUID.to_uppercase()).unwrap();
    assert_eq!(serde_json::to_value(&upper).unwrap(), json!(UUID));
    assert_eq!(
        serde_json::to_value(KeyRef::Name("bob".into())).unwrap(),
        json!("bob")
    );
    for key in key_refs() {
        let back: KeyRef = serde_json::from_value(serde_json::to_value(&key).unwrap()).unwrap();
        assert_eq!(back, key);
    }
}

// ---------------------------------------------------------------------------------------
// Results

#[test]
#[allow(clippy::too_many_lines, reason = "a table of samples, one per result")]
fn every_result_round_trips() {
    let mut covered = BTreeSet::new();
    let mut mark = |name: &'static str| covered.insert(name);

    result_round_trip::<HelloParams>(&HelloResult {
        protocol: veil_shared::PROTOCOL_VERSION,
        protocol_minor: veil_shared::PROTOCOL_MINOR,
        version: veil_shared::VERSION.into(),
    });
    mark(HelloParams::NAME);
    for key in [full_key(), bare_key()] {
        result_round_trip::<KeyCreate>(&key);
        result_round_trip::<KeyGet>(&key);
        result_round_trip::<KeyUpdate>(&key);
        result_round_trip::<KeyDisable>(&key);
        result_round_trip::<KeyEnable>(&key);
        result_round_trip::<KeyDelete>(&key);
        result_round_trip::<KeyRotate>(&key);
    }
    for name in [
        KeyCreate::NAME,
        KeyGet::NAME,
        KeyUpdate::NAME,
        KeyDisable::NAME,
        KeyEnable::NAME,
        KeyDelete::NAME,
        KeyRotate::NAME,
    ] {
        mark(name);
    }
    result_round_trip::<KeyCreateBulk>(&KeyBulk {
        keys: vec![full_key(), bare_key()],
    });
    result_round_trip::<KeyCreateBulk>(&KeyBulk { keys: vec![] });
    mark(KeyCreateBulk::NAME);
    result_round_trip::<KeyList>(&KeyPage {
        keys: vec![full_key(), bare_key()],
        total: 1_000,
    });
    result_round_trip::<KeyList>(&KeyPage {
        keys: vec![],
        total: 0,
    });
    mark(KeyList::NAME);
    result_round_trip::<HealthParams>(&sample_health(true));
    result_round_trip::<HealthParams>(&sample_health(false));
    mark(HealthParams::NAME);
    result_round_trip::<WatchParams>(&WatchResult { subscribed: true });
    mark(WatchParams::NAME);
    result_round_trip::<AuditList>(&sample_audit());
    result_round_trip::<AuditList>(&AuditPage { entries: vec![] });
    mark(AuditList::NAME);
    result_round_trip::<KeyLink>(&KeyLinkResult {
        link: "vless://6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d1e@[2001:db8::1]:443?encryption=none\
               &security=none&type=tcp&headerType=none#%D0%9C%D0%B0%D1%88%D0%B0%20%F0%9F%A6%8A"
            .into(),
    });
    mark(KeyLink::NAME);
    result_round_trip::<KeyConfig>(&KeyConfigResult {
        config: json!({"inbounds": [], "outbounds": [{"protocol": "vless"}], "x": [1.5, null]}),
    });
    mark(KeyConfig::NAME);
    result_round_trip::<DoctorParams>(&DoctorReport {
        findings: vec![
            Finding {
                check: "api_loopback".into(),
                severity: Severity::Error,
                problem: "the API listens on 0.0.0.0".into(),
                fix: "listen on 127.0.0.1".into(),
            },
            Finding {
                check: "phone_policy".into(),
                severity: Severity::Info,
                problem: "p".into(),
                fix: "f".into(),
            },
        ],
        checked: vec!["api_loopback".into(), "phone_policy".into()],
    });
    result_round_trip::<DoctorParams>(&DoctorReport::default());
    mark(DoctorParams::NAME);
    for online in sample_onlines() {
        result_round_trip::<TrafficGet>(&KeyTrafficDetail {
            traffic: full_traffic(),
            online,
            resets: vec![
                TrafficReset {
                    at: 1_795_700_000,
                    uplink: u64::MAX,
                    downlink: 0,
                    reason: "periodic".into(),
                },
                TrafficReset {
                    at: 0,
                    uplink: 1,
                    downlink: 2,
                    reason: "manual".into(),
                },
            ],
        });
    }
    result_round_trip::<TrafficGet>(&KeyTrafficDetail {
        traffic: bare_traffic(),
        online: Online::Off,
        resets: vec![],
    });
    mark(TrafficGet::NAME);
    for last_cycle in [None, Some(sample_cycle(true)), Some(sample_cycle(false))] {
        result_round_trip::<TrafficList>(&TrafficPage {
            keys: vec![full_traffic(), bare_traffic()],
            total: 2,
            poller: PollerInfo {
                interval_ms: 10_000,
                last_cycle,
            },
        });
    }
    mark(TrafficList::NAME);
    result_round_trip::<TrafficSync>(&sample_cycle(true));
    result_round_trip::<TrafficSync>(&sample_cycle(false));
    mark(TrafficSync::NAME);
    result_round_trip::<TrafficResetParams>(&full_traffic());
    result_round_trip::<TrafficResetParams>(&bare_traffic());
    mark(TrafficResetParams::NAME);
    for resolution in [Resolution::Minute, Resolution::Hour, Resolution::Day] {
        result_round_trip::<TrafficHistory>(&TrafficHistoryPage {
            key_id: 7,
            resolution,
            buckets: vec![
                TrafficBucket {
                    at: 1_795_708_800,
                    uplink: 1,
                    downlink: u64::MAX,
                },
                TrafficBucket {
                    at: 1_795_708_860,
                    uplink: 0,
                    downlink: 0,
                },
            ],
        });
    }
    mark(TrafficHistory::NAME);
    result_round_trip::<BackupParams>(&BackupResult {
        path: "/var/lib/veil/backups/veil-20261202T153000Z.db".into(),
        bytes: 4096,
        keys: 10_000,
        audit_rows: 3,
        schema: 6,
        took_ms: 26,
        rotated: vec!["/var/lib/veil/backups/veil-20261125T153000Z.db".into()],
    });
    mark(BackupParams::NAME);
    result_round_trip::<KeySub>(&KeySubResult {
        key_id: 7,
        url: Some("https://vpn.example.com/sub/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()),
        token: Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()),
        created_at: Some(1_795_700_000),
        revoked: false,
    });
    result_round_trip::<KeySub>(&KeySubResult {
        key_id: 7,
        url: None,
        token: None,
        created_at: None,
        revoked: true,
    });
    mark(KeySub::NAME);
    let token = TokenInfo {
        name: "billing".into(),
        read_only: false,
        created_at: 1_795_700_000,
        expires_at: Some(1_801_439_999),
        revoked_at: None,
        last_used_at: Some(1_795_708_000),
    };
    result_round_trip::<TokenAdd>(&TokenAdded {
        token: token.clone(),
        secret: "veil_0123456789abcdef".into(),
    });
    mark(TokenAdd::NAME);
    result_round_trip::<TokenList>(&TokenPage {
        tokens: vec![token.clone()],
    });
    mark(TokenList::NAME);
    result_round_trip::<TokenRevoke>(&token);
    mark(TokenRevoke::NAME);
    result_round_trip::<WebhookList>(&WebhookPage {
        webhooks: vec![WebhookStatus {
            name: "billing".into(),
            url: "https://admin.example.com/hook".into(),
            events: vec!["*".into()],
            pending: 2,
            failed: 1,
            delivered: 40,
            last_attempt_at: Some(1_795_708_000),
            last_success_at: Some(1_795_707_000),
            last_error: Some("HTTP 500".into()),
        }],
    });
    mark(WebhookList::NAME);
    let node = veil_shared::fleet::NodeInfo {
        name: "fra-1".into(),
        draining: true,
        last_seen: Some(1_795_708_000),
        core: Some("up".into()),
        keys_active: Some(1_200),
        keys_pending: Some(0),
        veild: Some("0.1.0".into()),
        host: Some("fra.example.com".into()),
        uplink: 5 << 20,
        downlink: 3 << 30,
    };
    result_round_trip::<veil_shared::fleet::NodeListParams>(&veil_shared::fleet::NodeList {
        this: "fra-1".into(),
        registry_up: false,
        nodes: vec![
            node.clone(),
            veil_shared::fleet::NodeInfo {
                name: "ams-2".into(),
                draining: false,
                last_seen: None,
                core: None,
                keys_active: None,
                keys_pending: None,
                veild: None,
                host: None,
                uplink: 0,
                downlink: 0,
            },
        ],
    });
    mark(veil_shared::fleet::NodeListParams::NAME);
    result_round_trip::<veil_shared::fleet::NodeDrainParams>(&node);
    mark(veil_shared::fleet::NodeDrainParams::NAME);

    let methods: BTreeSet<&str> = Request::METHODS.iter().copied().collect();
    assert_eq!(covered, methods, "a method's result has no sample");
}

#[test]
fn absent_optional_result_members_are_left_out_and_tolerated() {
    let value = serde_json::to_value(sample_health(false)).unwrap();
    assert!(value["database"].get("error").is_none());
    assert!(value["core"].get("last_error").is_none());
    // Key's optional members are always written (as null) so readers see the whole key.
    let key = serde_json::to_value(bare_key()).unwrap();
    assert_eq!(key["applied"], Value::Null);
    assert_eq!(key["expires_at"], Value::Null);
    // Readers accept a key whose optional members are missing altogether.
    let mut trimmed = key.as_object().unwrap().clone();
    for member in ["applied", "disable_reason", "data_limit", "expires_at"] {
        trimmed.remove(member);
    }
    let read: Key = serde_json::from_value(Value::Object(trimmed)).unwrap();
    assert_eq!(read, bare_key());
}

#[test]
fn results_tolerate_members_from_newer_daemons() {
    let mut key = serde_json::to_value(full_key()).unwrap();
    key["added_later"] = json!({"x": 1});
    let read: Key = serde_json::from_value(key).unwrap();
    assert_eq!(read, full_key());
}

#[test]
fn enums_are_written_as_their_snake_case_names() {
    for state in KeyState::ALL {
        assert_eq!(serde_json::to_value(state).unwrap(), json!(state.as_str()));
        assert_eq!(KeyState::parse(state.as_str()), Some(state));
    }
    for reason in DisableReason::ALL {
        assert_eq!(
            serde_json::to_value(reason).unwrap(),
            json!(reason.as_str())
        );
        assert_eq!(DisableReason::parse(reason.as_str()), Some(reason));
    }
    assert_eq!(serde_json::to_value(CoreStatus::Up).unwrap(), json!("up"));
    for severity in [Severity::Error, Severity::Warning, Severity::Info] {
        assert_eq!(
            serde_json::to_value(severity).unwrap(),
            json!(severity.as_str())
        );
    }
    assert_eq!(
        serde_json::to_value(KeyAction::Applied).unwrap(),
        json!("applied")
    );
}

// ---------------------------------------------------------------------------------------
// Events

#[test]
fn actors_are_tagged_by_kind_and_old_untagged_peers_still_read() {
    let peer = Actor::Peer {
        uid: 1000,
        gid: 100,
        pid: Some(7),
    };
    assert_eq!(
        serde_json::to_value(&peer).unwrap(),
        json!({"kind": "peer", "uid": 1000, "gid": 100, "pid": 7})
    );
    let old: Actor = serde_json::from_value(json!({"uid": 1000, "gid": 100, "pid": 7})).unwrap();
    assert_eq!(old, peer);
    let token: Actor =
        serde_json::from_value(json!({"kind": "token", "name": "billing", "remote": "10.0.0.5"}))
            .unwrap();
    assert_eq!(token.describe(), "token 'billing' from 10.0.0.5");
    let daemon: Actor = serde_json::from_value(json!({"kind": "daemon", "task": "reset"})).unwrap();
    assert_eq!(daemon.describe(), "veild (reset)");
    assert!(serde_json::from_value::<Actor>(json!({"kind": "alien"})).is_err());
    assert!(serde_json::from_value::<Actor>(json!({"kind": "daemon", "task": "x"})).is_err());
}

#[test]
fn every_event_round_trips() {
    let actors = [
        None,
        Some(Actor::Peer {
            uid: 0,
            gid: 0,
            pid: None,
        }),
        Some(Actor::Peer {
            uid: 1000,
            gid: 999,
            pid: Some(4242),
        }),
        Some(Actor::Token {
            name: "billing bot 🦊".into(),
            remote: "[2001:db8::1]:443".into(),
        }),
        Some(Actor::Daemon {
            task: DaemonTask::Enforce,
        }),
    ];
    for action in every_action() {
        for actor in &actors {
            for key in [full_key(), bare_key()] {
                let actor = actor.clone();
                event_round_trip(&Event::Key(KeyEvent { action, key, actor }));
            }
        }
    }
    for missed in [0, 1, u64::MAX] {
        event_round_trip(&Event::Lagged(LaggedEvent { missed }));
    }
    let tick = TrafficTick {
        id: 7,
        uplink_rate: 1_000,
        downlink_rate: u64::MAX,
        uplink: 0,
        downlink: 5 * 1024 * 1024,
    };
    for keys in [
        vec![],
        vec![tick],
        vec![tick, TrafficTick { id: 8, ..tick }],
    ] {
        for interval_ms in [0, 10_000] {
            event_round_trip(&Event::Traffic(TrafficEvent {
                at: 1_795_708_980,
                interval_ms,
                keys: keys.clone(),
            }));
        }
    }
    let traffic = Event::Traffic(TrafficEvent {
        at: 1,
        interval_ms: 1,
        keys: vec![],
    });
    assert_eq!(traffic.method(), "event.traffic");
}

#[test]
fn event_method_names_are_stable() {
    let lagged = Event::Lagged(LaggedEvent { missed: 1 });
    assert_eq!(lagged.method(), "event.lagged");
    let key = Event::Key(KeyEvent {
        action: KeyAction::Created,
        key: bare_key(),
        actor: None,
    });
    assert_eq!(key.method(), "event.key");
    // A daemon-made change leaves the actor out rather than writing null.
    assert!(key.params().unwrap().get("actor").is_none());
}

#[test]
fn unknown_events_are_skipped_and_bad_ones_refused() {
    assert_eq!(
        Event::parse("event.added_later", json!({"any": 1})).unwrap(),
        None
    );
    assert!(Event::parse(Event::TRAFFIC, json!({"keys": "all"})).is_err());
    assert!(Event::parse(Event::LAGGED, json!({"missed": "many"})).is_err());
    assert!(Event::parse(Event::KEY, json!({"action": "exploded"})).is_err());
}

// ---------------------------------------------------------------------------------------
// Envelopes and errors

/// Fails to compile when an error code is added, pointing here.
fn code_is_listed(code: ErrorCode) -> ErrorCode {
    match code {
        ErrorCode::InvalidInput
        | ErrorCode::UnknownMethod
        | ErrorCode::NotFound
        | ErrorCode::Conflict
        | ErrorCode::CoreUnavailable
        | ErrorCode::Forbidden
        | ErrorCode::VersionMismatch
        | ErrorCode::TooManyConnections
        | ErrorCode::Internal
        | ErrorCode::RegistryUnavailable => code,
    }
}

#[test]
fn error_codes_are_distinct_and_named_consistently() {
    let all: Vec<ErrorCode> = ErrorCode::ALL.into_iter().map(code_is_listed).collect();
    assert_eq!(all.len(), 10, "ErrorCode::ALL misses a code");
    let rpc: BTreeSet<i64> = all.iter().map(|c| c.rpc_code()).collect();
    assert_eq!(rpc.len(), all.len(), "two codes share an rpc code");
    let names: BTreeSet<&str> = all.iter().map(|c| c.as_str()).collect();
    assert_eq!(names.len(), all.len());
    for code in all {
        assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
        assert_eq!(code.to_string(), code.as_str());
        let n = code.rpc_code();
        // JSON-RPC's own codes, or the range it reserves for servers.
        assert!(
            [-32602, -32601, -32603].contains(&n) || (-32099..=-32000).contains(&n),
            "{code}: {n}"
        );
        assert!(n != PARSE_ERROR && n != INVALID_REQUEST, "{code}");
    }
}

#[test]
fn request_envelopes_round_trip() {
    let envelopes = [
        RequestEnvelope {
            jsonrpc: JSONRPC.into(),
            id: Some(json!(1)),
            method: "key.get".into(),
            params: Some(json!({"key": 7})),
        },
        RequestEnvelope {
            jsonrpc: JSONRPC.into(),
            id: Some(json!("abc")),
            method: "health".into(),
            params: None,
        },
        // No id: a notification, executed but not answered.
        RequestEnvelope {
            jsonrpc: JSONRPC.into(),
            id: None,
            method: "key.disable".into(),
            params: Some(json!({"key": "bob"})),
        },
    ];
    for envelope in envelopes {
        let line = to_line(&envelope);
        assert_eq!(from_line::<RequestEnvelope>(&line), envelope);
    }
    let bare: RequestEnvelope = from_line("{\"jsonrpc\":\"2.0\",\"method\":\"health\"}\n");
    assert_eq!((bare.id, bare.params), (None, None));
}

#[test]
fn ok_responses_round_trip() {
    for id in [json!(1), json!("x"), json!(u64::MAX)] {
        let envelope = ResponseEnvelope::ok(id, json!({"subscribed": true}));
        let line = to_line(&envelope);
        assert!(!line.contains("\"error\""), "{line}");
        assert_eq!(from_line::<ResponseEnvelope>(&line), envelope);
        let ServerMessage::Response(read) = from_line(&line) else {
            panic!("not a response: {line}");
        };
        assert_eq!(read, envelope);
    }
}

#[test]
fn error_responses_round_trip_for_every_code() {
    for code in ErrorCode::ALL {
        let error = RpcError::new(code, format!("{code} happened: 'ü' \"q\"\nnext"));
        assert_eq!(error.code, code.rpc_code());
        assert_eq!(error.kind(), code);
        let envelope = ResponseEnvelope::err(json!(3), error.clone());
        let line = to_line(&envelope);
        assert!(!line.contains("\"result\""), "{line}");
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["error"]["data"]["code"], json!(code.as_str()));
        assert_eq!(value["error"]["code"], json!(code.rpc_code()));
        let ServerMessage::Response(read) = from_line(&line) else {
            panic!("not a response: {line}");
        };
        assert_eq!(read, envelope);
        assert_eq!(read.error.unwrap().to_string(), error.to_string());
    }
    // Errors for unreadable lines carry id null and JSON-RPC's own codes.
    for error in [
        RpcError::parse_error("not JSON"),
        RpcError::invalid_request("not a request"),
    ] {
        assert_eq!(error.kind(), ErrorCode::InvalidInput);
        let envelope = ResponseEnvelope::err(Value::Null, error);
        let ServerMessage::Response(read) = from_line(&to_line(&envelope)) else {
            panic!("not a response");
        };
        assert_eq!(read, envelope);
    }
    assert_eq!(RpcError::parse_error("x").code, PARSE_ERROR);
    assert_eq!(RpcError::invalid_request("x").code, INVALID_REQUEST);
}

#[test]
fn notifications_round_trip_and_are_told_from_responses() {
    let envelope = NotificationEnvelope {
        jsonrpc: JSONRPC.into(),
        method: Event::LAGGED.into(),
        params: json!({"missed": 2}),
    };
    let line = to_line(&envelope);
    assert_eq!(from_line::<NotificationEnvelope>(&line), envelope);
    assert_eq!(
        from_line::<ServerMessage>(&line),
        ServerMessage::Notification(envelope)
    );
    // A response to a request with id null is still a response.
    let response = ResponseEnvelope::err(Value::Null, RpcError::parse_error("x"));
    assert!(matches!(
        from_line::<ServerMessage>(&to_line(&response)),
        ServerMessage::Response(_)
    ));
}

// ---------------------------------------------------------------------------------------
// Properties

/// Names as a user might type them: any non-control text, kept only if valid.
fn valid_name() -> impl Strategy<Value = String> {
    "\\PC{1,64}".prop_filter_map("not a valid name", |raw| validate::name(&raw).ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn keys_with_any_valid_name_round_trip(
        name in valid_name(),
        note in "\\PC{0,40}",
        id in 1..i64::MAX,
        created in any::<i64>(),
        pending in any::<bool>(),
        limit in proptest::option::of(any::<u64>()),
    ) {
        let key = Key { id, name, note, created_at: created, pending, data_limit: limit, ..full_key() };
        let page = KeyPage { keys: vec![key.clone()], total: 1 };
        let line = to_line(&ResponseEnvelope::ok(json!(1), serde_json::to_value(&page).unwrap()));
        let ServerMessage::Response(read) = from_line(&line) else {
            panic!("not a response");
        };
        let read: KeyPage = serde_json::from_value(read.result.unwrap()).unwrap();
        prop_assert_eq!(read, page);
    }

    /// A valid name, used as a key reference, is read as that name: never as an id or
    /// a UUID. This is what keeps the three kinds of reference unambiguous.
    #[test]
    fn valid_names_are_name_references(name in valid_name()) {
        prop_assert_eq!(validate::name(&name), Ok(name.clone()));
        prop_assert_eq!(validate::key_ref(&name), Ok(KeyRef::Name(name.clone())));
        let request = Request::from(KeyGet { key: KeyRef::Name(name.clone()) });
        prop_assert_eq!(request_round_trip(&request), request);
    }
}
