//! The layer around every request that makes it observable: a request id (taken from a sane
//! `X-Request-Id`, else generated, and echoed), a `request` span carrying that id and the
//! school, one log line per request, and the request metrics.
//!
//! The school is learnt by the `Tenant` extractor deep inside the handler; it reports it
//! through a task-local slot that this layer opens around the request, so nothing is allocated
//! per request to carry it out again.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::field;

use super::error::ErrorCause;
use crate::metrics::{metrics, TenantLabels, NO_TENANT};
use crate::registry::TenantRecord;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Longest incoming request id kept; longer ones are replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

tokio::task_local! {
    /// The `tenant` metric label of the request being served on this task.
    static TENANT_LABEL: RefCell<Option<Arc<str>>>;
}

/// Tells the observing layer which school the current request serves.
pub fn record_tenant(labels: &TenantLabels, record: &TenantRecord) {
    tracing::Span::current().record("tenant", field::display(record.id));
    let label = labels.label(record.id, record.slug.as_str());
    // Outside the observing layer (a handler driven on its own) there is no slot: nothing to do.
    let _ = TENANT_LABEL.try_with(|slot| *slot.borrow_mut() = Some(label));
}

/// One span, one log line and one metric sample per request. Never a body, a header value other
/// than the request id, or database text.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id(request.headers().get(REQUEST_ID_HEADER));
    let method = request.method().clone();
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = route_label(matched.as_ref());
    let span = tracing::info_span!(
        "request",
        request_id = request_id.to_str().unwrap_or_default(),
        %method,
        route,
        tenant = field::Empty,
    );
    let (mut response, tenant) = TENANT_LABEL
        .scope(RefCell::new(None), async {
            let response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
            (response, TENANT_LABEL.with(|slot| slot.borrow_mut().take()))
        })
        .await;
    let elapsed = started.elapsed();
    let status = response.status();
    metrics().observe_request(
        route,
        &method,
        status,
        tenant.as_deref().unwrap_or(NO_TENANT),
        elapsed.as_secs_f64(),
    );
    let _entered = span.enter();
    let (status_code, elapsed_ms) = (status.as_u16(), elapsed.as_secs_f64() * 1000.0);
    match response.extensions().get::<ErrorCause>() {
        Some(ErrorCause(cause)) if status.is_server_error() => {
            tracing::error!(status = status_code, elapsed_ms, cause, "request failed")
        }
        Some(ErrorCause(cause)) => {
            tracing::info!(status = status_code, elapsed_ms, cause, "request")
        }
        None if status.is_server_error() => {
            tracing::error!(status = status_code, elapsed_ms, "request failed")
        }
        None => tracing::info!(status = status_code, elapsed_ms, "request"),
    }
    response.headers_mut().insert(REQUEST_ID_HEADER, request_id);
    response
}

/// The client's request id when it is short and plain (so it is safe in logs and headers),
/// else a fresh random one.
fn request_id(incoming: Option<&HeaderValue>) -> HeaderValue {
    let sane = |value: &&HeaderValue| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= MAX_REQUEST_ID_LEN
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    };
    match incoming.filter(sane) {
        Some(value) => value.clone(),
        None => HeaderValue::try_from(format!("{:032x}", rand::random::<u128>()))
            .expect("hex digits are a valid header value"),
    }
}

/// The route template, with the optional trailing slash folded into the plain route.
fn route_label(matched: Option<&MatchedPath>) -> &str {
    match matched.map(MatchedPath::as_str) {
        Some("/") => "/",
        Some(route) => route.strip_suffix('/').unwrap_or(route),
        None => "unmatched",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_request_id_is_kept_and_anything_else_is_replaced() {
        let kept = HeaderValue::from_static("abc-123_X.y:z");
        assert_eq!(request_id(Some(&kept)), kept);
        for bad in ["", "has space", "quote\"", "semi;colon"] {
            let value = HeaderValue::from_str(bad).expect("header");
            let replaced = request_id(Some(&value));
            assert_ne!(replaced, value);
            assert_eq!(replaced.len(), 32);
        }
        let long = HeaderValue::from_str(&"a".repeat(MAX_REQUEST_ID_LEN + 1)).expect("header");
        assert_ne!(request_id(Some(&long)), long);
    }
}
