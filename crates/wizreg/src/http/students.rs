//! `/students`: handlers parse, run one query in a tenant transaction, and shape the answer.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use uuid::Uuid;

use super::body::{parse_id, JsonObject, ListParams};
use super::error::{ApiError, ErrorBody};
use super::idempotency::{self, IdempotencyHeader};
use super::json_body::JsonBody;
use super::pagination::next_page;
use super::tenant::Tenant;
use super::AppState;
use crate::domain::students::{self, NewStudent, Page, Student, StudentPatch};

/// Enrol a student
///
/// `tenant_id` is never taken from the body: the school is the request's. A retry with the
/// same `Idempotency-Key` and body gets the first answer again and creates nothing.
#[utoipa::path(post, path = "/students", tag = "students", operation_id = "create_student",
    request_body = NewStudent, params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "Makes a retry safe: a retry with the same key and body gets the first answer again, with `Idempotent-Replayed: true` (1 to 255 visible ASCII characters; a UUID is the usual choice)")),
    responses((status = 201, description = "The student", body = Student, headers(
            ("Location" = String, description = "The new student: `/students/{id}`"),
            ("Idempotent-Replayed" = String, description = "`true` when this is the first answer to an earlier request with the same `Idempotency-Key`"))),
        (status = 409, description = "`conflict`: the email is taken in this school, or a request with this `Idempotency-Key` is still running", body = ErrorBody)))]
pub async fn create(
    tenant: Tenant,
    State(state): State<AppState>,
    key: IdempotencyHeader,
    JsonObject(input): JsonObject,
) -> Result<Response, ApiError> {
    let keyed = key.for_request("/students", &input);
    let new = NewStudent::parse(input)?;
    idempotency::create(&state, &tenant, keyed, students::insert(new), |s| {
        format!("/students/{}", s.id)
    })
    .await
}

/// List students
///
/// Oldest first, a page at a time (keyset pagination): while `X-Next-Cursor` comes back, pass
/// it as `after` for the next page (`Link` carries the same as a URL).
#[utoipa::path(get, path = "/students", tag = "students", operation_id = "list_students",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"), ("after" = Option<Uuid>, Query, description = "The last id of the previous page (its `X-Next-Cursor`); omit for the first page"),
        ("name" = Option<String>, Query, max_length = 200, description = "Only students whose name contains this, ignoring case")),
    responses((status = 200, description = "A page of students", body = [Student], headers(
        ("X-Next-Cursor" = Uuid, description = "Present when there are more: pass it as `after` for the next page"),
        ("Link" = String, description = "Present when there are more: `<…>; rel=\"next\"`, the next page's URL")))))]
pub async fn list(
    tenant: Tenant,
    State(state): State<AppState>,
    params: ListParams,
) -> Result<(HeaderMap, JsonBody<Vec<Student>>), ApiError> {
    let page = Page {
        limit: params.limit,
        after: params.after.unwrap_or(Uuid::nil()),
        name_contains: params.name.clone().unwrap_or_default(),
    };
    let mut rows = state.tenancy.run(tenant.id(), students::list(page)).await?;
    let headers = next_page("/students", &params, &mut rows, |s| s.id);
    Ok((headers, JsonBody(rows)))
}

/// Get a student
///
/// Another school's student is `404`, exactly like a missing one.
#[utoipa::path(get, path = "/students/{id}", tag = "students", operation_id = "get_student",
    params(("id" = Uuid, Path, description = "The student's id")),
    responses((status = 200, description = "The student", body = Student)))]
pub async fn get(
    tenant: Tenant,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<JsonBody<Student>, ApiError> {
    let id = parse_id(&id, "student")?;
    let student = state.tenancy.run(tenant.id(), students::get(id)).await?;
    student
        .map(JsonBody)
        .ok_or_else(|| ApiError::not_found("student"))
}

/// Change a student
///
/// Absent fields stay as they are; `null` clears `email` or `house_id`.
#[utoipa::path(patch, path = "/students/{id}", tag = "students", operation_id = "update_student",
    request_body = StudentPatch, params(("id" = Uuid, Path, description = "The student's id")),
    responses((status = 200, description = "The student as changed", body = Student),
        (status = 409, description = "`conflict`: the email is taken in this school", body = ErrorBody)))]
pub async fn update(
    tenant: Tenant,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonObject(input): JsonObject,
) -> Result<JsonBody<Student>, ApiError> {
    let id = parse_id(&id, "student")?;
    let patch = StudentPatch::parse(input)?;
    let student = state
        .tenancy
        .run(tenant.id(), students::update(id, patch))
        .await?;
    student
        .map(JsonBody)
        .ok_or_else(|| ApiError::not_found("student"))
}

/// Delete a student
///
/// Gone at once; another school's student is `404`, exactly like a missing one.
#[utoipa::path(delete, path = "/students/{id}", tag = "students", operation_id = "delete_student",
    params(("id" = Uuid, Path, description = "The student's id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    tenant: Tenant,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id, "student")?;
    if state.tenancy.run(tenant.id(), students::delete(id)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("student"))
    }
}
