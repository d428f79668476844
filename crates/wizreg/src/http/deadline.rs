//! The whole-request timeout: from a request's head to its response head, reading the body
//! included. The accept loop ([`crate::edge`]) puts a [`RequestDeadline`] in each request's extensions and
//! [`enforce`] (a router layer, inside the request log) answers when it passes:
//! `408 invalid_request` while the body was still arriving (the client is slow), else
//! `503 unavailable` (the server is).
//!
//! A streaming upload extends its own deadline: the import calls [`RequestDeadline::progress`]
//! for every line, so it may run as long as lines keep coming, each within the timeout.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::http::error::{ApiError, ErrorCode};

/// "No progress reported": the deadline is fixed at the start plus the limit.
const FIXED: u64 = u64::MAX;

/// One request's deadline.
#[derive(Clone, Debug)]
pub struct RequestDeadline(Arc<State>);

#[derive(Debug)]
struct State {
    started: Instant,
    limit: Duration,
    /// The last progress report, in ms since `started`; `FIXED` before any.
    progress_ms: AtomicU64,
    body_done: AtomicBool,
}

impl RequestDeadline {
    pub fn new(limit: Duration) -> Self {
        Self(Arc::new(State {
            started: Instant::now(),
            limit,
            progress_ms: AtomicU64::new(FIXED),
            body_done: AtomicBool::new(false),
        }))
    }

    /// The request made progress (an import line arrived): the deadline moves to one limit
    /// from now.
    pub fn progress(&self) {
        let elapsed = u64::try_from(self.0.started.elapsed().as_millis()).unwrap_or(FIXED - 1);
        self.0.progress_ms.store(elapsed, Ordering::Relaxed);
    }

    fn due(&self) -> Instant {
        let since = match self.0.progress_ms.load(Ordering::Relaxed) {
            FIXED => Duration::ZERO,
            ms => Duration::from_millis(ms),
        };
        self.0.started + since + self.0.limit
    }

    fn body_finished(&self) {
        self.0.body_done.store(true, Ordering::Relaxed);
    }

    fn expired(&self) -> ApiError {
        if self.0.body_done.load(Ordering::Relaxed) {
            ApiError::unavailable("the request took too long; try again")
        } else {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::InvalidRequest,
                format!(
                    "the request body did not arrive within {} s",
                    self.0.limit.as_secs()
                ),
            )
        }
    }
}

/// Answers for a request whose deadline passed (requests without one run unbounded: the
/// router driven in-process by tests). `inner` answers the request otherwise.
pub async fn enforce<F, Fut>(request: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let Some(deadline) = request.extensions().get::<RequestDeadline>().cloned() else {
        return inner(request).await;
    };
    let run = inner(request);
    tokio::pin!(run);
    loop {
        let due = deadline.due();
        tokio::select! {
            response = &mut run => return response,
            () = tokio::time::sleep_until(due.into()) => {
                // Progress may have moved the deadline while this slept.
                if deadline.due() <= Instant::now() {
                    return deadline.expired().into_response();
                }
            }
        }
    }
}

/// A request body that tells its deadline when it has been read to the end.
#[derive(Debug)]
pub struct WatchedBody<B> {
    inner: B,
    deadline: RequestDeadline,
}

impl<B: Body> WatchedBody<B> {
    pub fn new(inner: B, deadline: RequestDeadline) -> Self {
        if inner.is_end_stream() {
            deadline.body_finished();
        }
        Self { inner, deadline }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for WatchedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.deadline.body_finished();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
