//! TLS for the `--listen` address under `--secure-metrics`.
//!
//! The certificate is either read from PEM files (`--tls-cert-file`, the
//! chain, leaf first; `--tls-key-file`, a PKCS#8, PKCS#1 or SEC1 private
//! key), as cert-manager or a Secret mounted by the DaemonSet provides them,
//! or, with neither flag, generated at start: self-signed, for the node name,
//! `localhost`, 127.0.0.1 and the listen address's IP when it is a specific
//! one. A self-signed certificate proves nothing about the node to the
//! scraper; it suits scrapers configured with `insecure_skip_verify` (what
//! kube-rbac-proxy's and controller-runtime's generated certificates expect
//! too), where the bearer token, not the server's identity, is the control.
//!
//! The files are read once, at start: a rotated certificate is picked up by
//! restarting the agent (a DaemonSet rollout).
//!
//! The provider is rustls's aws-lc-rs one, the one kube's client already
//! links; TLS 1.2 and 1.3, HTTP/1.1 only (ALPN `http/1.1`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--tls-cert-file and --tls-key-file go together: give both, or neither for a self-signed certificate")]
    OnlyOne,
    #[error("--tls-cert-file and --tls-key-file are for --secure-metrics: add --secure-metrics, or drop them")]
    FilesWithoutMode,
    #[error("cannot read {flag} {path}: {source} (check the path and that the agent can read it)")]
    Read {
        flag: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{flag} {path} holds no PEM {what} (expected a `-----BEGIN {label}` block)")]
    NotPem {
        flag: &'static str,
        path: PathBuf,
        what: &'static str,
        label: &'static str,
    },
    #[error("--tls-key-file {key} does not belong to the certificate in --tls-cert-file {cert}: give the key the certificate was issued for")]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("the TLS certificate is not usable: {0}")]
    Config(rustls::Error),
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// `--secure-metrics` and its certificate files, checked together.
#[derive(Debug, Clone, Default)]
pub struct SecureMetrics {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl SecureMetrics {
    /// None when the mode is off; an error for certificate files without it.
    pub fn from_flags(
        on: bool,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
    ) -> Result<Option<SecureMetrics>, TlsError> {
        match (on, &cert, &key) {
            (false, None, None) => Ok(None),
            (false, _, _) => Err(TlsError::FilesWithoutMode),
            (true, Some(_), None) | (true, None, Some(_)) => Err(TlsError::OnlyOne),
            (true, _, _) => Ok(Some(SecureMetrics { cert, key })),
        }
    }
}

/// The names a generated certificate is for (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct SelfSigned {
    pub node_name: Option<String>,
    pub listen_ip: Option<std::net::IpAddr>,
}

/// An acceptor for the given PEM files, or for a self-signed certificate
/// when neither is given.
pub fn acceptor(cert: Option<&Path>, key: Option<&Path>) -> Result<TlsAcceptor, TlsError> {
    acceptor_for(cert, key, &SelfSigned::default())
}

/// [`acceptor`], with the names a generated certificate is for.
pub fn acceptor_for(
    cert: Option<&Path>,
    key: Option<&Path>,
    names: &SelfSigned,
) -> Result<TlsAcceptor, TlsError> {
    let (chain, private) = match (cert, key) {
        (Some(cert), Some(key)) => (read_chain(cert)?, read_key(key)?),
        (None, None) => self_signed(names)?,
        _ => return Err(TlsError::OnlyOne),
    };
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(TlsError::Config)?
    .with_no_client_auth()
    .with_single_cert(chain, private)
    .map_err(|e| match (e, cert, key) {
        (rustls::Error::InconsistentKeys(_), Some(cert), Some(key)) => TlsError::Mismatch {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
        },
        (e, _, _) => TlsError::Config(e),
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        flag,
        path: path.to_path_buf(),
        source,
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read("--tls-cert-file", path)?;
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NotPem {
            flag: "--tls-cert-file",
            path: path.to_path_buf(),
            what: "certificate",
            label: "CERTIFICATE",
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("--tls-key-file", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsError::NotPem {
        flag: "--tls-key-file",
        path: path.to_path_buf(),
        what: "private key",
        label: "PRIVATE KEY",
    })
}

fn self_signed(
    names: &SelfSigned,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let mut sans = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    sans.extend(names.node_name.iter().filter(|n| !n.is_empty()).cloned());
    sans.extend(
        names
            .listen_ip
            .filter(|ip| !ip.is_unspecified() && !ip.is_loopback())
            .map(|ip| ip.to_string()),
    );
    let generated = rcgen::generate_simple_self_signed(sans)?;
    let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der())
        .map_err(|e| TlsError::Config(rustls::Error::General(e.to_string())))?;
    Ok((vec![generated.cert.der().clone()], key))
}

#[cfg(test)]
#[path = "http_tls_tests.rs"]
mod tests;
