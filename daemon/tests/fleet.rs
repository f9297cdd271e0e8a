//! Fleet mode against real components: a throwaway PostgreSQL cluster (Debian's server,
//! initdb/pg_ctl in a temporary directory), three veild nodes each with its own real v2ray
//! core on loopback, real v2ray clients carrying traffic through each node.
//!
//! One scenario, in order: the registry's roles keep each node to its own rows; a key made
//! on node A carries traffic through B and C within 2 s; disabled on B it stops working on
//! all three; traffic through all three sums exactly to what the three cores counted;
//! PostgreSQL stopped for 30 s: every node keeps serving, a change is refused with a clear
//! error, and after the registry returns the three converge; a node killed -9 catches up.
//!
//! Every wait is a bounded poll on a condition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::core_harness::{
    HttpFileServer, V2rayClient, V2rayServer, fetch_via_proxy, free_port, test_bytes,
};
use support::daemon::{CoreSection, Daemon, DaemonConfig, poll_until};
use support::postgres::Postgres;
use support::{email_of, uuid_of};

const CONVERGE: Duration = Duration::from_secs(20);
const FETCH: Duration = Duration::from_secs(5);

struct Node {
    name: &'static str,
    dir: tempfile::TempDir,
    server: V2rayServer,
    daemon: Daemon,
}

/// Registers `name`; returns (role, password).
fn add_node(pg: &Postgres, dir: &Path, name: &str) -> (String, String) {
    let file = dir.join(format!("{name}.password"));
    let out = pg.fleet_admin(&["add-node", name, "--password-file", file.to_str().unwrap()]);
    assert!(
        !out.contains("password: "),
        "the password was printed: {out}"
    );
    let password = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    (format!("veil_node_{name}"), password)
}

/// A node; `http` adds `[http] listen` on that loopback address (for subscriptions).
fn start_node(
    rt: &tokio::runtime::Runtime,
    pg: &Postgres,
    (name, role, password): (&'static str, &str, &str),
    http: Option<SocketAddr>,
) -> Node {
    let dir = support::tempdir();
    let server = rt.block_on(V2rayServer::start(dir.path(), &[]));
    let http = http
        .map(|addr| format!("[http]\nlisten = \"{addr}\"\n"))
        .unwrap_or_default();
    let cfg = DaemonConfig {
        core: Some(CoreSection::v2fly(&server.api_addr(), server.config_path())),
        extra_toml: format!(
            "[fleet]\nnode = \"{name}\"\ndatabase = \"{}\"\ntraffic_secs = 1\nresync_secs = 10\ntimeout_ms = 2000\n{http}",
            pg.node_url(role, password)
        ),
        ..DaemonConfig::default()
    };
    let daemon = Daemon::start_with(dir.path(), &cfg);
    daemon.wait_core_up(CONVERGE);
    Node {
        name,
        dir,
        server,
        daemon,
    }
}

impl Node {
    fn client(&self, key: &Value) -> V2rayClient {
        V2rayClient::start(self.dir.path(), self.server.vless_port(), &uuid_of(key))
    }

    /// Every key as this node's copy has it: (id, name, uuid, state).
    fn snapshot(&self) -> BTreeSet<(i64, String, String, String)> {
        ["active", "disabled", "deleted"]
            .iter()
            .flat_map(|state| self.daemon.keys_in(state))
            .map(|k| {
                (
                    k["id"].as_i64().unwrap(),
                    k["name"].as_str().unwrap().to_owned(),
                    uuid_of(&k),
                    k["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// The core's own counters of key `id`: (uplink, downlink).
    fn core_counts(&self, rt: &tokio::runtime::Runtime, id: i64) -> (u64, u64) {
        let _entered = rt.enter();
        let link = self.server.link();
        let stat = |dir: &str| {
            let name = format!("user>>>{}>>>traffic>>>{dir}", email_of(id));
            rt.block_on(link.stat(&name, false))
                .unwrap()
                .unwrap_or(0)
                .max(0) as u64
        };
        (stat("uplink"), stat("downlink"))
    }
}

/// Polls until a GET through `client` returns the whole body (true) or keeps failing
/// (false) — whichever `want` says — and returns when it first did.
fn fetch_becomes(client: &V2rayClient, url: &str, want: bool) -> Option<Instant> {
    poll_until(CONVERGE, Duration::from_millis(20), || {
        let ok = fetch_via_proxy(client.proxy_addr(), url, Duration::from_secs(1)).is_ok();
        (ok == want).then(Instant::now)
    })
}

fn fetch_ok(client: &V2rayClient, url: &str) -> bool {
    fetch_via_proxy(client.proxy_addr(), url, FETCH).is_ok()
}

fn all_converged(nodes: &[Node]) -> BTreeSet<(i64, String, String, String)> {
    let mut last = Vec::new();
    poll_until(CONVERGE, Duration::from_millis(100), || {
        last = nodes.iter().map(Node::snapshot).collect::<Vec<_>>();
        let same = last.windows(2).all(|w| w[0] == w[1]);
        let settled = nodes.iter().all(|n| n.daemon.health()["pending"] == 0);
        (same && settled).then(|| last[0].clone())
    })
    .unwrap_or_else(|| panic!("the nodes did not converge: {last:#?}"))
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario over one expensive fleet"
)]
fn three_nodes_share_one_registry_and_survive_its_outage() {
    let _serial = support::serial();
    let rt = support::runtime();
    let pg = Postgres::start();
    let secrets = support::tempdir();
    let init = pg.fleet_admin(&["init"]);
    assert!(init.contains("to 1"), "{init}");
    assert!(pg.fleet_admin(&["init"]).contains("up to date"));
    let roles: Vec<(String, String)> = ["a", "b", "c"]
        .iter()
        .map(|n| add_node(&pg, secrets.path(), n))
        .collect();

    // Row-level security: node a may not write b's rows, nor make tables.
    let (role_a, pw_a) = &roles[0];
    let err = pg
        .psql_as(
            role_a,
            pw_a,
            "INSERT INTO node_traffic (node, key_id, uplink, downlink) VALUES ('b', 1, 1, 1)",
        )
        .unwrap_err();
    assert!(err.contains("row-level security"), "{err}");
    pg.psql_as(
        role_a,
        pw_a,
        "UPDATE fleet_nodes SET health = '{\"x\":1}' WHERE name = 'b'",
    )
    .unwrap();
    assert_eq!(
        pg.psql("SELECT coalesce(health::text, 'none') FROM fleet_nodes WHERE name = 'b'"),
        "none"
    );
    let err = pg
        .psql_as(role_a, pw_a, "CREATE TABLE mine (x int)")
        .unwrap_err();
    assert!(err.contains("permission denied"), "{err}");

    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut nodes: Vec<Node> = ["a", "b", "c"]
        .into_iter()
        .zip(&roles)
        .map(|(name, (role, pw))| {
            start_node(&rt, &pg, (name, role, pw), (name == "a").then_some(http))
        })
        .collect();
    for node in &nodes {
        let fleet = node
            .daemon
            .wait_health("fleet up", CONVERGE, |h| h["fleet"]["up"] == true);
        assert_eq!(fleet["fleet"]["node"], node.name);
    }
    let files = HttpFileServer::start(test_bytes(64 << 10, 7));
    let url = files.url();

    // A key made on A works through B and C within 2 s.
    let alpha = nodes[0].daemon.call("key.create", json!({"name": "alpha"}));
    let made = Instant::now();
    assert_eq!(alpha["pending"], false, "{alpha}");
    let clients: Vec<V2rayClient> = nodes.iter().map(|n| n.client(&alpha)).collect();
    for (node, client) in nodes.iter().zip(&clients).skip(1) {
        let at = fetch_becomes(client, &url, true).unwrap_or_else(|| {
            panic!(
                "alpha never worked through {}: {}",
                node.name,
                node.daemon.log_text()
            )
        });
        let took = at - made;
        println!(
            "key made on a carries traffic through {} after {took:?}",
            node.name
        );
        assert!(took < Duration::from_secs(2), "{} took {took:?}", node.name);
    }
    assert!(fetch_ok(&clients[0], &url));

    // Disabled on B: refused on all three.
    let disabled = nodes[1].daemon.call("key.disable", json!({"key": "alpha"}));
    assert_eq!(disabled["state"], "disabled", "{disabled}");
    for (node, client) in nodes.iter().zip(&clients) {
        let key = node.daemon.call("key.get", json!({"key": "alpha"}));
        assert!(
            fetch_becomes(client, &url, false).is_some(),
            "alpha still works through {}: {key}\n{}",
            node.name,
            node.daemon.log_text()
        );
        assert_eq!(key["state"], "disabled", "{} {key}", node.name);
    }
    let audit = nodes[0].daemon.call("audit.list", json!({"limit": 1}));
    let entry = &audit["entries"][0];
    assert_eq!(entry["method"], "fleet.sync", "{audit}");
    assert_eq!(
        entry["actor"],
        json!({"kind": "daemon", "task": "fleet"}),
        "{audit}"
    );
    assert_eq!(entry["detail"], "disabled on node b", "{audit}");

    // Traffic through all three sums exactly to what the three cores counted.
    let tally = nodes[2].daemon.call("key.create", json!({"name": "tally"}));
    let tally_id = tally["id"].as_i64().unwrap();
    let tally_clients: Vec<V2rayClient> = nodes.iter().map(|n| n.client(&tally)).collect();
    for (times, client) in [1, 2, 3].into_iter().zip(&tally_clients) {
        fetch_becomes(client, &url, true).expect("tally works everywhere");
        for _ in 1..times {
            assert!(fetch_ok(client, &url));
        }
    }
    let mut last = Value::Null;
    let summed = poll_until(CONVERGE, Duration::from_millis(200), || {
        let cores: Vec<(u64, u64)> = nodes.iter().map(|n| n.core_counts(&rt, tally_id)).collect();
        let want = cores.iter().fold((0, 0), |a, c| (a.0 + c.0, a.1 + c.1));
        let seen: Vec<(u64, u64)> = nodes
            .iter()
            .map(|n| {
                n.daemon.call("traffic.sync", json!({}));
                last = n.daemon.call("traffic.get", json!({"key": tally_id}));
                (
                    last["uplink"].as_u64().unwrap(),
                    last["downlink"].as_u64().unwrap(),
                )
            })
            .collect();
        seen.iter().all(|s| *s == want).then_some((cores, want))
    })
    .unwrap_or_else(|| panic!("the fleet's sum never matched the cores: {last}"));
    let (cores, (up, down)) = summed;
    println!("tally: cores counted {cores:?}, every node shows {up} up / {down} down");
    assert!(down >= 6 * (64 << 10), "{down}");
    for (node, (cu, cd)) in nodes.iter().zip(&cores) {
        let row = pg.psql(&format!(
            "SELECT uplink || ' ' || downlink FROM node_traffic WHERE node = '{}' AND key_id = {tally_id}",
            node.name
        ));
        assert_eq!(row, format!("{cu} {cd}"), "node {}", node.name);
    }

    // A manual reset on B resets every node's share: the fleet's total goes to zero.
    let reset = nodes[1]
        .daemon
        .call("traffic.reset", json!({"key": tally_id}));
    assert_eq!(reset["uplink"], 0, "{reset}");
    let mut last = Value::Null;
    poll_until(CONVERGE, Duration::from_millis(200), || {
        let zero = nodes.iter().all(|n| {
            last = n.daemon.call("traffic.get", json!({"key": tally_id}));
            last["uplink"] == 0 && last["downlink"] == 0
        });
        let shares = pg.psql(&format!(
            "SELECT coalesce(sum(uplink + downlink), -1) FROM node_traffic WHERE key_id = {tally_id}"
        ));
        (zero && shares == "0").then_some(())
    })
    .unwrap_or_else(|| panic!("the reset did not reach every node: {last}"));

    // A limit is enforced on the fleet's sum: 64 KiB through a and 64 KiB through c stay
    // under 100 kB on each node, but not together; the key is disabled on all three.
    let capped = nodes[0].daemon.call(
        "key.create",
        json!({"name": "capped", "data_limit": 100_000}),
    );
    let capped_clients: Vec<V2rayClient> = nodes.iter().map(|n| n.client(&capped)).collect();
    assert!(fetch_becomes(&capped_clients[0], &url, true).is_some());
    assert!(fetch_becomes(&capped_clients[2], &url, true).is_some());
    let mut last = Value::Null;
    poll_until(CONVERGE, Duration::from_millis(200), || {
        let all = nodes.iter().all(|n| {
            n.daemon.call("traffic.sync", json!({}));
            last = n.daemon.call("key.get", json!({"key": "capped"}));
            last["state"] == "disabled" && last["disable_reason"] == "limited"
        });
        all.then_some(())
    })
    .unwrap_or_else(|| panic!("capped was not disabled on every node: {last}"));
    for (node, client) in nodes.iter().zip(&capped_clients) {
        let core = node.core_counts(&rt, capped["id"].as_i64().unwrap());
        assert!(
            core.0 + core.1 < 100_000,
            "{} alone moved {core:?}",
            node.name
        );
        assert!(
            fetch_becomes(client, &url, false).is_some(),
            "capped still works through {}",
            node.name
        );
    }

    // PostgreSQL away for 30 s: every node serves, changes are refused, then converge.
    pg.stop_server();
    let stopped = Instant::now();
    for node in &nodes {
        node.daemon
            .wait_health("fleet down", CONVERGE, |h| h["fleet"]["up"] == false);
    }
    let refused = nodes[0]
        .daemon
        .raw()
        .request("key.create", json!({"name": "during"}));
    assert_eq!(
        refused["error"]["data"]["code"], "registry_unavailable",
        "{refused}"
    );
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("unreachable") && message.contains("keeps working"),
        "{message}"
    );
    let mut rounds: u64 = 0;
    while stopped.elapsed() < Duration::from_secs(30) && rounds < 100 {
        rounds += 1;
        for (node, client) in nodes.iter().zip(&tally_clients) {
            assert!(
                fetch_ok(client, &url),
                "tally stopped working through {} during the outage",
                node.name
            );
        }
        // The next round when the registry has been away a little longer (bounded).
        poll_until(Duration::from_secs(2), Duration::from_millis(200), || {
            (stopped.elapsed().as_secs() >= rounds * 2).then_some(())
        });
    }
    assert!(stopped.elapsed() >= Duration::from_secs(30));
    pg.start_server();
    for node in &nodes {
        node.daemon
            .wait_health("fleet back", CONVERGE, |h| h["fleet"]["up"] == true);
    }
    let after = nodes[1].daemon.call("key.create", json!({"name": "after"}));
    assert_eq!(after["pending"], false, "{after}");
    let converged = all_converged(&nodes);
    assert!(converged.iter().any(|k| k.1 == "after"));
    assert!(!converged.iter().any(|k| k.1 == "during"));

    // C killed -9; changes meanwhile; restarted, it catches up.
    nodes[2].daemon.kill9();
    let late = nodes[0].daemon.call("key.create", json!({"name": "late"}));
    nodes[0].daemon.call("key.disable", json!({"key": "tally"}));
    nodes[2].daemon.restart();
    let converged = all_converged(&nodes);
    assert!(converged.iter().any(|k| k.1 == "late" && k.3 == "active"));
    let late_c = nodes[2].client(&late);
    assert!(
        fetch_becomes(&late_c, &url, true).is_some(),
        "late never worked through c"
    );
    assert!(
        fetch_becomes(&tally_clients[2], &url, false).is_some(),
        "tally still works through c"
    );
    for node in &nodes {
        let h = node.daemon.wait_no_pending(CONVERGE);
        assert_eq!(h["fleet"]["up"], true, "{h}");
    }

    // The nodes as any node sees them; one drained from another; subscriptions follow.
    let list = poll_until(CONVERGE, Duration::from_millis(100), || {
        let list = nodes[0].daemon.call("node.list", json!({}));
        let all = list["nodes"].as_array().unwrap();
        let fresh = all.len() == 3
            && all
                .iter()
                .all(|n| n["core"] == "up" && n["keys_pending"] == 0 && n["host"].is_string());
        fresh.then_some(list)
    })
    .expect("every node's beat on a");
    assert_eq!(list["this"], "a", "{list}");
    let (code, out, err) = nodes[0].daemon.veil(&["node", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("a (this)") && out.contains("serving"), "{out}");
    let ports: Vec<u16> = nodes.iter().map(|n| n.server.vless_port()).collect();
    let sub = nodes[0].daemon.call("key.sub", json!({"key": "late"}));
    let path = sub["url"].as_str().unwrap().to_owned();
    let links = subscription_links(http, &path);
    assert_eq!(links.len(), 3, "{links:?}");
    for port in &ports {
        assert!(
            links.iter().any(|l| l.contains(&format!(":{port}?"))),
            "{port} in {links:?}"
        );
    }
    let drained = nodes[2].daemon.call("node.drain", json!({"node": "b"}));
    assert_eq!(drained["draining"], true, "{drained}");
    poll_until(CONVERGE, Duration::from_millis(100), || {
        let list = nodes[0].daemon.call("node.list", json!({}));
        (list["nodes"][1]["draining"] == true).then_some(())
    })
    .expect("a sees b drained");
    let links = subscription_links(http, &path);
    assert_eq!(links.len(), 2, "{links:?}");
    assert!(
        !links.iter().any(|l| l.contains(&format!(":{}?", ports[1]))),
        "{links:?}"
    );
    let late_b = nodes[1].client(&late);
    assert!(
        fetch_ok(&late_b, &url),
        "drained means left out of subscriptions, not stopped"
    );
    let (code, out, _) = nodes[1].daemon.veil(&["node", "show", "b"]);
    assert_eq!(code, 0);
    assert!(out.contains("drained"), "{out}");
    let refused = nodes[0]
        .daemon
        .raw()
        .request("node.drain", json!({"node": "nowhere"}));
    assert_eq!(refused["error"]["data"]["code"], "not_found", "{refused}");

    // Placement: a key made on b for a and c only works through a and c, never b.
    let placed = nodes[1]
        .daemon
        .call("key.create", json!({"name": "placed", "nodes": ["c", "a"]}));
    assert_eq!(placed["nodes"], json!(["a", "c"]), "{placed}");
    let placed_clients: Vec<V2rayClient> = nodes.iter().map(|n| n.client(&placed)).collect();
    assert!(fetch_becomes(&placed_clients[0], &url, true).is_some());
    assert!(fetch_becomes(&placed_clients[2], &url, true).is_some());
    let on_b = nodes[1].daemon.wait_no_pending(CONVERGE);
    assert_eq!(on_b["pending"], 0, "{on_b}");
    assert!(
        !fetch_ok(&placed_clients[1], &url),
        "b serves a key placed elsewhere"
    );
    let sub = nodes[0].daemon.call("key.sub", json!({"key": "placed"}));
    let links = subscription_links(http, sub["url"].as_str().unwrap());
    assert_eq!(links.len(), 2, "{links:?}");
    let refused = nodes[0]
        .daemon
        .raw()
        .request("key.update", json!({"key": "placed", "nodes": ["nowhere"]}));
    assert_eq!(refused["error"]["data"]["code"], "not_found", "{refused}");
    // Back on every node (`veil key update placed --nodes all`): b serves it too.
    let (code, out, err) = nodes[2]
        .daemon
        .veil(&["key", "update", "placed", "--nodes", "all"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(fetch_becomes(&placed_clients[1], &url, true).is_some());
    // Then on c only: a and b drop it.
    nodes[0]
        .daemon
        .call("key.update", json!({"key": "placed", "nodes": ["c"]}));
    assert!(fetch_becomes(&placed_clients[0], &url, false).is_some());
    assert!(fetch_becomes(&placed_clients[1], &url, false).is_some());
    assert!(fetch_ok(&placed_clients[2], &url));
}

/// GETs a subscription as v2rayN does; returns its links (base64, one per line).
fn subscription_links(http: SocketAddr, path: &str) -> Vec<String> {
    use base64::Engine as _;
    let mut stream = TcpStream::connect(http).unwrap();
    stream.set_read_timeout(Some(FETCH)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {http}\r\nUser-Agent: v2rayN/7.10\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let text = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .unwrap();
    String::from_utf8(text)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("vless://"))
        .map(ToOwned::to_owned)
        .collect()
}

/// A CA and a server certificate for `localhost` it signed: (CA PEM, cert PEM, key PEM).
fn tls_files() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Veil registry test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap();
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

#[test]
fn the_registry_over_tls_is_verified() {
    let _serial = support::serial();
    let (ca, cert, key) = tls_files();
    let pg = Postgres::start_tls(&cert, &key);
    let secrets = support::tempdir();
    let ca_file = secrets.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    // The owner's tools check the server's certificate too.
    let ca_arg = ca_file.to_str().unwrap();
    assert!(
        pg.fleet_admin(&["init", "--ca-file", ca_arg])
            .contains("to 1")
    );
    let file = secrets.path().join("a.password");
    pg.fleet_admin(&[
        "add-node",
        "a",
        "--ca-file",
        ca_arg,
        "--password-file",
        file.to_str().unwrap(),
    ]);
    let (role, password) = (
        "veil_node_a".to_owned(),
        std::fs::read_to_string(&file).unwrap().trim().to_owned(),
    );
    let fleet = |ca_file: &Path| {
        format!(
            "[fleet]\nnode = \"a\"\nca_file = \"{}\"\ndatabase = \"host=localhost port={} user={role} password={password} dbname=veil sslmode=require\"\n",
            ca_file.display(),
            pg.port()
        )
    };

    // Another CA: the server is not who it claims; the node does not start.
    let (other_ca, _, _) = tls_files();
    let other = secrets.path().join("other.pem");
    std::fs::write(&other, &other_ca).unwrap();
    let refused_dir = support::tempdir();
    let err = support::daemon::start_refused(refused_dir.path(), &fleet(&other), CONVERGE);
    assert!(err.contains("certificate"), "{err}");

    let dir = support::tempdir();
    let d = Daemon::start_with(
        dir.path(),
        &DaemonConfig {
            extra_toml: fleet(&ca_file),
            ..DaemonConfig::default()
        },
    );
    d.wait_health("fleet up", CONVERGE, |h| h["fleet"]["up"] == true);
    let ssl = pg.psql(
        "SELECT bool_and(s.ssl)::text || ' ' || count(*) FROM pg_stat_ssl s \
         JOIN pg_stat_activity a USING (pid) WHERE a.usename = 'veil_node_a'",
    );
    assert_eq!(ssl.split(' ').next(), Some("true"), "{ssl}");
    let created = d.call("key.create", json!({"name": "over-tls"}));
    assert_eq!(
        pg.psql("SELECT name FROM keys WHERE id = 1"),
        "over-tls",
        "{created}"
    );
}
