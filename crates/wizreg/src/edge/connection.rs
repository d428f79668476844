//! One accepted connection: the TLS handshake if any, HTTP/1.1 or HTTP/2 (hyper-util's
//! `auto` builder; by ALPN over TLS, by the preface in clear), the request deadline on each
//! request, and a watchdog that closes the connection when its head or keep-alive timeout
//! passes. An over-the-cap connection gets only a `503` ([`answer_unavailable`]).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::IntoResponse;
use axum::Router;
use bytes::Bytes;
use futures_util::FutureExt;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::activity::{Activity, ConnectionTimeouts, Tracked};
use crate::http::deadline::{RequestDeadline, WatchedBody};
use crate::http::error::ApiError;

/// How long a connection that ran out of time may finish what it is writing before it is cut.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long an over-the-cap connection is given to send a head and read its `503`.
const OVERFLOW_GRACE: Duration = Duration::from_secs(2);

/// What every connection of one listener shares.
#[derive(Clone)]
pub struct Listener {
    pub router: Router,
    pub tls: Option<TlsAcceptor>,
    pub timeouts: ConnectionTimeouts,
    pub request_timeout: Duration,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("https", &self.tls.is_some())
            .field("timeouts", &self.timeouts)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// Serves `stream` until the client is done, a timeout passes, or (after `shutdown` is
/// closed) its in-flight requests are answered.
pub async fn serve(listener: Arc<Listener>, stream: TcpStream, shutdown: watch::Sender<()>) {
    let activity = Activity::new();
    let io = Tracked::new(stream, activity.clone());
    match &listener.tls {
        None => drive(&listener, io, activity, shutdown).await,
        Some(acceptor) => {
            // The handshake counts against the head timeout, as the bytes of a head would.
            let handshake = acceptor.accept(io);
            if let Ok(Ok(tls)) =
                tokio::time::timeout(listener.timeouts.header_read, handshake).await
            {
                drive(&listener, tls, activity, shutdown).await;
            }
        }
    }
}

async fn drive<I>(listener: &Listener, io: I, activity: Arc<Activity>, shutdown: watch::Sender<()>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let router = listener.router.clone();
    let request_timeout = listener.request_timeout;
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        // Made before the future, so a request dropped mid-way (client gone) still finishes.
        let in_flight = InFlight::start(requests.clone());
        let deadline = RequestDeadline::new(request_timeout);
        let mut request = request.map(|body| Body::new(WatchedBody::new(body, deadline.clone())));
        request.extensions_mut().insert(deadline);
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await.unwrap_or_else(|e| match e {});
            Ok::<_, Infallible>(response.map(|body| {
                Body::new(Guarded {
                    body,
                    _in_flight: in_flight,
                })
            }))
        }
    });
    let builder = Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut shutdown_signal = std::pin::pin!(shutdown.closed().fuse());
    let watchdog = tokio::time::sleep(listener.timeouts.header_read);
    tokio::pin!(watchdog);
    let mut cut_at: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            () = &mut shutdown_signal => conn.as_mut().graceful_shutdown(),
            () = &mut watchdog => {
                let now = Instant::now();
                if cut_at.is_some_and(|cut| cut <= now) {
                    return; // dropping the connection closes the socket
                }
                match activity.expiry(listener.timeouts) {
                    Some(expiry) if expiry <= now => {
                        // Idle connections close at once; one mid-head gets a moment, then is cut.
                        conn.as_mut().graceful_shutdown();
                        let cut = now + CLOSE_GRACE;
                        cut_at = Some(cut);
                        watchdog.as_mut().reset(cut.into());
                    }
                    Some(expiry) => watchdog.as_mut().reset(cut_at.map_or(expiry, |c| c.min(expiry)).into()),
                    // A request is in flight: the request deadline governs it; look again later.
                    None => watchdog.as_mut().reset((now + listener.timeouts.header_read).into()),
                }
            }
        }
    }
}

/// Answers an over-the-cap connection `503 unavailable` + `Retry-After` and closes it.
pub async fn answer_unavailable(tls: Option<TlsAcceptor>, stream: TcpStream) {
    let answer = async move {
        let service = hyper::service::service_fn(|_request: hyper::Request<Incoming>| async {
            let error =
                ApiError::unavailable("the server is at its connection limit; try again shortly");
            Ok::<_, Infallible>(error.into_response())
        });
        let mut builder = Builder::new(TokioExecutor::new());
        builder.http1().keep_alive(false);
        match tls {
            None => {
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            }
            Some(acceptor) => {
                if let Ok(tls) = acceptor.accept(stream).await {
                    let _ = builder.serve_connection(TokioIo::new(tls), service).await;
                }
            }
        }
    };
    let _ = tokio::time::timeout(OVERFLOW_GRACE, answer).await;
}

/// A request between its head and the end of its response.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> Self {
        activity.request_started();
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A response body that keeps its request in flight until it is sent (or dropped).
#[derive(Debug)]
struct Guarded {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
