//! `/admin/tenants`: create, list, look up and change schools at runtime, with no migration
//! and no restart.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use tenancy::{DbError, TenantId, TenantRef};

use super::PlatformAdmin;
use crate::domain::input::Field;
use crate::domain::tenants::{NewTenant, TenantPatch};
use crate::http::body::JsonObject;
use crate::http::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::AppState;
use crate::registry::TenantRecord;
use crate::tenants;

/// Create a school
///
/// One insert, no migration and no restart: the school is served at once. A taken slug (or id)
/// is `409`.
#[utoipa::path(post, path = "/admin/tenants", tag = "tenants", operation_id = "create_tenant",
    request_body = NewTenant,
    responses((status = 201, description = "The school", body = TenantRecord,
            headers(("Location" = String, description = "The new school: `/admin/tenants/{id}`"))),
        (status = 409, description = "`conflict`: the slug (or the id) is taken", body = ErrorBody)))]
pub async fn create(
    PlatformAdmin(platform): PlatformAdmin,
    State(state): State<AppState>,
    JsonObject(input): JsonObject,
) -> Result<(StatusCode, HeaderMap, Json<TenantRecord>), ApiError> {
    let new = NewTenant::parse(input)?;
    let id = new.id.unwrap_or_else(TenantId::new_v7);
    let slug = new.slug;
    let name = new.name.unwrap_or_else(|| slug.to_string());
    let conn = platform.connection().await?;
    let tenant = tenants::create_with_id(conn.client(), id, &slug, &name).await?;
    state.registry.forget(tenant.id);
    let mut headers = HeaderMap::new();
    if let Ok(location) = format!("/admin/tenants/{}", tenant.id).parse() {
        headers.insert(header::LOCATION, location);
    }
    Ok((StatusCode::CREATED, headers, Json(tenant)))
}

/// List schools
///
/// Every school of this deployment, active or suspended.
#[utoipa::path(get, path = "/admin/tenants", tag = "tenants", operation_id = "list_tenants",
    responses((status = 200, description = "Every school", body = [TenantRecord])))]
pub async fn list(
    PlatformAdmin(platform): PlatformAdmin,
) -> Result<Json<Vec<TenantRecord>>, ApiError> {
    let conn = platform.connection().await?;
    Ok(Json(tenants::list(conn.client()).await?))
}

/// Parses `{tenant}`: a UUID or a slug. Anything else names nothing.
pub fn tenant_ref(raw: &str) -> Result<TenantRef, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownTenant,
            "no school by that name or id",
        )
    })
}

/// Get a school
///
/// By its UUID or its slug.
#[utoipa::path(get, path = "/admin/tenants/{tenant}", tag = "tenants", operation_id = "get_tenant",
    params(("tenant" = String, Path, description = "The school's UUID or slug")),
    responses((status = 200, description = "The school", body = TenantRecord)))]
pub async fn get(
    PlatformAdmin(platform): PlatformAdmin,
    Path(tenant): Path<String>,
) -> Result<Json<TenantRecord>, ApiError> {
    let reference = tenant_ref(&tenant)?;
    let conn = platform.connection().await?;
    tenants::find(conn.client(), &reference)
        .await?
        .map(Json)
        .ok_or_else(ApiError::unknown_tenant)
}

/// Change a school
///
/// Suspend or resume it, rename it, or give it a statement timeout of its own. A suspended
/// school's requests get `403 tenant_suspended` at once, on every server.
#[utoipa::path(patch, path = "/admin/tenants/{tenant}", tag = "tenants", operation_id = "update_tenant",
    request_body = TenantPatch, params(("tenant" = String, Path, description = "The school's UUID or slug")),
    responses((status = 200, description = "The school as changed", body = TenantRecord),
        (status = 409, description = "`conflict`: the school is being deleted", body = ErrorBody)))]
pub async fn update(
    PlatformAdmin(platform): PlatformAdmin,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    JsonObject(input): JsonObject,
) -> Result<Json<TenantRecord>, ApiError> {
    let reference = tenant_ref(&tenant)?;
    let patch = TenantPatch::parse(input)?;
    let mut conn = platform.connection().await?;
    // One transaction: a failure part-way leaves the school as it was, not half changed.
    let tx = conn
        .client_mut()
        .transaction()
        .await
        .map_err(DbError::from)?;
    let current = tenants::find(&tx, &reference)
        .await?
        .ok_or_else(ApiError::unknown_tenant)?;
    let mut updated = tenants::update(&tx, current.id, patch.status, patch.name.as_deref()).await?;
    if updated.is_none() && tenants::is_offboarding(&tx, current.id).await? {
        return Err(ApiError::conflict(
            "this school is being deleted and cannot be resumed; finish with DELETE /admin/tenants/{id}",
        ));
    }
    let timeout_ms = match patch.statement_timeout_ms {
        Field::Absent => None,
        Field::Null => Some(None),
        Field::Value(ms) => Some(Some(ms)),
    };
    if let Some(timeout_ms) = timeout_ms {
        updated = tenants::set_statement_timeout(&tx, current.id, timeout_ms).await?;
    }
    tx.commit().await.map_err(DbError::from)?;
    state.registry.forget(current.id);
    updated.map(Json).ok_or_else(ApiError::unknown_tenant)
}

/// Delete a school
///
/// Removes every row of the school (students, houses, API keys), in batches, then the school;
/// its keys stop working at once and its slug is free again. An interrupted delete leaves the
/// school suspended; running it again carries on.
#[utoipa::path(delete, path = "/admin/tenants/{tenant}", tag = "tenants", operation_id = "delete_tenant",
    params(("tenant" = String, Path, description = "The school's UUID or slug")),
    responses((status = 204, description = "The school and every row it had are gone")))]
pub async fn delete(
    PlatformAdmin(platform): PlatformAdmin,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<StatusCode, ApiError> {
    let reference = tenant_ref(&tenant)?;
    let conn = platform.connection().await?;
    let current = tenants::find(conn.client(), &reference)
        .await?
        .ok_or_else(ApiError::unknown_tenant)?;
    let tenancy = state.tenancy.clone();
    let registry = state.registry.clone();
    // A task of its own: the deletion runs to the end even if the client hangs up (an
    // interrupted one is safe, since the school stays suspended, but a finished one is better).
    let outcome = tokio::spawn(async move {
        let outcome =
            crate::offboard::delete_tenant(conn.client(), &tenancy, current.id, |_| {}).await;
        registry.forget(current.id);
        outcome
    })
    .await
    .map_err(|err| ApiError::internal(format!("offboarding task failed: {err}")))??;
    match outcome {
        crate::offboard::Offboarded::Deleted { rows } => {
            tracing::info!(tenant = %current.id, rows, "school deleted");
            Ok(StatusCode::NO_CONTENT)
        }
        crate::offboard::Offboarded::NotFound => Err(ApiError::unknown_tenant()),
    }
}
