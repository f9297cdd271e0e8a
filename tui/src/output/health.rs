//! `veil health` for people.

use veil::format::{self, plural};
use veil::text::one_line;
use veil_shared::api::{ConfigFileHealth, CoreHealth, CoreStatus, Health, HttpHealth};

use super::table::labelled;

/// The daemon, its database and the core as `label: value` lines.
pub fn health(h: &Health) -> String {
    let db = &h.database;
    let mut rows = vec![
        (
            "veild",
            format!(
                "{}, protocol {}, pid {}, up {}",
                h.version,
                h.protocol,
                h.pid,
                format::duration(h.uptime_secs)
            ),
        ),
        (
            "database",
            format!("{}, {}", if db.ok { "ok" } else { "FAILING" }, db.path),
        ),
    ];
    if let Some(error) = &db.error {
        rows.push(("db error", one_line(error).into_owned()));
    }
    rows.push((
        "keys",
        format!(
            "{} active, {} disabled, {} deleted",
            db.keys.active, db.keys.disabled, db.keys.deleted
        ),
    ));
    rows.push(("core", core_line(&h.core)));
    if let Some(error) = &h.core.last_error {
        rows.push(("core error", one_line(error).into_owned()));
    }
    let waiting = if h.pending > 0 {
        " (not yet reflected in the core)"
    } else {
        ""
    };
    if let Some(r) = &h.core.last_resync {
        rows.push((
            "resync",
            format!(
                "{} keys in {} ms at {} ({})",
                r.keys,
                r.duration_ms,
                format::utc_minute(r.at),
                r.reason.replace('_', " ")
            ),
        ));
    }
    if let Some(drift) = h.core.drift {
        rows.push(("drift", format!("{drift} users repaired by the last audit")));
    }
    rows.push((
        "pending",
        format!("{}{waiting}", plural(h.pending, "key", "keys")),
    ));
    if h.refused > 0 {
        rows.push((
            "refused",
            format!(
                "{} refused by the core (`veil key show` says why)",
                plural(h.refused, "key", "keys")
            ),
        ));
    }
    if let Some(c) = &h.config {
        config_rows(c, &mut rows);
    }
    if let Some(http) = &h.http {
        http_rows(http, &mut rows);
    }
    if let Some(d) = &h.disconnect {
        rows.push(("disconnect", disconnect_line(d)));
    }
    if let Some(f) = &h.fleet {
        rows.push(("fleet", fleet_line(f)));
    }
    for w in &h.webhooks {
        rows.push(("webhook", super::webhook::health_line(w)));
    }
    labelled(&rows)
}

/// A fleet node's link to the registry.
fn fleet_line(f: &veil_shared::fleet::FleetHealth) -> String {
    let mut line = format!(
        "node {}, registry {}; {} taken from other nodes, {} written since start",
        one_line(&f.node),
        if f.up {
            "reachable"
        } else {
            "UNREACHABLE (key changes refused)"
        },
        plural(f.pulled, "change", "changes"),
        plural(f.pushed, "change", "changes"),
    );
    if let (false, Some(e)) = (f.up, &f.last_error) {
        line.push_str(&format!(": {}", one_line(e)));
    }
    line
}

/// Whether removed keys lose their connections, how many did, the last cut.
fn disconnect_line(d: &veil_shared::api::DisconnectHealth) -> String {
    let mut line = format!(
        "{}, {} cut since start",
        one_line(&d.status.describe()),
        plural(d.connections_cut, "connection", "connections")
    );
    if let Some(last) = &d.last {
        line.push_str(&format!("; last: {}", one_line(last)));
    }
    line
}

/// The HTTP API's rows: where it listens, its load, the last refused authentication.
fn http_rows(http: &HttpHealth, rows: &mut Vec<(&'static str, String)>) {
    let tls = match (http.tls, http.cert_not_after) {
        (false, _) => String::new(),
        (true, None) => " over TLS".to_owned(),
        (true, Some(at)) => format!(" over TLS (certificate until {})", format::utc_minute(at)),
    };
    rows.push((
        "http api",
        format!(
            "listening on {}{tls}, {} in the last minute",
            one_line(&http.listen),
            plural(http.requests_last_minute, "request", "requests")
        ),
    ));
    if let Some(last) = http.auth_failures.first() {
        rows.push((
            "auth failed",
            format!(
                "{} recently, last at {} from {}",
                http.auth_failures.len(),
                format::utc_minute(last.at),
                one_line(&last.remote)
            ),
        ));
    }
}

/// The core config file's rows: where, how often written, what went wrong, what is kept.
fn config_rows(c: &ConfigFileHealth, rows: &mut Vec<(&'static str, String)>) {
    rows.push((
        "config",
        format!("{}, {} writes", one_line(&c.path), c.writes),
    ));
    if let Some(error) = &c.last_error {
        rows.push(("config error", one_line(error).into_owned()));
    }
    if !c.unmanaged_clients.is_empty() {
        let list: Vec<String> = c
            .unmanaged_clients
            .iter()
            .map(|e| one_line(e).into_owned())
            .collect();
        rows.push((
            "unmanaged",
            format!("{} (clients no key owns; left in place)", list.join(", ")),
        ));
    }
}

/// `up (xray, api 127.0.0.1:10085), up 2h 5m, 45.2 MiB`
fn core_line(core: &CoreHealth) -> String {
    let status = match core.status {
        CoreStatus::Up => "up",
        CoreStatus::Down => "DOWN",
        CoreStatus::Unknown => "not checked yet",
    };
    let mut line = format!("{status} ({}, api {})", core.flavor, core.api);
    if let Some(secs) = core.uptime_secs {
        line.push_str(&format!(", up {}", format::duration(secs)));
    }
    if let Some(mem) = core.memory_bytes {
        line.push_str(&format!(", {}", format::bytes_long(mem)));
    }
    line
}

#[cfg(test)]
mod tests {
    use veil_shared::api::{DatabaseHealth, KeyCounts};

    use super::*;

    fn sample_health() -> Health {
        Health {
            disconnect: None,
            fleet: None,
            version: "0.1.0".into(),
            protocol: 1,
            pid: 4242,
            uptime_secs: 3 * 86_400 + 4 * 3_600,
            database: DatabaseHealth {
                ok: true,
                path: "/var/lib/veil/veil.db".into(),
                keys: KeyCounts {
                    active: 12,
                    disabled: 3,
                    deleted: 1,
                },
                error: None,
            },
            core: CoreHealth {
                status: CoreStatus::Up,
                flavor: "xray".into(),
                api: "127.0.0.1:10085".into(),
                uptime_secs: Some(7_500),
                memory_bytes: Some(47_396_045),
                last_error: None,
                last_resync: None,
                drift: None,
            },
            pending: 0,
            refused: 0,
            config: None,
            http: None,
            webhooks: Vec::new(),
        }
    }

    #[test]
    fn health_reads_as_a_block() {
        assert_eq!(
            health(&sample_health()),
            "\
veild:    0.1.0, protocol 1, pid 4242, up 3d 4h
database: ok, /var/lib/veil/veil.db
keys:     12 active, 3 disabled, 1 deleted
core:     up (xray, api 127.0.0.1:10085), up 2h 5m, 45.2 MiB
pending:  0 keys
"
        );
    }

    #[test]
    fn health_shows_failures() {
        let mut h = sample_health();
        h.core.status = CoreStatus::Down;
        h.core.uptime_secs = None;
        h.core.memory_bytes = None;
        h.core.last_error = Some("connection refused".into());
        h.pending = 2;
        let out = health(&h);
        assert!(
            out.contains("core:       DOWN (xray, api 127.0.0.1:10085)\n"),
            "{out}"
        );
        assert!(out.contains("core error: connection refused\n"), "{out}");
        assert!(out.contains("pending:    2 keys (not yet reflected in the core)\n"));
    }

    #[test]
    fn health_shows_the_http_api() {
        let mut h = sample_health();
        h.http = Some(Box::new(HttpHealth {
            listen: "127.0.0.1:8080".into(),
            requests_last_minute: 1,
            auth_failures: vec![veil_shared::api::AuthFailure {
                at: 1_795_708_980,
                remote: "203.0.113.9\x1b[2J".into(),
            }],
            tls: false,
            cert_not_after: None,
        }));
        let out = health(&h);
        assert!(
            out.contains(
                "http api:    listening on 127.0.0.1:8080, 1 request in the last minute\n"
            ),
            "{out}"
        );
        assert!(out.contains("auth failed: 1 recently, last at "), "{out}");
        assert!(!out.contains('\x1b'), "{out}");

        if let Some(http) = h.http.as_mut() {
            http.tls = true;
            http.cert_not_after = Some(1_795_708_980);
        }
        let out = health(&h);
        assert!(
            out.contains("listening on 127.0.0.1:8080 over TLS (certificate until "),
            "{out}"
        );
    }
}
