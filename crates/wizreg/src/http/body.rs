//! Request inputs the API reads itself, so every mistake gets our JSON error: a JSON object
//! body, list pagination parameters and path ids.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use super::error::{ApiError, ErrorCode};
use crate::domain::input::Input;

/// Bodies over this size get 413 before they are read in full.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON object body, ready to be read field by field.
#[derive(Debug)]
pub struct JsonObject(pub Input);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::InvalidRequest,
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    "the body is larger than 64 KiB",
                )
            } else {
                ApiError::invalid_request("the body could not be read")
            }
        })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Self(Input::new(map))),
            Ok(_) => Err(ApiError::invalid_request("the body must be a JSON object")),
            Err(_) => Err(ApiError::invalid_request("the body is not valid JSON")),
        }
    }
}

/// `?limit=&after=&name=` of list routes.
#[derive(Debug)]
pub struct ListParams {
    pub limit: i64,
    pub after: Option<Uuid>,
    pub name: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let mut params = Self {
            limit: 100,
            after: None,
            name: None,
        };
        let mut errors = crate::domain::input::FieldErrors::new();
        let query = parts.uri.query().unwrap_or("");
        for (key, value) in form_urlencoded_pairs(query) {
            match key.as_str() {
                "limit" => match value.parse::<i64>() {
                    Ok(n) if (1..=1000).contains(&n) => params.limit = n,
                    _ => errors.add("limit", "must be a whole number from 1 to 1000"),
                },
                "after" => match Uuid::parse_str(&value) {
                    Ok(id) => params.after = Some(id),
                    Err(_) => errors.add("after", "must be the id of the last item seen"),
                },
                "name" if value.chars().count() <= 200 => params.name = Some(value),
                "name" => errors.add("name", "must be at most 200 characters"),
                _ => {} // Unknown query parameters are ignored, as caches and proxies add their own.
            }
        }
        if errors.is_empty() {
            Ok(params)
        } else {
            Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "some query parameters are invalid",
            )
            .with_fields(errors))
        }
    }
}

fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

/// A resource id from the path. A malformed id names nothing: 404, like a missing one.
pub fn parse_id(raw: &str, what: &'static str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found(what))
}
