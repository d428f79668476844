//! What one connection is doing, as far as its timeouts care: whether a request is in flight,
//! and otherwise whether it is idle (waiting for the next request) or in the middle of sending
//! one (bytes arrived since it was last idle). [`Tracked`] sees the bytes, the service wrapper
//! in `connection.rs` the requests, and [`Activity::expiry`] turns that into one deadline.
//!
//! The state is read below TLS and HTTP, so one rule covers the TLS handshake, HTTP/1.1 heads
//! (however slowly they trickle in) and HTTP/2 alike.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// "Not set" for the millisecond timestamps below.
const NONE: u64 = u64::MAX;

/// The timeouts one connection is held to.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionTimeouts {
    /// From a connection's start, or from the first byte of a later request, to its full head.
    pub header_read: Duration,
    /// With no request in flight and nothing received since the last response.
    pub keep_alive: Duration,
}

/// One connection's activity, shared by its I/O wrapper, its service and its watchdog.
#[derive(Debug)]
pub struct Activity {
    epoch: Instant,
    in_flight: AtomicUsize,
    /// When a request head began arriving while nothing was in flight (ms since `epoch`).
    head_started: AtomicU64,
    /// When the last request in flight finished (ms since `epoch`).
    idle_since: AtomicU64,
}

impl Activity {
    /// A new connection: it owes a request head from now on.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            in_flight: AtomicUsize::new(0),
            head_started: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.epoch + Duration::from_millis(ms)
    }

    fn bytes_received(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            let now = self.now_ms();
            let _ =
                self.head_started
                    .compare_exchange(NONE, now, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// A request reached the application (its head is complete).
    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(NONE, Ordering::Relaxed);
    }

    /// A response was sent to the end.
    pub fn request_finished(&self) {
        self.idle_since.store(self.now_ms(), Ordering::Relaxed);
        self.head_started.store(NONE, Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// When this connection's current timeout runs out, or `None` while a request is in
    /// flight (the request timeout governs it then).
    pub fn expiry(&self, timeouts: ConnectionTimeouts) -> Option<Instant> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let head = self.head_started.load(Ordering::Relaxed);
        Some(if head != NONE {
            self.at(head) + timeouts.header_read
        } else {
            self.at(self.idle_since.load(Ordering::Relaxed)) + timeouts.keep_alive
        })
    }
}

/// A socket that reports received bytes to its connection's [`Activity`].
#[derive(Debug)]
pub struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Tracked<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_received();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: ConnectionTimeouts = ConnectionTimeouts {
        header_read: Duration::from_secs(10),
        keep_alive: Duration::from_secs(75),
    };

    #[test]
    fn a_new_connection_owes_a_head_then_idles_under_keep_alive_and_in_flight_has_no_expiry() {
        let activity = Activity::new();
        let start = activity.epoch;
        assert_eq!(
            activity.expiry(TIMEOUTS),
            Some(start + TIMEOUTS.header_read)
        );
        activity.bytes_received();
        assert_eq!(
            activity.expiry(TIMEOUTS),
            Some(start + TIMEOUTS.header_read),
            "trickling bytes does not move the head deadline"
        );
        activity.request_started();
        activity.bytes_received(); // the body
        assert_eq!(activity.expiry(TIMEOUTS), None);
        activity.request_finished();
        let idle = activity.expiry(TIMEOUTS).expect("idle");
        assert!(idle >= start + TIMEOUTS.keep_alive);
        activity.bytes_received(); // the next request begins
        let head = activity.expiry(TIMEOUTS).expect("reading a head");
        assert!(head < idle && head >= start + TIMEOUTS.header_read);
    }
}
