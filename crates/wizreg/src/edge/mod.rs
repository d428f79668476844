//! The connection edge: the accept loop in front of the router, owning what `axum::serve`
//! does not offer — HTTPS with certificate reload ([`tls`]), a cap on open connections with a
//! `503` beyond it ([`gate`]), head and keep-alive timeouts ([`activity`]), a deadline on
//! every request (enforced inside the router by [`crate::http::deadline`]), and the open-file
//! limit ([`rlimit`]). Slow or silent clients are cut off by these timeouts, and a flood of
//! sockets meets the cap, not the descriptor limit, so well-behaved clients keep being served.
//! Process wiring like `serve.rs`: it depends on `http/`, never the other way.
//!
//! Graceful shutdown is `axum::serve`'s: when `shutdown` resolves, the listening socket is
//! closed at once, every connection is asked to finish (idle ones close, busy ones after their
//! current response), and [`serve`] returns once all of them have.

pub mod activity;
pub mod connection;
pub mod gate;
pub mod listeners;
pub mod rlimit;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

pub use self::activity::ConnectionTimeouts;
use self::gate::Admission;
pub use self::gate::ConnectionGate;
use crate::config::EdgeArgs;

/// The limits every connection of a listener is held to.
#[derive(Clone, Copy, Debug)]
pub struct EdgeSettings {
    pub timeouts: ConnectionTimeouts,
    pub request_timeout: Duration,
    pub max_connections: usize,
}

impl EdgeSettings {
    pub fn from_args(args: &EdgeArgs) -> Self {
        Self {
            timeouts: ConnectionTimeouts {
                header_read: Duration::from_secs(args.header_read_timeout_secs),
                keep_alive: Duration::from_secs(args.keep_alive_timeout_secs),
            },
            request_timeout: Duration::from_secs(args.request_timeout_secs),
            max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        }
    }
}

/// How often at most a listener logs that it is turning connections away.
const TURNED_AWAY_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` resolves and every connection has finished.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: EdgeSettings,
    gate: ConnectionGate,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let shared = Arc::new(connection::Listener {
        router,
        tls,
        timeouts: settings.timeouts,
        request_timeout: settings.request_timeout,
    });
    // Closed (its receiver dropped) on shutdown; connections hold clones to notice it, and
    // their `close_rx` clones tell when the last one has ended.
    let (signal_tx, signal_rx) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(signal_rx);
    });
    let (close_tx, close_rx) = watch::channel(());
    let mut last_warned: Option<Instant> = None;
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = signal_tx.closed() => break,
        };
        let admission = gate.admit();
        if !matches!(admission, Admission::Serve(_))
            && last_warned.is_none_or(|at| at.elapsed() >= TURNED_AWAY_LOG_INTERVAL)
        {
            last_warned = Some(Instant::now());
            let (answered_503, closed) = gate.turned_away();
            tracing::warn!(
                open = gate.open(),
                max = gate.max_served(),
                answered_503,
                closed,
                "at the connection limit: answering 503 and closing new connections"
            );
        }
        let close_rx = close_rx.clone();
        match admission {
            Admission::Serve(slot) => {
                let (shared, signal_tx) = (shared.clone(), signal_tx.clone());
                tokio::spawn(async move {
                    connection::serve(shared, stream, signal_tx).await;
                    drop((slot, close_rx));
                });
            }
            Admission::Overflow(slot) => {
                let tls = shared.tls.clone();
                tokio::spawn(async move {
                    connection::answer_unavailable(tls, stream).await;
                    drop((slot, close_rx));
                });
            }
            Admission::Refuse => drop(stream),
        }
    }
    drop(close_rx);
    drop(listener); // new connections are refused from here on
    close_tx.closed().await;
}

/// Connection-level failures (the client gave up before `accept`) are routine; anything else
/// (descriptors exhausted despite the cap) is logged and paced.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(%error, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
