//! `/admin/tenants`: create, list, look up and change schools at runtime, with no migration
//! and no restart.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use tenancy::{DbError, Slug, TenantRef};

use super::PlatformAdmin;
use crate::domain::input::{name_rule, Field};
use crate::http::body::JsonObject;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::AppState;
use crate::registry::{TenantRecord, TenantStatus};
use crate::tenants;

/// The body of `POST /admin/tenants`.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // Describes the accepted JSON for OpenAPI; parsing goes through `Input`.
pub struct NewTenantInput {
    /// Optional: keeps the id of a school moved from another deployment (see the export's
    /// tenant record). A new UUIDv7 otherwise.
    id: Option<uuid::Uuid>,
    #[schema(example = "hogwarts")]
    slug: String,
    #[schema(example = "Hogwarts School of Witchcraft and Wizardry")]
    name: String,
}

/// The body of `PATCH /admin/tenants/{id}`.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TenantPatchInput {
    status: Option<TenantStatus>,
    name: Option<String>,
    /// This school's own statement timeout (1 to 600000 ms); null returns it to the default.
    #[schema(minimum = 1, maximum = 600000)]
    statement_timeout_ms: Option<i32>,
}

fn slug_rule(raw: &str) -> Result<String, String> {
    Slug::parse(raw)
        .map(|s| s.to_string())
        .map_err(|e| e.to_string())
}

#[utoipa::path(post, path = "/admin/tenants", tag = "admin", request_body = NewTenantInput,
    security(("admin_token" = [])),
    responses((status = 201, body = TenantRecord, headers(("Location" = String, description = "The new school: /admin/tenants/{id}"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, description = "The slug (or the id) is taken", body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    PlatformAdmin(platform): PlatformAdmin,
    State(state): State<AppState>,
    JsonObject(mut input): JsonObject,
) -> Result<(StatusCode, HeaderMap, Json<TenantRecord>), ApiError> {
    let slug = input.text("slug", slug_rule);
    let slug = input.require("slug", slug);
    let name = input.text("name", name_rule);
    let name = input.require_if_present("name", name);
    let id = match input.uuid("id") {
        Field::Value(id) => tenancy::TenantId::from_uuid(id),
        _ => tenancy::TenantId::new_v7(),
    };
    input.finish()?;
    let slug = Slug::parse(&slug.unwrap_or_default())
        .map_err(|e| ApiError::field("slug", &e.to_string()))?;
    let name = name.unwrap_or_else(|| slug.to_string());
    let conn = platform.connection().await?;
    let tenant = tenants::create_with_id(conn.client(), id, &slug, &name).await?;
    state.registry.forget(tenant.id);
    let mut headers = HeaderMap::new();
    if let Ok(location) = format!("/admin/tenants/{}", tenant.id).parse() {
        headers.insert(header::LOCATION, location);
    }
    Ok((StatusCode::CREATED, headers, Json(tenant)))
}

#[utoipa::path(get, path = "/admin/tenants", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, body = [TenantRecord]), (status = 401, body = ErrorBody)))]
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
            "unknown_tenant",
            "no school by that name or id",
        )
    })
}

#[utoipa::path(get, path = "/admin/tenants/{tenant}", tag = "admin", security(("admin_token" = [])),
    params(("tenant" = String, Path, description = "Tenant UUID or slug")),
    responses((status = 200, body = TenantRecord), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
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

#[utoipa::path(patch, path = "/admin/tenants/{tenant}", tag = "admin", request_body = TenantPatchInput,
    security(("admin_token" = [])),
    params(("tenant" = String, Path, description = "Tenant UUID or slug")),
    responses((status = 200, body = TenantRecord), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "The school is being deleted", body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    PlatformAdmin(platform): PlatformAdmin,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    JsonObject(mut input): JsonObject,
) -> Result<Json<TenantRecord>, ApiError> {
    let reference = tenant_ref(&tenant)?;
    let status = match input.text("status", |s| match s {
        "active" | "suspended" => Ok(s.to_owned()),
        _ => Err("must be \"active\" or \"suspended\"".into()),
    }) {
        Field::Value(s) if s == "suspended" => Some(TenantStatus::Suspended),
        Field::Value(_) => Some(TenantStatus::Active),
        Field::Null => {
            input.error("status", "must not be null");
            None
        }
        Field::Absent => None,
    };
    let name = input.text("name", name_rule);
    let name = input.require_if_present("name", name);
    let statement_timeout = input.integer("statement_timeout_ms", 1..=600_000);
    input.finish()?;
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
    let mut updated = tenants::update(&tx, current.id, status, name.as_deref()).await?;
    if updated.is_none() && tenants::is_offboarding(&tx, current.id).await? {
        return Err(ApiError::conflict(
            "this school is being deleted and cannot be resumed; finish with DELETE /admin/tenants/{id}",
        ));
    }
    let timeout_ms = match statement_timeout {
        Field::Absent => None,
        Field::Null => Some(None),
        Field::Value(ms) => Some(i32::try_from(ms).ok()),
    };
    if let Some(timeout_ms) = timeout_ms {
        updated = tenants::set_statement_timeout(&tx, current.id, timeout_ms).await?;
    }
    tx.commit().await.map_err(DbError::from)?;
    state.registry.forget(current.id);
    updated.map(Json).ok_or_else(ApiError::unknown_tenant)
}

#[utoipa::path(delete, path = "/admin/tenants/{tenant}", tag = "admin", security(("admin_token" = [])),
    params(("tenant" = String, Path, description = "Tenant UUID or slug")),
    responses((status = 204, description = "The school and every row it had are gone; its slug is free again"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
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
