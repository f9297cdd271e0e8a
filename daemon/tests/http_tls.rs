//! TLS on the HTTP API (`[http] tls_cert`, `tls_key`) of the real `veild`, on loopback,
//! with certificates made here by a test CA (rcgen) and a rustls client that trusts it:
//! - `GET /health` over TLS answers with the configured certificate (ALPN `http/1.1`);
//!   `health` says TLS and the certificate's expiry; plain HTTP on the port gets no answer;
//!   a client that never starts its handshake does not hold up others and is dropped;
//! - refused at start, naming the setting (and the file): a listener beyond loopback
//!   without TLS (unless `allow_plaintext`), `tls_cert` without `tls_key`, a missing or
//!   non-PEM file, a key that is not the certificate's;
//! - reloads: new files and SIGHUP, new files alone (the poll), and a broken pair that
//!   leaves the old certificate in service until a good one comes.
//!
//! Every wait is a bounded poll on a condition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use support::core_harness::free_port;
use support::daemon::{Daemon, DaemonConfig, poll_until, start_refused, veild_bin};
use support::{serial, tempdir};

/// Bound for anything veild does after a change (the file poll runs every few seconds).
const CONVERGE: Duration = Duration::from_secs(30);
/// The expiry of every leaf made here: 2031-01-01 00:00:00 UTC.
const NOT_AFTER: i64 = 1_924_992_000;

// ---------------------------------------------------------------------------------------
// Certificates

struct Ca {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    der: CertificateDer<'static>,
}

/// A leaf's PEM files as written, and its DER as a client sees it.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Ca {
    fn new() -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Veil test CA");
        let der = params.self_signed(&key).unwrap().der().clone();
        Ca { params, key, der }
    }

    /// A certificate for `localhost` named `cn`, with a fresh key.
    fn leaf(&self, cn: &str) -> Leaf {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.not_after = time::OffsetDateTime::from_unix_timestamp(NOT_AFTER).unwrap();
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    fn client(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        // Every handshake a full one: a resumed session shows the certificate it began with.
        config.resumption = rustls::client::Resumption::disabled();
        Arc::new(config)
    }
}

/// Where the daemon's certificate and key live.
struct Files {
    cert: PathBuf,
    key: PathBuf,
}

impl Files {
    fn in_dir(dir: &Path) -> Files {
        Files {
            cert: dir.join("api.crt"),
            key: dir.join("api.key"),
        }
    }

    /// Replaces both files the way certbot and friends do: a new file renamed over the old.
    fn install(&self, cert_pem: &str, key_pem: &str) {
        for (path, text) in [(&self.cert, cert_pem), (&self.key, key_pem)] {
            let next = path.with_extension("next");
            std::fs::write(&next, text).unwrap();
            std::fs::rename(&next, path).unwrap();
        }
    }

    fn toml(&self, addr: SocketAddr) -> String {
        format!(
            "\n[http]\nlisten = \"{addr}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            self.cert.display(),
            self.key.display()
        )
    }
}

// ---------------------------------------------------------------------------------------
// A TLS client

/// What one `GET /health` over TLS saw.
struct Seen {
    peer: Vec<u8>,
    alpn: Option<Vec<u8>>,
    response: String,
}

/// `GET /health` on a fresh TLS connection to `localhost` at `addr`.
fn get_health(addr: SocketAddr, client: &Arc<rustls::ClientConfig>) -> Result<Seen, String> {
    let tcp =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let conn =
        rustls::ClientConnection::new(Arc::clone(client), name).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("handshake or write: {e}"))?;
    let mut bytes = Vec::new();
    // The server may close without close_notify once it has answered: keep what came.
    if let Err(e) = tls.read_to_end(&mut bytes)
        && bytes.is_empty()
    {
        return Err(format!("read: {e}"));
    }
    let peer = tls
        .conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|der| der.as_ref().to_vec())
        .ok_or("no peer certificate")?;
    Ok(Seen {
        peer,
        alpn: tls.conn.alpn_protocol().map(<[u8]>::to_vec),
        response: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// Polls until the server presents `want`; panics with the log after [`CONVERGE`].
fn wait_for_cert(
    d: &Daemon,
    addr: SocketAddr,
    client: &Arc<rustls::ClientConfig>,
    want: &Leaf,
    what: &str,
) {
    let got = poll_until(CONVERGE, Duration::from_millis(100), || {
        get_health(addr, client)
            .ok()
            .filter(|seen| seen.peer == want.der)
    });
    assert!(
        got.is_some(),
        "{what}: the new certificate is not served\nlog:\n{}",
        d.log_text()
    );
}

fn start(dir: &Path, files: &Files) -> (Daemon, SocketAddr) {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let d = Daemon::start_with(
        dir,
        &DaemonConfig {
            extra_toml: files.toml(addr),
            ..DaemonConfig::default()
        },
    );
    (d, addr)
}

// ---------------------------------------------------------------------------------------

#[test]
fn health_over_tls_shows_the_configured_certificate_and_plain_http_gets_nothing() {
    let _serial = serial();
    let dir = tempdir();
    let ca = Ca::new();
    let leaf = ca.leaf("api.veil.test");
    let files = Files::in_dir(dir.path());
    files.install(&leaf.cert_pem, &leaf.key_pem);
    let (d, addr) = start(dir.path(), &files);
    let client = ca.client();
    // A client that connects and never says hello holds only its own slot.
    let mut idle = TcpStream::connect(addr).unwrap();

    let seen = get_health(addr, &client).unwrap();
    assert_eq!(seen.peer, leaf.der, "the configured certificate");
    assert_eq!(seen.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert!(seen.response.starts_with("HTTP/1.1 "), "{}", seen.response);
    assert!(seen.response.contains("\"version\""), "{}", seen.response);

    let h = d.health();
    assert_eq!(h["http"]["tls"], true, "{h}");
    assert_eq!(h["http"]["cert_not_after"], NOT_AFTER, "{h}");
    assert!(
        d.log_text().contains("api.veil.test"),
        "the subject is logged"
    );

    // Plain HTTP to the TLS port: the handshake fails and nothing like HTTP comes back.
    let mut plain = TcpStream::connect(addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    plain
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !String::from_utf8_lossy(&answer).contains("HTTP/1.1"),
        "a plain request was answered: {answer:?}"
    );
    // The listener still serves TLS after the bad client.
    assert_eq!(get_health(addr, &client).unwrap().peer, leaf.der);

    // The silent one is dropped once the handshake timeout (10 s) is over.
    idle.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut byte = [0u8; 1];
    match idle.read(&mut byte) {
        Ok(n) => assert_eq!(n, 0, "the server sent something to a silent client"),
        Err(e) => assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "a silent client is still connected after 30 s"
        ),
    }
}

#[test]
fn reloads_on_sighup_and_on_file_change_and_keeps_serving_through_a_bad_pair() {
    let _serial = serial();
    let dir = tempdir();
    let ca = Ca::new();
    let first = ca.leaf("first.veil.test");
    let files = Files::in_dir(dir.path());
    files.install(&first.cert_pem, &first.key_pem);
    let (d, addr) = start(dir.path(), &files);
    let client = ca.client();
    assert_eq!(get_health(addr, &client).unwrap().peer, first.der);

    // New files and SIGHUP: veild keeps running and serves the new pair.
    let second = ca.leaf("second.veil.test");
    files.install(&second.cert_pem, &second.key_pem);
    d.signal(nix::sys::signal::Signal::SIGHUP);
    wait_for_cert(&d, addr, &client, &second, "SIGHUP");
    let hup = poll_until(CONVERGE, Duration::from_millis(50), || {
        d.log_text().contains("(SIGHUP)").then_some(())
    });
    assert!(hup.is_some(), "no reload on SIGHUP\nlog:\n{}", d.log_text());

    // New files, no signal: the poll finds them.
    let third = ca.leaf("third.veil.test");
    files.install(&third.cert_pem, &third.key_pem);
    wait_for_cert(&d, addr, &client, &third, "file change");

    // A broken pair (another certificate's key): logged, and the third stays in service.
    let fourth = ca.leaf("fourth.veil.test");
    let stranger = ca.leaf("stranger.veil.test");
    files.install(&fourth.cert_pem, &stranger.key_pem);
    let logged = poll_until(CONVERGE, Duration::from_millis(50), || {
        d.log_text()
            .contains("still serving the previous one")
            .then_some(())
    });
    assert!(
        logged.is_some(),
        "no error for the bad pair\nlog:\n{}",
        d.log_text()
    );
    d.signal(nix::sys::signal::Signal::SIGHUP);
    assert_eq!(get_health(addr, &client).unwrap().peer, third.der);
    let errors = d
        .log_text()
        .matches("does not belong to the certificate")
        .count();
    assert!(errors >= 1, "the log names the problem");

    // Mended: the good pair goes into service.
    files.install(&fourth.cert_pem, &fourth.key_pem);
    wait_for_cert(&d, addr, &client, &fourth, "mended");
    assert!(d.is_running());
}

#[test]
fn bad_tls_settings_stop_veild_naming_the_setting_and_the_file() {
    let _serial = serial();
    let dir = tempdir();
    let ca = Ca::new();
    let leaf = ca.leaf("api.veil.test");
    let other = ca.leaf("other.veil.test");
    let cert = dir.path().join("api.crt");
    let key = dir.path().join("api.key");
    let other_key = dir.path().join("other.key");
    let garbage = dir.path().join("garbage.pem");
    let missing = dir.path().join("missing.pem");
    std::fs::write(&cert, &leaf.cert_pem).unwrap();
    std::fs::write(&key, &leaf.key_pem).unwrap();
    std::fs::write(&other_key, &other.key_pem).unwrap();
    std::fs::write(&garbage, "not PEM\n").unwrap();
    let pair = |c: &Path, k: &Path| {
        format!(
            "\n[http]\nlisten = \"127.0.0.1:{}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            free_port(),
            c.display(),
            k.display()
        )
    };
    let cases = [
        (
            "\n[http]\nlisten = \"0.0.0.0:8443\"\n".to_owned(),
            "http.listen = \"0.0.0.0:8443\": a listener beyond loopback needs TLS".to_owned(),
        ),
        (
            format!(
                "\n[http]\nlisten = \"127.0.0.1:8443\"\ntls_cert = \"{}\"\n",
                cert.display()
            ),
            format!("http.tls_cert = \"{}\": needs http.tls_key", cert.display()),
        ),
        (
            format!(
                "\n[http]\nlisten = \"127.0.0.1:8443\"\ntls_key = \"{}\"\n",
                key.display()
            ),
            format!("http.tls_key = \"{}\": needs http.tls_cert", key.display()),
        ),
        (
            pair(&cert, &other_key),
            format!(
                "http.tls_key = \"{}\": does not belong to the certificate",
                other_key.display()
            ),
        ),
        (
            pair(&missing, &key),
            format!("http.tls_cert = \"{}\": cannot read", missing.display()),
        ),
        (
            pair(&cert, &missing),
            format!("http.tls_key = \"{}\": cannot read", missing.display()),
        ),
        (
            pair(&garbage, &key),
            format!("http.tls_cert = \"{}\": no certificate", garbage.display()),
        ),
        (
            pair(&cert, &garbage),
            format!("http.tls_key = \"{}\": no private key", garbage.display()),
        ),
    ];
    for (toml, needle) in cases {
        let stderr = start_refused(dir.path(), &toml, CONVERGE);
        assert!(
            stderr.contains(&needle),
            "{toml}\nwant: {needle}\ngot: {stderr}"
        );
    }
}

/// Checked, not started (nothing here binds beyond loopback): a public address is fine
/// with TLS, or without it when `allow_plaintext` says so.
#[test]
fn a_public_listener_passes_the_check_with_tls_or_allow_plaintext() {
    let dir = tempdir();
    let leaf = Ca::new().leaf("api.veil.test");
    let files = Files::in_dir(dir.path());
    files.install(&leaf.cert_pem, &leaf.key_pem);
    let (cert, key) = (&files.cert, &files.key);
    for toml in [
        format!(
            "\n[http]\nlisten = \"0.0.0.0:8443\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            cert.display(),
            key.display()
        ),
        "\n[http]\nlisten = \"0.0.0.0:8443\"\nallow_plaintext = true\n".to_owned(),
    ] {
        let config = Daemon::write_config(
            dir.path(),
            &DaemonConfig {
                extra_toml: toml.clone(),
                ..DaemonConfig::default()
            },
        );
        let out = std::process::Command::new(veild_bin())
            .args(["--check", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{toml}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
