//! TLS to PostgreSQL: rustls with the ring provider; the CA from `[fleet] ca_file` or the
//! system's bundle. Whether TLS is used at all is the connection string's `sslmode`.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Debian's bundle of the system's trusted CAs.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The connector every registry connection uses.
pub fn connector(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    let (path, required) = match ca_file {
        Some(path) => (path, true),
        None => (Path::new(SYSTEM_BUNDLE), false),
    };
    match CertificateDer::pem_file_iter(path) {
        Ok(certs) => {
            for cert in certs {
                let cert = cert.map_err(|e| format!("reading {}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("a certificate in {}: {e}", path.display()))?;
            }
        }
        Err(e) if required => return Err(format!("reading fleet.ca_file {}: {e}", path.display())),
        // No bundle: only `sslmode=disable`/`prefer` against a server without TLS works.
        Err(_) => {}
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS settings: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}
