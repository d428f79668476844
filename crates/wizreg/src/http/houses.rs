//! `/houses`: the same shape as students, with names unique per school.

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
use crate::domain::houses::{self, House, HouseInput, HouseName};

#[utoipa::path(post, path = "/houses", tag = "houses", request_body = HouseInput,
    params(("X-Tenant" = Option<String>, Header, description = "School UUID or slug"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: a retry with the same key and body gets the first answer (1 to 255 visible ASCII characters)")),
    responses((status = 201, body = House, headers(("Location" = String, description = "The new house: /houses/{id}"))), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn create(
    tenant: Tenant,
    State(state): State<AppState>,
    key: IdempotencyHeader,
    JsonObject(input): JsonObject,
) -> Result<Response, ApiError> {
    let keyed = key.for_request("/houses", &input);
    let name =
        HouseName::parse(input, true)?.ok_or_else(|| ApiError::field("name", "is required"))?;
    idempotency::create(&state, &tenant, keyed, houses::insert(name), |h| {
        format!("/houses/{}", h.id)
    })
    .await
}

#[utoipa::path(get, path = "/houses", tag = "houses",
    params(("X-Tenant" = Option<String>, Header, description = "School UUID or slug"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000), ("after" = Option<Uuid>, Query)),
    responses((status = 200, body = [House], headers(("Link" = String, description = "`<…>; rel=\"next\"` when there are more"))), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list(
    tenant: Tenant,
    State(state): State<AppState>,
    params: ListParams,
) -> Result<(HeaderMap, Json<Vec<House>>), ApiError> {
    let query = houses::list(params.limit, params.after.unwrap_or(Uuid::nil()));
    let mut rows = state.tenancy.run(tenant.id(), query).await?;
    let headers = next_link("/houses", &params, &mut rows, |h| h.id);
    Ok((headers, Json(rows)))
}

#[utoipa::path(get, path = "/houses/{id}", tag = "houses",
    params(("id" = Uuid, Path), ("X-Tenant" = Option<String>, Header, description = "School UUID or slug")),
    responses((status = 200, body = House), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn get(
    tenant: Tenant,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<House>, ApiError> {
    let id = parse_id(&id, "house")?;
    let house = state.tenancy.run(tenant.id(), houses::get(id)).await?;
    house.map(Json).ok_or_else(|| ApiError::not_found("house"))
}

#[utoipa::path(patch, path = "/houses/{id}", tag = "houses", request_body = HouseInput,
    params(("id" = Uuid, Path), ("X-Tenant" = Option<String>, Header, description = "School UUID or slug")),
    responses((status = 200, body = House), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn update(
    tenant: Tenant,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonObject(input): JsonObject,
) -> Result<Json<House>, ApiError> {
    let id = parse_id(&id, "house")?;
    let name = HouseName::parse(input, false)?;
    let house = state
        .tenancy
        .run(tenant.id(), houses::update(id, name))
        .await?;
    house.map(Json).ok_or_else(|| ApiError::not_found("house"))
}

#[utoipa::path(delete, path = "/houses/{id}", tag = "houses",
    params(("id" = Uuid, Path), ("X-Tenant" = Option<String>, Header, description = "School UUID or slug")),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn delete(
    tenant: Tenant,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id, "house")?;
    if state.tenancy.run(tenant.id(), houses::delete(id)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("house"))
    }
}
