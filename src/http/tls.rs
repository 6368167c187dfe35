//! TLS client configuration with rustls and the ring provider: which CAs to
//! trust (a PEM file, else the system bundle) and an optional client
//! certificate, as a listing server with `ssl_verify_client on` wants.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Debian's (and most distributions') bundle of trusted CAs.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// What the user configured for HTTPS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file with the CA certificates to trust instead of the system bundle.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate chain and PEM private key presented to the server.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// Builds the rustls configuration, or says which file is wrong and why.
pub fn client_config(options: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, String> {
    let ca_path = options
        .ca_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(SYSTEM_CA_BUNDLE));
    let mut roots = rustls::RootCertStore::empty();
    let certs = read_certs(&ca_path, "CA file")?;
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!(
            "CA file {}: no usable certificate in it",
            ca_path.display()
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS protocol versions: {e}"))?
        .with_root_certificates(roots);
    let config = match &options.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert_path, key_path)) => {
            let chain = read_certs(cert_path, "client certificate")?;
            if chain.is_empty() {
                return Err(format!(
                    "client certificate {}: no CERTIFICATE block in it",
                    cert_path.display()
                ));
            }
            let key = PrivateKeyDer::from_pem_file(key_path)
                .map_err(|e| format!("client key {}: {e}", key_path.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate {}: {e}", cert_path.display()))?
        }
    };
    Ok(Arc::new(config))
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{what} {}: {e}", path.display()))?;
    iter.collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_empty_files_are_named() {
        let e = client_config(&TlsOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            client_cert: None,
        })
        .unwrap_err();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");

        let dir = std::env::temp_dir().join(format!("lowspace-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a pem\n").unwrap();
        let e = client_config(&TlsOptions {
            ca_file: Some(empty.clone()),
            client_cert: None,
        })
        .unwrap_err();
        assert!(e.contains("no usable certificate"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
