//! `GET /admin/tenants/{id}/export` and `POST /admin/tenants/{id}/import`: a school as NDJSON,
//! streamed both ways (see [`crate::portability`] for the format), described to OpenAPI as
//! binary bodies so generated clients send and receive bytes.
//!
//! The platform connection only finds the school; the records themselves are read and written
//! in the school's own tenant transaction, as the runtime role.

use axum::body::Body;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;
use tokio_util::io::StreamReader;

use super::tenants::tenant_ref;
use super::PlatformAdmin;
use crate::domain::input::FieldErrors;
use crate::http::deadline::RequestDeadline;
use crate::http::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::AppState;
use crate::portability::export::{export as export_tenant, ExportError};
use crate::portability::import::{import as import_tenant, ImportError};
use crate::portability::lines::LinesError;
use crate::registry::TenantRecord;
use crate::tenants;

/// The default largest import body (`WIZREG_IMPORT_MAX_BYTES`): 2 GiB, about 7 million
/// students. Lines are read one at a time, so this bounds how long one import transaction may
/// run, not memory.
pub const DEFAULT_IMPORT_MAX_BYTES: u64 = 2 * 1024 * 1024 * 1024;

pub const NDJSON: &str = "application/x-ndjson";

/// Media types an import body may be sent as: NDJSON under its usual names, or plain bytes
/// (what generated clients send for a binary body).
const IMPORT_MEDIA_TYPES: [&str; 3] = [NDJSON, "application/jsonl", "application/octet-stream"];

/// A school as NDJSON bytes, one JSON record a line: the `tenant` record, its houses, its
/// students, and an `end` record with the counts.
// The import's body extractor (any of `IMPORT_MEDIA_TYPES`), and the export's schema.
#[derive(Debug, utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct NdjsonBody(Body);

impl<S: Send + Sync> FromRequest<S> for NdjsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let accepted = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                IMPORT_MEDIA_TYPES.contains(&mime.as_str())
            });
        if !accepted {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::InvalidRequest,
                "send the export with Content-Type: application/x-ndjson (or application/octet-stream)",
            ));
        }
        Ok(Self(req.into_body()))
    }
}

/// What an import stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportedCounts {
    houses: u64,
    students: u64,
}

/// Finds the school for per-tenant work; a half-deleted school is a conflict.
async fn target(admin: &PlatformAdmin, raw: &str) -> Result<TenantRecord, ApiError> {
    let reference = tenant_ref(raw)?;
    let conn = admin.0.connection().await?;
    let tenant = tenants::find(conn.client(), &reference)
        .await?
        .ok_or_else(ApiError::unknown_tenant)?;
    if tenants::is_offboarding(conn.client(), tenant.id).await? {
        return Err(ApiError::conflict(
            "this school is being deleted; finish with DELETE /admin/tenants/{id}",
        ));
    }
    Ok(tenant)
}

/// Export a school
///
/// Streams the school as NDJSON from one consistent snapshot: the `tenant` record, houses and
/// students by id, and an `end` record with the counts (so a cut-off file is recognised). API
/// keys and idempotency records are not exported.
#[utoipa::path(get, path = "/admin/tenants/{tenant}/export", tag = "portability", operation_id = "export_tenant",
    params(("tenant" = String, Path, description = "The school's UUID or slug")),
    responses(
        (status = 200, description = "The school, one JSON record a line", content_type = "application/x-ndjson", body = NdjsonBody,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"<slug>.ndjson\"`"))),
        (status = 409, description = "`conflict`: the school is being deleted", body = ErrorBody)))]
pub async fn export(
    admin: PlatformAdmin,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = target(&admin, &tenant).await?;
    let (mut sender, mut receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let tenancy = state.tenancy.clone();
    // The export owns its transaction in a task of its own; if the client goes away, the
    // channel closes, the next send fails, and dropping the transaction rolls it back.
    tokio::spawn(async move {
        let failed = sender.clone();
        if let Err(err) = export_tenant(&tenancy, tenant.id, &mut sender, |_| {}).await {
            if !matches!(err, ExportError::Write(_)) {
                tracing::error!(tenant = %tenant.id, error = %err, "export failed");
            }
            // Aborts the response, so a client cannot take a cut-off export for a whole one.
            let _ = failed
                .send(Err(std::io::Error::other("export failed")))
                .await;
        }
    });
    // The first chunk (the tenant record) comes once the transaction is open: an unreachable
    // database is still a proper error status here, not a broken stream.
    let first = match receiver.recv().await {
        Some(Ok(chunk)) => chunk,
        _ => return Err(ApiError::unavailable("the export could not start; retry")),
    };
    let rest = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    let body = futures_util::stream::once(async { Ok(first) }).chain(rest);
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    if let Ok(disposition) =
        HeaderValue::from_str(&format!("attachment; filename=\"{}.ndjson\"", tenant.slug))
    {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

/// Import into a school
///
/// Loads an export into a school with no houses or students, in one transaction: all of it or
/// none. Ids, names, emails, house links and timestamps are kept, so export → import → export
/// gives the same bytes. The body is read a line at a time (lines up to 64 KiB, bodies up to
/// `WIZREG_IMPORT_MAX_BYTES`, default 2 GiB); `application/jsonl` is taken too.
#[utoipa::path(post, path = "/admin/tenants/{tenant}/import", tag = "portability", operation_id = "import_tenant",
    params(("tenant" = String, Path, description = "The school's UUID or slug; it must hold no houses or students")),
    request_body(description = "An export, as `export_tenant` wrote it",
        content((NdjsonBody = "application/x-ndjson"), (NdjsonBody = "application/octet-stream"))),
    responses(
        (status = 200, description = "What was imported", body = ImportedCounts),
        (status = 409, description = "`conflict`: the school is not empty, or is being deleted", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: over `WIZREG_IMPORT_MAX_BYTES`; nothing was imported", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a bad line; `fields.line` and `fields.reason` say which and why; nothing was imported", body = ErrorBody)))]
pub async fn import(
    admin: PlatformAdmin,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    deadline: Option<Extension<RequestDeadline>>,
    NdjsonBody(body): NdjsonBody,
) -> Result<Json<ImportedCounts>, ApiError> {
    let tenant = target(&admin, &tenant).await?;
    let reader = StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    let counts = import_tenant(
        &state.tenancy,
        tenant.id,
        reader,
        state.import_max_bytes,
        // Each line received moves the request deadline: a long upload that keeps coming is
        // not cut off, a stalled one is.
        |_| {
            if let Some(Extension(deadline)) = &deadline {
                deadline.progress();
            }
        },
    )
    .await
    .map_err(import_error)?;
    Ok(Json(ImportedCounts {
        houses: counts.houses,
        students: counts.students,
    }))
}

fn bad_line(line: u64, reason: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::ValidationFailed,
        format!("line {line}: {reason}; nothing was imported"),
    )
    .with_fields(FieldErrors::from([
        ("line".to_owned(), line.to_string()),
        ("reason".to_owned(), reason),
    ]))
}

fn import_error(err: ImportError) -> ApiError {
    match err {
        ImportError::BadLine { line, reason } => bad_line(line, reason),
        ImportError::NotEmpty => ApiError::conflict(err.to_string()),
        ImportError::Input(LinesError::TooLarge { max_bytes }) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("an import is at most {max_bytes} bytes; nothing was imported"),
        ),
        ImportError::Input(LinesError::LineTooLong { line }) => {
            bad_line(line, "the line is too long".into())
        }
        ImportError::Input(LinesError::NotUtf8 { line }) => {
            bad_line(line, "the line is not UTF-8".into())
        }
        ImportError::Input(LinesError::Io(_)) => {
            ApiError::invalid_request("the body could not be read")
        }
        ImportError::Db(db) => db.into(),
    }
}
