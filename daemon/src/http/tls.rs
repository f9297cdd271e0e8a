//! TLS for the HTTP API (`[http] tls_cert` and `tls_key`): rustls on the ring provider,
//! ALPN `http/1.1`. The pair is read at start, where any problem stops veild naming the
//! setting and the file. It is read again on SIGHUP and whenever either file changes
//! (polled: modification time, size, inode and a digest of the contents, so a replacement
//! within one timestamp tick counts too): a good pair serves every new handshake from then
//! on while open connections carry on; a bad one is logged once and the pair in service
//! stays.

mod x509;

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::config::http::HttpConfig;

/// How often the two files are looked at for a change.
const POLL: Duration = Duration::from_secs(3);

/// The certificate and key files.
#[derive(Clone, Debug)]
pub struct Files {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Files {
    /// The pair `[http]` names, if it names one (the config check refuses one without the
    /// other).
    pub fn of(config: &HttpConfig) -> Option<Files> {
        match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }
}

/// A pair that loaded, and what the log and `health` say of it.
#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    info: x509::CertInfo,
}

/// Hands every handshake the pair in service; a reload swaps it.
#[derive(Debug)]
pub struct Resolver {
    current: RwLock<Loaded>,
}

impl Resolver {
    fn swap(&self, loaded: Loaded) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = loaded;
    }

    /// The served certificate's `notAfter` (Unix seconds), when it could be read.
    pub fn not_after(&self) -> Option<i64> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .info
            .not_after
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        Some(Arc::clone(&current.key))
    }
}

/// TLS ready to serve: the acceptor for the accept loop, and what reloads it.
pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub resolver: Arc<Resolver>,
    files: Files,
    /// Installed at start, so a SIGHUP from then on reloads instead of killing veild.
    hangup: Option<Signal>,
    /// How often the files are looked at ([`POLL`]).
    poll: Duration,
    /// The files as they were just before the pair in service was read.
    seen: [Option<Stamp>; 2],
}

impl Tls {
    /// Reads the pair and builds the server config; `Err` says which setting and file.
    pub fn start(files: Files) -> anyhow::Result<Tls> {
        let seen = stamps(&files);
        let loaded = load(&files).map_err(anyhow::Error::msg)?;
        log_loaded(&files, &loaded.info, "serving the HTTP API over TLS");
        let resolver = Arc::new(Resolver {
            current: RwLock::new(loaded),
        });
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| anyhow::anyhow!("TLS setup: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&resolver) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let hangup = match signal(SignalKind::hangup()) {
            Ok(hangup) => Some(hangup),
            Err(e) => {
                tracing::warn!(error = %e, "no SIGHUP handler: the certificate reloads on file change only");
                None
            }
        };
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            resolver,
            files,
            hangup,
            poll: POLL,
            seen,
        })
    }

    /// Reloads on SIGHUP and on a change of either file until `shutdown`.
    pub async fn watch(self, shutdown: CancellationToken) {
        let Tls {
            resolver,
            files,
            mut hangup,
            poll,
            mut seen,
            ..
        } = self;
        let files = Arc::new(files);
        loop {
            let signalled = tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(poll) => false,
                got = next_hangup(&mut hangup) => got,
            };
            let files = Arc::clone(&files);
            let resolver = Arc::clone(&resolver);
            let step = tokio::task::spawn_blocking(move || {
                let now = stamps(&files);
                if signalled || now != seen {
                    reload(&files, &resolver, signalled);
                }
                now
            });
            match step.await {
                Ok(now) => seen = now,
                Err(e) => tracing::error!(error = %e, "the TLS certificate check failed"),
            }
        }
    }
}

/// `true` on a SIGHUP; never resolves without a handler.
async fn next_hangup(hangup: &mut Option<Signal>) -> bool {
    match hangup {
        Some(signal) => {
            if signal.recv().await.is_some() {
                return true;
            }
            *hangup = None;
            false
        }
        None => std::future::pending().await,
    }
}

/// Reads the pair again; a good one goes into service, a bad one is logged.
fn reload(files: &Files, resolver: &Resolver, signalled: bool) {
    match load(files) {
        Ok(loaded) => {
            let why = if signalled {
                "reloaded the HTTP API's TLS certificate (SIGHUP)"
            } else {
                "reloaded the HTTP API's TLS certificate (the files changed)"
            };
            log_loaded(files, &loaded.info, why);
            resolver.swap(loaded);
        }
        Err(problem) => tracing::error!(
            problem = %problem,
            "the new TLS certificate or key cannot be used; still serving the previous one"
        ),
    }
}

fn log_loaded(files: &Files, info: &x509::CertInfo, what: &'static str) {
    let not_after = info.not_after.map_or_else(|| "unknown".to_owned(), utc);
    tracing::info!(
        cert = %files.cert.display(),
        subject = info.subject_cn.as_deref().unwrap_or("(no common name)"),
        not_after = %not_after,
        "{what}"
    );
    if info.not_after.is_some_and(|at| at < crate::store::now()) {
        tracing::warn!(cert = %files.cert.display(), not_after = %not_after, "the HTTP API's TLS certificate has expired");
    }
}

/// `2027-03-01 12:00:00 UTC`.
fn utc(unix: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|at| at.format(&format).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// What says a file changed; `None` while it cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    dev: u64,
    ino: u64,
    /// SHA-256 of the contents: two writes within one timestamp tick, of the same size,
    /// onto a reused inode, still differ here.
    digest: [u8; 32],
}

fn stamp(path: &Path) -> Option<Stamp> {
    // Follows symbolic links, so a link switched to a new file (certbot, Kubernetes) counts.
    let meta = std::fs::metadata(path).ok()?;
    let contents = std::fs::read(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        dev: meta.dev(),
        ino: meta.ino(),
        digest: Sha256::digest(&contents).into(),
    })
}

fn stamps(files: &Files) -> [Option<Stamp>; 2] {
    [stamp(&files.cert), stamp(&files.key)]
}

/// `SETTING = "PATH": problem`, the shape of every start-up refusal.
fn problem(setting: &str, path: &Path, what: impl std::fmt::Display) -> String {
    format!("{setting} = \"{}\": {what}", path.display())
}

fn read(setting: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| problem(setting, path, format_args!("cannot read: {e}")))
}

/// Reads and checks the pair: PEM certificates (leaf first), a PEM private key (PKCS#8,
/// PKCS#1 or SEC1) of a kind ring signs with, and the key belonging to the leaf.
fn load(files: &Files) -> Result<Loaded, String> {
    let cert_pem = read("http.tls_cert", &files.cert)?;
    let key_pem = read("http.tls_key", &files.key)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| problem("http.tls_cert", &files.cert, format_args!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(problem(
            "http.tls_cert",
            &files.cert,
            "no certificate in it (a PEM file with -----BEGIN CERTIFICATE-----)",
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        let why = match e {
            rustls_pki_types::pem::Error::NoItemsFound => {
                "no private key in it (a PEM file with -----BEGIN PRIVATE KEY-----)".to_owned()
            }
            other => format!("bad PEM: {other}"),
        };
        problem("http.tls_key", &files.key, why)
    })?;
    let provider: &CryptoProvider = &rustls::crypto::ring::default_provider();
    let signer = provider.key_provider.load_private_key(key).map_err(|e| {
        problem(
            "http.tls_key",
            &files.key,
            format_args!("unusable key: {e}"),
        )
    })?;
    let certified = CertifiedKey::new(certs, signer);
    certified.keys_match().map_err(|e| {
        problem(
            "http.tls_key",
            &files.key,
            format_args!(
                "does not belong to the certificate in http.tls_cert = \"{}\" ({e})",
                files.cert.display()
            ),
        )
    })?;
    let info = certified
        .end_entity_cert()
        .map(|der| x509::read(der))
        .unwrap_or_default();
    Ok(Loaded {
        key: Arc::new(certified),
        info,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn pair(dir: &Path, name: &str) -> (Files, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let files = Files {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        (files, cert.der().to_vec())
    }

    #[test]
    fn a_good_pair_loads_with_its_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let (files, der) = pair(dir.path(), "a");
        let loaded = load(&files).unwrap();
        assert_eq!(loaded.key.end_entity_cert().unwrap().as_ref(), &der[..]);
        assert!(loaded.info.not_after.is_some());
    }

    #[test]
    fn each_problem_names_the_setting_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, _) = pair(dir.path(), "a");
        let (b, _) = pair(dir.path(), "b");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "hello\n").unwrap();
        let missing = dir.path().join("missing.pem");
        let with = |cert: &Path, key: &Path| Files {
            cert: cert.to_owned(),
            key: key.to_owned(),
        };
        for (files, needle) in [
            (with(&missing, &a.key), "http.tls_cert = \"".to_owned()),
            (with(&a.cert, &missing), "http.tls_key = \"".to_owned()),
            (with(&garbage, &a.key), "no certificate".to_owned()),
            (with(&a.cert, &garbage), "no private key".to_owned()),
            (with(&a.key, &a.key), "no certificate".to_owned()),
            (
                with(&a.cert, &b.key),
                "does not belong to the certificate".to_owned(),
            ),
        ] {
            let err = load(&files).unwrap_err();
            assert!(err.contains(&needle), "{err}");
        }
        let err = load(&with(&missing, &a.key)).unwrap_err();
        assert!(err.contains(&missing.display().to_string()), "{err}");
    }

    /// The resolver's certificate, as served to the next handshake.
    fn served(resolver: &Resolver) -> Vec<u8> {
        let current = resolver.current.read().unwrap();
        current.key.end_entity_cert().unwrap().as_ref().to_vec()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_changed_pair_is_served_and_a_bad_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let (files, first) = pair(dir.path(), "live");
        let mut tls = Tls::start(files.clone()).unwrap();
        tls.poll = Duration::from_millis(20);
        let resolver = Arc::clone(&tls.resolver);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(tls.watch(shutdown.clone()));
        assert_eq!(served(&resolver), first);

        let wait_for = |want: Vec<u8>| {
            let resolver = Arc::clone(&resolver);
            async move {
                for _ in 0..500 {
                    if served(&resolver) == want {
                        return true;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                false
            }
        };
        let (next, second) = pair(dir.path(), "next");
        std::fs::rename(&next.cert, &files.cert).unwrap();
        std::fs::rename(&next.key, &files.key).unwrap();
        assert!(wait_for(second.clone()).await, "the new pair is served");

        // A key of another certificate: the pair in service stays.
        let (stranger, _) = pair(dir.path(), "stranger");
        let (next, _) = pair(dir.path(), "next");
        std::fs::rename(&next.cert, &files.cert).unwrap();
        std::fs::rename(&stranger.key, &files.key).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(served(&resolver), second);

        shutdown.cancel();
        task.await.unwrap();
    }

    #[test]
    fn a_change_is_seen_in_the_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let (a, _) = pair(dir.path(), "a");
        let before = stamps(&a);
        assert!(before.iter().all(Option::is_some));
        let (b, _) = pair(dir.path(), "b");
        std::fs::rename(&b.cert, &a.cert).unwrap();
        assert_ne!(stamps(&a), before);
        std::fs::remove_file(&a.key).unwrap();
        assert_eq!(stamps(&a)[1], None);
    }
}
