//! `/houses`: the same shape as students, with names unique per school.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use uuid::Uuid;

use super::body::{parse_id, JsonObject, ListParams};
use super::error::{ApiError, ErrorBody};
use super::pagination::next_link;
use super::tenant::Tenant;
use super::AppState;
use crate::domain::houses::{self, House, HouseInput, HouseName};

#[utoipa::path(post, path = "/houses", tag = "houses", request_body = HouseInput,
    params(("X-Tenant" = Option<String>, Header, description = "School UUID or slug")),
    responses((status = 201, body = House), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    tenant: Tenant,
    State(state): State<AppState>,
    JsonObject(input): JsonObject,
) -> Result<(StatusCode, HeaderMap, Json<House>), ApiError> {
    let name =
        HouseName::parse(input, true)?.ok_or_else(|| ApiError::field("name", "is required"))?;
    let house = state.tenancy.run(tenant.id(), houses::insert(name)).await?;
    let mut headers = HeaderMap::new();
    let location = format!("/houses/{}", house.id);
    headers.insert(
        header::LOCATION,
        location
            .parse()
            .map_err(|_| ApiError::internal("location".into()))?,
    );
    Ok((StatusCode::CREATED, headers, Json(house)))
}

#[utoipa::path(get, path = "/houses", tag = "houses",
    params(("X-Tenant" = Option<String>, Header, description = "School UUID or slug"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000), ("after" = Option<Uuid>, Query)),
    responses((status = 200, body = [House]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
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
    responses((status = 200, body = House), (status = 404, body = ErrorBody)))]
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
        (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
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
    responses((status = 204), (status = 404, body = ErrorBody)))]
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
