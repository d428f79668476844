//! The safety net behind "errors are always JSON": a rejection produced by the framework itself
//! (a path segment that is not valid UTF-8 after percent-decoding, for instance) comes back as
//! plain text. This layer gives any such error response our JSON error body, keeping its
//! status and headers. Our own errors are JSON already and pass through untouched.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorCode};

/// Rewrites a non-JSON error response into `{"error": {"code", "message"}}`.
pub fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    // The web console's pages are HTML by design, errors included.
    let is_console_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json || is_console_page {
        return response;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such route"),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, "the body is too large"),
        StatusCode::TOO_MANY_REQUESTS => (ErrorCode::RateLimited, "too many requests; retry later"),
        StatusCode::SERVICE_UNAVAILABLE => {
            (ErrorCode::Unavailable, "the service is unavailable; retry")
        }
        s if s.is_client_error() => (ErrorCode::InvalidRequest, "the request is malformed"),
        _ => (ErrorCode::Internal, "something went wrong on our side"),
    };
    let (mut parts, _) = response.into_parts();
    let (_, body) = ApiError::new(status, code, message)
        .into_response()
        .into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, body)
}
