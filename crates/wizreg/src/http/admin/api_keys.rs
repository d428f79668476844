//! `/admin/tenants/{tenant}/api-keys`: issue, list and revoke a school's API keys. The platform
//! connection only confirms that the school exists; the keys are read and written through
//! that school's own tenant transaction.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::tenants::tenant_ref;
use super::PlatformAdmin;
use crate::auth::api_keys::ApiKeys;
use crate::auth::key_store::ApiKeySummary;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::registry::TenantRecord;
use crate::tenants;

/// A key just issued. `key` is shown this once: only its keyed hash is stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedApiKey {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The secret to send as `Authorization: Bearer <key>`. It cannot be shown again.
    #[schema(example = "wzk_<tenant>_<id>_<64 hex digits>")]
    pub key: String,
    #[schema(example = "3f9a")]
    pub last_chars: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

fn key_manager(state: &AppState) -> Result<&ApiKeys, ApiError> {
    // Through `unavailable` so the 503 carries `Retry-After`, as every 503 of the contract does.
    state.auth.api_keys().ok_or_else(|| {
        ApiError::unavailable("API keys are disabled on this server: set WIZREG_KEY_SECRET")
    })
}

/// The school `{tenant}` names, as the platform knows it.
async fn school(admin: &PlatformAdmin, raw: &str) -> Result<TenantRecord, ApiError> {
    let reference = tenant_ref(raw)?;
    let conn = admin.0.connection().await?;
    tenants::find(conn.client(), &reference)
        .await?
        .ok_or_else(ApiError::unknown_tenant)
}

/// Issue an API key
///
/// A key bound to this school, to send as `Authorization: Bearer <key>`. The secret is in this
/// answer only: the server keeps a keyed hash of it. `503` when API keys are disabled.
#[utoipa::path(post, path = "/admin/tenants/{tenant}/api-keys", tag = "api-keys", operation_id = "create_api_key",
    params(("tenant" = String, Path, description = "The school's UUID or slug")),
    responses((status = 201, description = "The key, with its secret", body = IssuedApiKey)))]
pub async fn create(
    admin: PlatformAdmin,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<(StatusCode, Json<IssuedApiKey>), ApiError> {
    let keys = key_manager(&state)?;
    let school = school(&admin, &tenant).await?;
    let created = keys.create(school.id).await?;
    let issued = IssuedApiKey {
        id: created.summary.id,
        tenant_id: created.summary.tenant_id,
        key: created.key,
        last_chars: created.summary.last_chars,
        created_at: created.summary.created_at,
    };
    Ok((StatusCode::CREATED, Json(issued)))
}

/// List API keys
///
/// The school's keys, revoked ones included, without their secrets.
#[utoipa::path(get, path = "/admin/tenants/{tenant}/api-keys", tag = "api-keys", operation_id = "list_api_keys",
    params(("tenant" = String, Path, description = "The school's UUID or slug")),
    responses((status = 200, description = "The school's keys", body = [ApiKeySummary])))]
pub async fn list(
    admin: PlatformAdmin,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<Vec<ApiKeySummary>>, ApiError> {
    let keys = key_manager(&state)?;
    let school = school(&admin, &tenant).await?;
    Ok(Json(keys.list(school.id).await?))
}

/// Revoke an API key
///
/// The key stops working at once, on every server.
#[utoipa::path(delete, path = "/admin/tenants/{tenant}/api-keys/{key_id}", tag = "api-keys", operation_id = "revoke_api_key",
    params(("tenant" = String, Path, description = "The school's UUID or slug"),
        ("key_id" = Uuid, Path, description = "The key's id")),
    responses((status = 204, description = "Revoked")))]
pub async fn revoke(
    admin: PlatformAdmin,
    State(state): State<AppState>,
    Path((tenant, key_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let keys = key_manager(&state)?;
    let school = school(&admin, &tenant).await?;
    let not_found = || ApiError::not_found("API key");
    let key_id = Uuid::try_parse(&key_id).map_err(|_| not_found())?;
    if keys.revoke(school.id, key_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}
