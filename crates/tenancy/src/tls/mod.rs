//! TLS to PostgreSQL with rustls (the `ring` provider), configured from a libpq connection
//! string so that a URL copied from a managed database's console means what it means to `psql`.
//!
//! [`parse`] reads the string once and returns the settings for `tokio-postgres` and a
//! [`PgTls`] connector, which is a `MakeTlsConnect` like any other: hand it to
//! [`crate::pool::build_pool`], [`crate::connect`] or `Config::connect`.
//!
//! | `sslmode` | TLS | certificate check |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (default) | when the server offers it, else plain text | none |
//! | `require` | always | none; with a root certificate, as `verify-ca` (libpq does so too) |
//! | `verify-ca` | always | the chain up to `sslrootcert` |
//! | `verify-full` | always | the chain, and the certificate names the host |
//!
//! A verifying mode is never weakened: `tokio-postgres` only sees `require`, which refuses a
//! server without TLS, and the certificate check is the connector's own. Unix-socket hosts
//! never use TLS, as in libpq (the server offers none there).

mod params;
mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres::config::Host;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::Socket;
use tokio_postgres_rustls::MakeRustlsConnect;

pub use params::{RootCerts, SslMode, TlsParams};

/// A connection string or TLS file that cannot be used. The text names the parameter or file
/// and the reason, never a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A TLS parameter has a value libpq would refuse too.
    #[error("{0}")]
    Parameter(String),
    /// `tokio-postgres` refused the rest of the string.
    #[error("not a valid PostgreSQL connection string ({0})")]
    ConnectionString(String),
    /// A certificate or key file is missing, unreadable or not PEM.
    #[error("{parameter} {}: {reason}", path.display())]
    File {
        /// `sslrootcert`, `sslcert` or `sslkey`.
        parameter: &'static str,
        /// The file named.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads a libpq connection string (URL or `key=value` form): the settings for
/// `tokio-postgres`, without the TLS parameters it does not know, and the connector they ask
/// for. Certificate and key files are read here, so a bad one is an error before any
/// connection.
pub fn parse(conn: &str) -> Result<(tokio_postgres::Config, PgTls), TlsError> {
    let (rest, params) = params::split(conn)?;
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|e: tokio_postgres::Error| TlsError::ConnectionString(e.to_string()))?;
    config.ssl_mode(postgres_mode(params.mode, config.get_hosts())?);
    Ok((config, PgTls::new(&params)?))
}

/// What `tokio-postgres` is told: `require` for every TLS-only mode, nothing for sockets.
fn postgres_mode(
    mode: SslMode,
    hosts: &[Host],
) -> Result<tokio_postgres::config::SslMode, TlsError> {
    use tokio_postgres::config::SslMode as Postgres;
    #[cfg(unix)]
    let sockets = hosts.iter().filter(|h| matches!(h, Host::Unix(_))).count();
    #[cfg(not(unix))]
    let sockets = 0;
    Ok(match mode {
        SslMode::Disable => Postgres::Disable,
        // libpq never negotiates TLS over a Unix socket, so no SSLRequest is sent there (a
        // proxy or pooler on the socket would otherwise see one before the startup message).
        _ if sockets > 0 && sockets == hosts.len() => Postgres::Disable,
        SslMode::Prefer => Postgres::Prefer,
        _ if sockets > 0 => {
            return Err(TlsError::Parameter(format!(
                "sslmode={} cannot mix Unix-socket and TCP hosts",
                mode.as_str()
            )))
        }
        _ => Postgres::Require,
    })
}

/// A rustls `MakeTlsConnect` built from libpq's TLS parameters. Cheap to clone; one serves a
/// whole pool.
#[derive(Clone)]
pub struct PgTls {
    mode: SslMode,
    verified: bool,
    inner: MakeRustlsConnect,
}

impl std::fmt::Debug for PgTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTls")
            .field("mode", &self.mode)
            .field("verifies_certificate", &self.verified)
            .finish_non_exhaustive()
    }
}

impl PgTls {
    /// The connector `params` ask for. Reads the root certificates and client key now.
    pub fn new(params: &TlsParams) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = match (params.mode, &params.root_certs) {
            (SslMode::Disable | SslMode::Prefer, _) => None,
            (_, Some(source)) => Some(Arc::new(root_store(source)?)),
            (SslMode::Require, None) => None,
            (mode, None) => {
                return Err(TlsError::Parameter(format!(
                    "sslmode={} needs sslrootcert (a CA certificate file, or system)",
                    mode.as_str()
                )))
            }
        };
        let verifier: Arc<dyn ServerCertVerifier> = match roots {
            None => Arc::new(verify::AnyCertificate(provider.clone())),
            Some(roots) => {
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| TlsError::Parameter(format!("sslrootcert: {e}")))?;
                if params.mode == SslMode::VerifyFull {
                    webpki
                } else {
                    Arc::new(verify::ChainOnly(webpki))
                }
            }
        };
        let verified = !matches!(params.mode, SslMode::Disable | SslMode::Prefer)
            && (params.root_certs.is_some() || params.mode != SslMode::Require);
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Parameter(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &params.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = read_certificates("sslcert", cert)?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::File {
                    parameter: "sslkey",
                    path: key.clone(),
                    reason: format!("no private key could be read ({e})"),
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| TlsError::File {
                        parameter: "sslcert",
                        path: cert.clone(),
                        reason: e.to_string(),
                    })?
            }
        };
        Ok(Self {
            mode: params.mode,
            verified,
            inner: MakeRustlsConnect::new(config),
        })
    }

    /// The `sslmode` this connector was made for.
    pub fn mode(&self) -> SslMode {
        self.mode
    }

    /// Whether the server's certificate is checked (`verify-ca`, `verify-full`, or `require`
    /// with a root certificate).
    pub fn verifies_certificate(&self) -> bool {
        self.verified
    }
}

impl MakeTlsConnect<Socket> for PgTls {
    type Stream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;
    type TlsConnect = <MakeRustlsConnect as MakeTlsConnect<Socket>>::TlsConnect;
    type Error = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        MakeTlsConnect::<Socket>::make_tls_connect(&mut self.inner, domain)
    }
}

fn root_store(source: &RootCerts) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    match source {
        RootCerts::File(path) => {
            let (_, ignored) =
                roots.add_parsable_certificates(read_certificates("sslrootcert", path)?);
            if roots.is_empty() {
                return Err(TlsError::File {
                    parameter: "sslrootcert",
                    path: path.clone(),
                    reason: format!("no usable CA certificate ({ignored} could not be parsed)"),
                });
            }
        }
        RootCerts::System => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            if roots.is_empty() {
                return Err(TlsError::Parameter(
                    "sslrootcert=system: the platform's trust store has no certificate (Debian: apt-get install ca-certificates)".into(),
                ));
            }
        }
    }
    Ok(roots)
}

fn read_certificates(
    parameter: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let failed = |reason: String| TlsError::File {
        parameter,
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| failed(format!("cannot be read ({e})")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(format!("is not PEM ({e})")))?;
    if certs.is_empty() {
        return Err(failed("holds no certificate".into()));
    }
    Ok(certs)
}

/// Whether `err` came from a TLS handshake that rustls gave up on.
pub(crate) fn is_handshake_failure(err: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if cause.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
            {
                return true;
            }
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests;
