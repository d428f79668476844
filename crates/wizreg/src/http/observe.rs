//! The layer around every request that makes it observable: a request id (taken from a sane
//! `X-Request-Id`, else generated, and echoed), a `request` span carrying that id and the
//! school, one log line per request (as `WIZREG_REQUEST_LOG` says), and the request metrics,
//! including requests dropped because their client went away (`499`).
//!
//! The school is learnt by the `Tenant` extractor deep inside the handler; it reports it
//! through a task-local slot that this layer opens around the request, so nothing is allocated
//! per request to carry it out again.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use std::future::Future;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use tenancy::TenantId;
use tracing::field;

use super::error::ErrorCause;
use crate::logging::{RequestLog, CLIENT_CLOSED_REQUEST};
use crate::metrics::{metrics, TenantLabels, NO_TENANT};
use crate::registry::TenantRecord;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Longest incoming request id kept; longer ones are replaced.
const MAX_REQUEST_ID_LEN: usize = 128;
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

tokio::task_local! {
    /// The school of the request being served on this task, and its `tenant` metric label.
    static TENANT_SEEN: RefCell<Option<(TenantId, Arc<str>)>>;
}

/// Tells the observing layer which school the current request serves.
pub fn record_tenant(labels: &TenantLabels, record: &TenantRecord) {
    tracing::Span::current().record("tenant", field::display(record.id));
    let label = labels.label(record.id, record.slug.as_str());
    // Outside the observing layer (a handler driven on its own) there is no slot: nothing to do.
    let _ = TENANT_SEEN.try_with(|slot| *slot.borrow_mut() = Some((record.id, label)));
}

/// One span, one log line and one metric sample per request. Never a body, a header value other
/// than the request id, or database text. A request whose client goes away before the answer
/// (its future is dropped) is recorded too, as `499` ("client closed request"). `inner`
/// answers the request (the rest of [`super::layers::every_request`]).
pub async fn observe<F, Fut>(request: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let started = Instant::now();
    let request_id = request_id(request.headers().get(REQUEST_ID_HEADER));
    let method = request.method().clone();
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = route_label(matched.as_ref());
    let log = RequestLog::current();
    // The span carries the request to nested lines (tenant transactions, errors inside a
    // handler). Only built up front when every request is logged: otherwise the few lines
    // written get a span of their own at the end.
    let span = match log {
        RequestLog::All => request_span(&request_id, &method, route),
        RequestLog::Errors | RequestLog::Off => tracing::Span::none(),
    };
    let mut response = TENANT_SEEN
        .scope(RefCell::new(None), async {
            let mut in_flight = InFlight {
                started,
                request_id: &request_id,
                method: &method,
                route,
                span: &span,
                log,
                answered: false,
            };
            let response = tracing::Instrument::instrument(inner(request), span.clone()).await;
            in_flight.answered = true;
            let tenant = TENANT_SEEN.with(|slot| slot.borrow_mut().take());
            let cause = response.extensions().get::<ErrorCause>();
            in_flight.record(response.status(), tenant.as_ref(), cause);
            response
        })
        .await;
    response.headers_mut().insert(REQUEST_ID_HEADER, request_id);
    response
}

/// A request being served. Dropped before it was answered, it records the request as closed
/// by the client. (tokio drops a task-local scope's future inside the scope, so the school is
/// still known then.)
struct InFlight<'a> {
    started: Instant,
    request_id: &'a HeaderValue,
    method: &'a Method,
    route: &'a str,
    span: &'a tracing::Span,
    log: RequestLog,
    answered: bool,
}

impl InFlight<'_> {
    /// The metric sample and, if the log setting wants it, the request line.
    fn record(
        &self,
        status: StatusCode,
        tenant: Option<&(TenantId, Arc<str>)>,
        cause: Option<&ErrorCause>,
    ) {
        let elapsed = self.started.elapsed();
        metrics().observe_request(
            self.route,
            self.method,
            status,
            tenant.map_or(NO_TENANT, |(_, label)| label),
            elapsed.as_secs_f64(),
        );
        let status_code = status.as_u16();
        if !self.log.logs(status_code) {
            return;
        }
        let built;
        let span = if self.span.is_none() {
            built = request_span(self.request_id, self.method, self.route);
            if let Some((id, _)) = tenant {
                built.record("tenant", field::display(id));
            }
            &built
        } else {
            self.span
        };
        let _entered = span.enter();
        // Whole microseconds: an integer formats in a few instructions, a float's shortest
        // decimal form in thousands.
        let elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let cause = cause.map(|ErrorCause(cause)| cause.as_str());
        match cause {
            _ if status_code == CLIENT_CLOSED_REQUEST => {
                tracing::info!(status = status_code, elapsed_us, "client closed request")
            }
            Some(cause) if status.is_server_error() => {
                tracing::error!(status = status_code, elapsed_us, cause, "request failed")
            }
            Some(cause) => tracing::info!(status = status_code, elapsed_us, cause, "request"),
            None if status.is_server_error() => {
                tracing::error!(status = status_code, elapsed_us, "request failed")
            }
            None => tracing::info!(status = status_code, elapsed_us, "request"),
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        let tenant = TENANT_SEEN
            .try_with(|slot| slot.borrow_mut().take())
            .ok()
            .flatten();
        let closed =
            StatusCode::from_u16(CLIENT_CLOSED_REQUEST).expect("499 is a three-digit status code");
        self.record(closed, tenant.as_ref(), None);
    }
}

fn request_span(request_id: &HeaderValue, method: &Method, route: &str) -> tracing::Span {
    tracing::info_span!(
        "request",
        request_id = request_id.to_str().unwrap_or_default(),
        %method,
        route,
        tenant = field::Empty,
    )
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
        None => {
            // 32 hex digits written in place: no formatting machinery, one allocation.
            let mut hex = [0u8; 32];
            let random = rand::random::<u128>().to_be_bytes();
            for (pair, byte) in hex.chunks_exact_mut(2).zip(random) {
                pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
                pair[1] = HEX_DIGITS[usize::from(byte & 0x0f)];
            }
            HeaderValue::from_bytes(&hex).expect("hex digits are a valid header value")
        }
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
