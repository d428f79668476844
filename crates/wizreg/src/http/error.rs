//! The API's one error type, mapped to HTTP in one place. Every error is JSON:
//! `{"error": {"code", "message", "fields"?}}`. Database failures are classified by SQLSTATE;
//! their text never reaches a response (the logging middleware sees only the kind and code).

use std::borrow::Cow;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tenancy::ResolveError;
use tenancy::{DbError, DbErrorKind};
use utoipa::ToSchema;

use crate::auth::AuthError;
use crate::domain::input::FieldErrors;
use crate::domain::violation::{self, Violation};

/// What went wrong, for programs. Each code has one usual status: `tenant_required` and
/// `invalid_request` 400 (`invalid_request` is also 405, 415 and 431), `unauthorized` 401,
/// `tenant_mismatch` and `tenant_suspended` 403, `unknown_tenant` and `not_found` 404,
/// `conflict` 409, `payload_too_large` 413, `validation_failed` 422, `rate_limited` 429,
/// `internal` 500, `unavailable` 503.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    TenantRequired,
    InvalidRequest,
    Unauthorized,
    TenantMismatch,
    TenantSuspended,
    UnknownTenant,
    NotFound,
    Conflict,
    PayloadTooLarge,
    ValidationFailed,
    RateLimited,
    Unavailable,
    Internal,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: Cow<'static, str>,
    fields: Option<FieldErrors>,
    retry_after_secs: Option<u32>,
    /// For the log line only: what went wrong inside (never server text).
    cause: Option<String>,
}

/// Every error answer: `{"error": {"code", "message", "fields"?}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// One error: a code for programs, a sentence for humans, and for a bad input the fields at
/// fault.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    code: ErrorCode,
    #[schema(example = "no such student")]
    message: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = FieldErrors)]
    fields: Option<FieldErrors>,
}

/// Attached to error responses so the request log can say why, without a body or SQL.
#[derive(Clone, Debug)]
pub struct ErrorCause(pub String);

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: None,
            retry_after_secs: None,
            cause: None,
        }
    }
    pub fn tenant_required() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::TenantRequired,
            "name the school with the X-Tenant header or a <school>.<base domain> host",
        )
    }
    pub fn unknown_tenant() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownTenant,
            "no school by that name or id",
        )
    }
    pub fn tenant_suspended() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::TenantSuspended,
            "this school is suspended",
        )
    }
    pub fn not_found(what: &'static str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no such {what}"),
        )
    }
    pub fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such route")
    }
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::InvalidRequest,
            "this route does not take that method",
        )
    }
    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, message)
    }
    pub fn validation(fields: FieldErrors) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            "some fields are invalid",
        )
        .with_fields(fields)
    }
    pub fn with_fields(mut self, fields: FieldErrors) -> Self {
        self.fields = Some(fields);
        self
    }
    pub fn field(field: &str, message: &str) -> Self {
        Self::validation(FieldErrors::from([(field.to_owned(), message.to_owned())]))
    }
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, ErrorCode::Conflict, message)
    }
    /// 409: a request with the same `Idempotency-Key` holds it (or committed a moment ago).
    pub fn idempotency_key_in_progress() -> Self {
        Self::conflict(crate::idempotency::KEY_IN_PROGRESS)
    }
    pub fn unavailable(message: &'static str) -> Self {
        let mut err = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            message,
        );
        err.retry_after_secs = Some(1);
        err
    }
    /// 429: the school is over one of its limits; `retry_after` is rounded up to whole seconds.
    pub fn rate_limited(message: &'static str, retry_after: std::time::Duration) -> Self {
        let mut err = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            message,
        );
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        err.retry_after_secs = Some(u32::try_from(secs.max(1)).unwrap_or(u32::MAX));
        err
    }
    /// What the web console shows instead of the JSON body.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    pub fn code(&self) -> ErrorCode {
        self.code
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn fields(&self) -> Option<&FieldErrors> {
        self.fields.as_ref()
    }
    pub fn internal(cause: String) -> Self {
        let mut err = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "something went wrong on our side",
        );
        err.cause = Some(cause);
        err
    }
}

impl From<FieldErrors> for ApiError {
    fn from(fields: FieldErrors) -> Self {
        Self::validation(fields)
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Refused(message) => {
                ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
            }
            AuthError::Unavailable(db) => ApiError::from(db),
            AuthError::Busy => ApiError::unavailable(
                "too many unknown credentials are being checked at once; try again shortly",
            ),
        }
    }
}

impl From<ResolveError> for ApiError {
    fn from(err: ResolveError) -> Self {
        Self::invalid_request(err.to_string())
    }
}

/// The modules whose constraints have a meaning for clients: each says what its own mean.
const CONSTRAINT_OWNERS: &[violation::Constraints] = &[
    crate::domain::students::CONSTRAINTS,
    crate::domain::houses::CONSTRAINTS,
    crate::tenants::CONSTRAINTS,
    crate::idempotency::CONSTRAINTS,
];

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        crate::metrics::metrics().count_db_error(&err);
        let meaning = err
            .constraint()
            .and_then(|name| violation::meaning(CONSTRAINT_OWNERS, name));
        let mut api = match (err.kind(), meaning) {
            (DbErrorKind::UniqueViolation, Some(Violation::Conflict(message))) => {
                Self::conflict(message)
            }
            (DbErrorKind::UniqueViolation, _) => {
                Self::conflict("this would duplicate an existing record")
            }
            // The same answer whether the referenced row is missing or another school's.
            (DbErrorKind::ForeignKeyViolation, Some(Violation::Field { field, message })) => {
                Self::field(field, message)
            }
            (DbErrorKind::InvalidData, _) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ValidationFailed,
                "a value is out of range",
            ),
            // 57014 (statement timeout) or 55P03 (lock timeout): the work was cancelled and
            // rolled back, so a retry is safe.
            (DbErrorKind::Timeout, _) => Self::unavailable(
                "the database did not finish this request within its time limit; nothing was changed, retry",
            ),
            (DbErrorKind::Unavailable, _) => {
                Self::unavailable("the database is unavailable; retry")
            }
            _ => Self::internal(String::new()),
        };
        api.cause = Some(err.to_string());
        api
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                fields: self.fields,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 9110: a 401 names the scheme that would be accepted.
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(cause) = self.cause {
            response.extensions_mut().insert(ErrorCause(cause));
        }
        response
    }
}
