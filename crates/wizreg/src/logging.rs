//! Log output: human-readable text or JSON lines (`WIZREG_LOG_JSON`), filtered by `RUST_LOG`.
//! Request lines carry the `request` span (request id, method, route, tenant id); what may
//! never appear in them (bodies, secrets, database text) is kept out where they are written
//! (`http::observe`, `http::error`).

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// `RUST_LOG` when set, else info for Wizreg and warnings from the database driver.
pub fn filter_from_env() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tokio_postgres=warn"))
}

/// A subscriber writing to `writer`, as text or as one JSON object per line.
pub fn subscriber<W>(
    json: bool,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if json {
        Box::new(builder.json().finish())
    } else {
        Box::new(builder.finish())
    }
}
