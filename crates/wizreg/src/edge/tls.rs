//! HTTPS: a rustls server (ring provider) offering HTTP/2 and HTTP/1.1 by ALPN, whose
//! certificate is reloaded without a restart. A [`ReloadingCert`] resolver hands every
//! handshake the current certificate; [`spawn_reloader`] replaces it when the PEM files change
//! (checked every [`POLL_INTERVAL`]) or on `SIGHUP`. A new pair that does not load (unreadable,
//! malformed, key not matching the certificate) is logged and the old certificate kept, so a
//! half-written renewal never takes the server down.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// How often the certificate files are checked for changes.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Where the certificate chain and its key are read from.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads and checks the pair: the chain, the key, and that they belong together.
    pub fn load(&self) -> Result<CertifiedKey, String> {
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("{}: {e}", self.cert.display()))?;
        if chain.is_empty() {
            return Err(format!("{}: no PEM certificate", self.cert.display()));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| format!("{}: {e}", self.key.display()))?;
        let signing_key = provider::sign::any_supported_type(&key)
            .map_err(|e| format!("{}: {e}", self.key.display()))?;
        let certified = CertifiedKey::new(chain, signing_key);
        certified.keys_match().map_err(|e| {
            format!(
                "{} does not belong to {}: {e}",
                self.key.display(),
                self.cert.display()
            )
        })?;
        Ok(certified)
    }

    /// The files' modification times and sizes: a change of either means "reload".
    fn stamp(&self) -> Option<[(SystemTime, u64); 2]> {
        let of = |path: &Path| {
            let meta = std::fs::metadata(path).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        };
        Some([of(&self.cert)?, of(&self.key)?])
    }
}

/// The certificate every new handshake gets; swapped whole on reload.
#[derive(Debug)]
pub struct ReloadingCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadingCert {
    pub fn new(first: CertifiedKey) -> Arc<Self> {
        Arc::new(Self {
            current: RwLock::new(Arc::new(first)),
        })
    }

    fn replace(&self, next: CertifiedKey) {
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(next);
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|current| current.clone())
    }
}

/// A TLS acceptor serving `cert`, offering `h2` then `http/1.1`.
pub fn acceptor(cert: Arc<ReloadingCert>) -> Result<TlsAcceptor, String> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Reloads `cert` from `files` when they change or the process gets `SIGHUP`, until aborted.
pub fn spawn_reloader(files: TlsFiles, cert: Arc<ReloadingCert>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut seen = files.stamp();
        let mut ticks = tokio::time::interval(POLL_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let on_signal = tokio::select! {
                _ = ticks.tick() => false,
                Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => None } } => true,
            };
            let stamp = files.stamp();
            if !on_signal && stamp == seen {
                continue;
            }
            seen = stamp;
            match files.load() {
                Ok(next) => {
                    cert.replace(next);
                    if on_signal {
                        tracing::info!("TLS certificate reloaded on SIGHUP");
                    } else {
                        tracing::info!("TLS certificate reloaded: its files changed");
                    }
                }
                Err(error) => tracing::warn!(
                    %error,
                    on_signal,
                    "the new TLS certificate did not load; still serving the previous one"
                ),
            }
        }
    })
}
