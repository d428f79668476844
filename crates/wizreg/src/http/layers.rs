//! The one layer around every request, its steps in the order they apply: the request is
//! observed (request id, span, log line, metrics: [`super::observe`]), then held to its
//! deadline ([`super::deadline`]), then refused if its headers are too large
//! ([`super::limits`]), and a framework error the router answers is made JSON
//! ([`super::json_errors`]).
//!
//! One `from_fn` rather than one per step: each `from_fn` layer clones the service beneath it
//! and boxes a `Next` and a future for every request.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use super::{deadline, json_errors, limits, observe};

/// Every request of the API goes through this.
pub async fn every_request(request: Request, next: Next) -> Response {
    observe::observe(request, |request| {
        deadline::enforce(request, |request| async move {
            if let Some(refused) = limits::refuse_oversized_headers(&request) {
                return refused;
            }
            json_errors::json_errors(next.run(request).await)
        })
    })
    .await
}
