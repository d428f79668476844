//! `serve`'s listeners, set up at start: the open-file limit raised, the main address bound
//! (with TLS when configured, its certificate reloader started), the connection cap fitted
//! to the file limit, and the optional operations listener.

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::tls::{self, ReloadingCert, TlsFiles};
use super::{rlimit, ConnectionGate, EdgeSettings};
use crate::config::EdgeArgs;
use crate::error::StartupError;

/// Connections the operations listener serves at once: a scraper and a probe or two; its own
/// cap keeps it reachable while the main listener is flooded.
const OPS_MAX_CONNECTIONS: usize = 64;

/// The bound listeners, ready to serve.
pub struct Listeners {
    main: TcpListener,
    ops: Option<TcpListener>,
    tls: Option<TlsAcceptor>,
    reloader: Option<JoinHandle<()>>,
    settings: EdgeSettings,
    gate: ConnectionGate,
    ops_gate: ConnectionGate,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("main", &self.main)
            .field("ops", &self.ops)
            .field("https", &self.tls.is_some())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Listeners {
    /// Raises the file limit, loads the certificate and binds every address.
    pub async fn bind(bind: SocketAddr, args: &EdgeArgs) -> Result<Self, StartupError> {
        let file_limit = rlimit::raise_open_file_limit();
        let settings = EdgeSettings::from_args(args);
        let gate = ConnectionGate::new(settings.max_connections, file_limit);
        if gate.max_served() < settings.max_connections {
            tracing::warn!(
                configured = settings.max_connections,
                serving = gate.max_served(),
                file_limit,
                "WIZREG_MAX_CONNECTIONS lowered to fit the open-file limit"
            );
        }
        let (tls, reloader) = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => {
                let files = TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                };
                let first = files.load().map_err(|e| {
                    StartupError::Config(format!("WIZREG_TLS_CERT / WIZREG_TLS_KEY: {e}"))
                })?;
                let cert = ReloadingCert::new(first);
                let acceptor = tls::acceptor(cert.clone()).map_err(StartupError::Config)?;
                (Some(acceptor), Some(tls::spawn_reloader(files, cert)))
            }
            _ => (None, None),
        };
        let listen = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartupError::Bind { addr, source })
        };
        let main = listen(bind).await?;
        let ops = match args.ops_bind {
            Some(addr) => Some(listen(addr).await?),
            None => None,
        };
        tracing::info!(
            https = tls.is_some(),
            ops = ?args.ops_bind,
            max_connections = gate.max_served(),
            ceiling = gate.ceiling(),
            "listening"
        );
        Ok(Self {
            main,
            ops,
            tls,
            reloader,
            settings,
            gate,
            ops_gate: ConnectionGate::new(OPS_MAX_CONNECTIONS, file_limit),
        })
    }

    /// Serves `app` (and `ops` on the operations listener) until `stop` is cancelled and every
    /// connection has finished.
    pub async fn serve(self, app: Router, ops: Router, stop: CancellationToken) {
        let main = super::serve(
            self.main,
            app,
            self.settings,
            self.gate,
            self.tls,
            stop.clone().cancelled_owned(),
        );
        match self.ops {
            Some(listener) => {
                let ops = super::serve(
                    listener,
                    ops,
                    self.settings,
                    self.ops_gate,
                    None,
                    stop.cancelled_owned(),
                );
                tokio::join!(main, ops);
            }
            None => main.await,
        }
        if let Some(reloader) = self.reloader {
            reloader.abort();
        }
    }
}
