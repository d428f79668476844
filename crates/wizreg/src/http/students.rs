//! `/students`: handlers parse, run one query in a tenant transaction, and shape the answer.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use uuid::Uuid;

use super::body::{parse_id, JsonObject, ListParams};
use super::error::{ApiError, ErrorBody};
use super::idempotency::{self, IdempotencyHeader};
use super::pagination::next_link;
use super::tenant::Tenant;
use super::AppState;
use crate::domain::students::{self, NewStudent, Page, Student, StudentInput, StudentPatch};

#[utoipa::path(post, path = "/students", tag = "students", request_body = StudentInput,
    params(("X-Tenant" = Option<String>, Header, description = "School UUID or slug"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: a retry with the same key and body gets the first answer (1 to 255 visible ASCII characters)")),
    responses((status = 201, body = Student, headers(("Location" = String, description = "The new student: /students/{id}"))), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
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

#[utoipa::path(get, path = "/students", tag = "students",
    params(("X-Tenant" = Option<String>, Header, description = "School UUID or slug"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000), ("after" = Option<Uuid>, Query),
        ("name" = Option<String>, Query, description = "case-insensitive substring")),
    responses((status = 200, body = [Student], headers(("Link" = String, description = "`<…>; rel=\"next\"` when there are more"))), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list(
    tenant: Tenant,
    State(state): State<AppState>,
    params: ListParams,
) -> Result<(HeaderMap, Json<Vec<Student>>), ApiError> {
    let page = Page {
        limit: params.limit,
        after: params.after.unwrap_or(Uuid::nil()),
        name_contains: params.name.clone().unwrap_or_default(),
    };
    let mut rows = state.tenancy.run(tenant.id(), students::list(page)).await?;
    let headers = next_link("/students", &params, &mut rows, |s| s.id);
    Ok((headers, Json(rows)))
}

#[utoipa::path(get, path = "/students/{id}", tag = "students",
    params(("id" = Uuid, Path), ("X-Tenant" = Option<String>, Header, description = "School UUID or slug")),
    responses((status = 200, body = Student), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn get(
    tenant: Tenant,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Student>, ApiError> {
    let id = parse_id(&id, "student")?;
    let student = state.tenancy.run(tenant.id(), students::get(id)).await?;
    student
        .map(Json)
        .ok_or_else(|| ApiError::not_found("student"))
}

#[utoipa::path(patch, path = "/students/{id}", tag = "students", request_body = StudentInput,
    params(("id" = Uuid, Path), ("X-Tenant" = Option<String>, Header, description = "School UUID or slug")),
    responses((status = 200, body = Student), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn update(
    tenant: Tenant,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonObject(input): JsonObject,
) -> Result<Json<Student>, ApiError> {
    let id = parse_id(&id, "student")?;
    let patch = StudentPatch::parse(input)?;
    let student = state
        .tenancy
        .run(tenant.id(), students::update(id, patch))
        .await?;
    student
        .map(Json)
        .ok_or_else(|| ApiError::not_found("student"))
}

#[utoipa::path(delete, path = "/students/{id}", tag = "students",
    params(("id" = Uuid, Path), ("X-Tenant" = Option<String>, Header, description = "School UUID or slug")),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
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
