//! [`JsonBody`]: a `200` JSON answer written by [`WriteJson`] (the same bytes as axum's `Json`,
//! fewer instructions; see [`crate::json`]).

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::json::WriteJson;

/// A JSON answer: `Content-Type: application/json` and the value's JSON.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: WriteJson> IntoResponse for JsonBody<T> {
    fn into_response(self) -> Response {
        match self.0.to_json() {
            Ok(bytes) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                bytes,
            )
                .into_response(),
            Err(err) => ApiError::internal(err.to_string()).into_response(),
        }
    }
}
