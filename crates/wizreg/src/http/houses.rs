//! `/houses`: the same shape as students, with names unique per school.

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
use crate::domain::houses::{self, House, HousePatch, NewHouse};

/// Create a house
///
/// House names are unique within a school. A retry with the same `Idempotency-Key` and body
/// gets the first answer again and creates nothing.
#[utoipa::path(post, path = "/houses", tag = "houses", operation_id = "create_house",
    request_body = NewHouse, params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "Makes a retry safe: a retry with the same key and body gets the first answer again, with `Idempotent-Replayed: true` (1 to 255 visible ASCII characters; a UUID is the usual choice)")),
    responses((status = 201, description = "The house", body = House, headers(
            ("Location" = String, description = "The new house: `/houses/{id}`"),
            ("Idempotent-Replayed" = String, description = "`true` when this is the first answer to an earlier request with the same `Idempotency-Key`"))),
        (status = 409, description = "`conflict`: this school has a house of that name, or a request with this `Idempotency-Key` is still running", body = ErrorBody)))]
pub async fn create(
    tenant: Tenant,
    State(state): State<AppState>,
    key: IdempotencyHeader,
    JsonObject(input): JsonObject,
) -> Result<Response, ApiError> {
    let keyed = key.for_request("/houses", &input);
    let new = NewHouse::parse(input)?;
    idempotency::create(&state, &tenant, keyed, houses::insert(new), |h| {
        format!("/houses/{}", h.id)
    })
    .await
}

/// List houses
///
/// Oldest first, a page at a time (keyset pagination): while `X-Next-Cursor` comes back, pass
/// it as `after` for the next page (`Link` carries the same as a URL).
#[utoipa::path(get, path = "/houses", tag = "houses", operation_id = "list_houses",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"), ("after" = Option<Uuid>, Query, description = "The last id of the previous page (its `X-Next-Cursor`); omit for the first page")),
    responses((status = 200, description = "A page of houses", body = [House], headers(
        ("X-Next-Cursor" = Uuid, description = "Present when there are more: pass it as `after` for the next page"),
        ("Link" = String, description = "Present when there are more: `<…>; rel=\"next\"`, the next page's URL")))))]
pub async fn list(
    tenant: Tenant,
    State(state): State<AppState>,
    params: ListParams,
) -> Result<(HeaderMap, JsonBody<Vec<House>>), ApiError> {
    let query = houses::list(params.limit, params.after.unwrap_or(Uuid::nil()));
    let mut rows = state.tenancy.run(tenant.id(), query).await?;
    let headers = next_page("/houses", &params, &mut rows, |h| h.id);
    Ok((headers, JsonBody(rows)))
}

/// Get a house
///
/// Another school's house is `404`, exactly like a missing one.
#[utoipa::path(get, path = "/houses/{id}", tag = "houses", operation_id = "get_house",
    params(("id" = Uuid, Path, description = "The house's id")),
    responses((status = 200, description = "The house", body = House)))]
pub async fn get(
    tenant: Tenant,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<JsonBody<House>, ApiError> {
    let id = parse_id(&id, "house")?;
    let house = state.tenancy.run(tenant.id(), houses::get(id)).await?;
    house
        .map(JsonBody)
        .ok_or_else(|| ApiError::not_found("house"))
}

/// Rename a house
///
/// Without `name`, nothing changes.
#[utoipa::path(patch, path = "/houses/{id}", tag = "houses", operation_id = "update_house",
    request_body = HousePatch, params(("id" = Uuid, Path, description = "The house's id")),
    responses((status = 200, description = "The house as changed", body = House),
        (status = 409, description = "`conflict`: this school has a house of that name", body = ErrorBody)))]
pub async fn update(
    tenant: Tenant,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonObject(input): JsonObject,
) -> Result<JsonBody<House>, ApiError> {
    let id = parse_id(&id, "house")?;
    let patch = HousePatch::parse(input)?;
    let house = state
        .tenancy
        .run(tenant.id(), houses::update(id, patch))
        .await?;
    house
        .map(JsonBody)
        .ok_or_else(|| ApiError::not_found("house"))
}

/// Delete a house
///
/// Its students stay, with no house.
#[utoipa::path(delete, path = "/houses/{id}", tag = "houses", operation_id = "delete_house",
    params(("id" = Uuid, Path, description = "The house's id")),
    responses((status = 204, description = "Deleted")))]
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
