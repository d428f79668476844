//! Log output: human-readable text or JSON lines (`WIZREG_LOG_JSON`), filtered by `RUST_LOG`,
//! and which requests get a line in the request log (`WIZREG_REQUEST_LOG`). Request lines carry
//! the `request` span (request id, method, route, tenant id); what may never appear in them
//! (bodies, secrets, database text) is kept out where they are written (`http::observe`,
//! `http::error`).
//!
//! Lines go to standard error through a writer thread that writes them in batches
//! ([`crate::log_writer`]), so a request never waits for a `write` system call. Colour codes are
//! written only when standard error is a terminal.

use std::cell::Cell;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::log_writer::{BatchedWriter, WriterGuard};

/// Which requests get a line in the request log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RequestLog {
    /// Every request.
    #[default]
    All,
    /// Server errors (5xx) and requests the client gave up on (499) only.
    Errors,
    /// None (metrics still count every request).
    Off,
}

static REQUEST_LOG: AtomicU8 = AtomicU8::new(0);

impl RequestLog {
    /// The process's setting (logging is process-wide, like the subscriber).
    pub fn current() -> Self {
        match REQUEST_LOG.load(Ordering::Relaxed) {
            0 => Self::All,
            1 => Self::Errors,
            _ => Self::Off,
        }
    }

    /// Makes `self` the process's setting.
    pub fn install(self) {
        REQUEST_LOG.store(self as u8, Ordering::Relaxed);
    }

    /// Whether a request answered `status` (499: dropped by its client) gets a line.
    pub fn logs(self, status: u16) -> bool {
        match self {
            Self::All => true,
            Self::Errors => status >= 500 || status == CLIENT_CLOSED_REQUEST,
            Self::Off => false,
        }
    }
}

/// The status recorded for a request whose client went away before the answer (as proxies
/// log it): it was never sent.
pub const CLIENT_CLOSED_REQUEST: u16 = 499;

/// `RUST_LOG` when set, else info for Wizreg and warnings from the database driver.
pub fn filter_from_env() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tokio_postgres=warn"))
}

/// Keeps the log writer thread; dropping it writes out what is still queued.
#[derive(Debug)]
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard(#[allow(dead_code)] Option<WriterGuard>);

/// Installs the process's subscriber: standard error through a batching writer thread.
/// A second call keeps the first subscriber (and returns a guard holding nothing).
pub fn init(json: bool, request_log: RequestLog) -> LogGuard {
    request_log.install();
    let (writer, guard) = BatchedWriter::start(std::io::stderr());
    let ansi = std::io::stderr().is_terminal();
    let subscriber = build(json, filter_from_env(), writer, ansi);
    match tracing_subscriber::util::SubscriberInitExt::try_init(subscriber) {
        Ok(()) => LogGuard(Some(guard)),
        Err(_) => LogGuard(None),
    }
}

/// A subscriber writing to `writer`, as plain text (no colour codes) or as one JSON object per
/// line.
pub fn subscriber<W>(
    json: bool,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    build(json, filter, writer, false)
}

fn build<W>(
    json: bool,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi)
        .with_timer(LineTime);
    if json {
        Box::new(builder.json().finish())
    } else {
        // The module path adds nothing to a request line; the span's fields say what it is.
        // Fields as plain `name=value`: the default field formatter styles every name and `=`
        // through ANSI-aware wrappers even with colour off, which cost more than the values.
        let fields = tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
            if field.name() == "message" {
                write!(writer, "{value:?}")
            } else {
                write!(writer, "{field}={value:?}")
            }
        })
        .delimited(" ");
        Box::new(builder.with_target(false).fmt_fields(fields).finish())
    }
}

/// A line's time as `tracing_subscriber`'s default timer writes it
/// (`2023-11-14T22:13:20.123456Z`), at a fraction of the cost: the date and time of day are
/// worked out once a second per thread, not for every line (they were a tenth of a request's
/// log line).
#[derive(Clone, Copy, Debug)]
struct LineTime;

impl FormatTime for LineTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let mut line = [0u8; 27];
        write_line_time(since_epoch, &mut line);
        // Digits and ASCII punctuation only.
        w.write_str(std::str::from_utf8(&line).unwrap_or_default())
    }
}

thread_local! {
    /// The last whole second formatted on this thread, and its `YYYY-MM-DDTHH:MM:SS`.
    static LAST_SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` for a time since the epoch.
fn write_line_time(since_epoch: Duration, out: &mut [u8; 27]) {
    let second = since_epoch.as_secs();
    let (cached, mut prefix) = LAST_SECOND.get();
    if cached != second {
        let at = i64::try_from(second)
            .ok()
            .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let mut text = String::with_capacity(19);
        let _ = write!(
            text,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            at.year().clamp(0, 9999),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        );
        prefix.copy_from_slice(&text.as_bytes()[..19]);
        LAST_SECOND.set((second, prefix));
    }
    out[..19].copy_from_slice(&prefix);
    out[19] = b'.';
    let mut micros = since_epoch.subsec_micros();
    for digit in out[20..26].iter_mut().rev() {
        *digit = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    out[26] = b'Z';
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_time_reads_like_the_default_timer() {
        let mut line = [0u8; 27];
        write_line_time(Duration::new(1_700_000_000, 123_456_789), &mut line);
        assert_eq!(&line, b"2023-11-14T22:13:20.123456Z");
        write_line_time(Duration::new(1_700_000_000, 5_000), &mut line);
        assert_eq!(&line, b"2023-11-14T22:13:20.000005Z");
        write_line_time(Duration::new(1_700_000_061, 0), &mut line);
        assert_eq!(&line, b"2023-11-14T22:14:21.000000Z");
    }

    #[test]
    fn errors_only_logs_server_errors_and_requests_their_clients_gave_up_on() {
        for (status, all, errors) in [
            (200, true, false),
            (404, true, false),
            (499, true, true),
            (500, true, true),
            (503, true, true),
        ] {
            assert_eq!(RequestLog::All.logs(status), all, "{status}");
            assert_eq!(RequestLog::Errors.logs(status), errors, "{status}");
            assert!(!RequestLog::Off.logs(status), "{status}");
        }
    }
}
