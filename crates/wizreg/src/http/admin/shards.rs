//! `/admin/tenants/{id}/placement`, `…/isolate` and `…/move`: a school's shards on a Citus
//! cluster (the CLI twins are `wizreg tenant placement | isolate | move`; both call
//! [`crate::shards`]). On a single PostgreSQL they answer `409 conflict`.

use axum::extract::Path;
use axum::Json;

use super::tenants::tenant_ref;
use super::PlatformAdmin;
use crate::domain::input::{FieldErrors, Input};
use crate::http::body::JsonObject;
use crate::http::error::{ApiError, ErrorBody};
use crate::registry::TenantRecord;
use crate::shards::{self, NodeAddr, ShardChange, ShardError, TenantPlacement};
use crate::tenants;

/// The body of `POST /admin/tenants/{id}/move`: the worker to put the school's shard group on.
#[derive(Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)] // Only for the schema: `Input::finish` refuses unknown fields.
pub struct MoveInput {
    /// The target worker as registered in Citus (`host:port`, see the placement).
    #[schema(value_type = String, example = "10.0.0.12:5432")]
    pub node: NodeAddr,
}

impl MoveInput {
    pub fn parse(mut input: Input) -> Result<Self, FieldErrors> {
        let node = input.text("node", |raw| {
            raw.parse::<NodeAddr>()
                .map(|node| node.to_string())
                .map_err(str::to_owned)
        });
        let node = input.require("node", node);
        input.finish()?;
        // Checked once above already; this only turns the checked text back into a `NodeAddr`.
        let node = node
            .unwrap_or_default()
            .parse()
            .map_err(|reason: &str| FieldErrors::from([("node".to_owned(), reason.to_owned())]))?;
        Ok(Self { node })
    }
}

impl From<ShardError> for ApiError {
    fn from(err: ShardError) -> Self {
        match err {
            ShardError::NotCitus => ApiError::conflict(
                "this deployment is not on a Citus cluster: schools are not placed on nodes",
            ),
            ShardError::UnknownNode(_) => ApiError::field(
                "node",
                "is not an active worker of this cluster (see the school's placement)",
            ),
            ShardError::NeedsSuperuser => ApiError::conflict(
                "moving shards needs WIZREG_ADMIN_DATABASE_URL to be a superuser (Citus copies the rows as that user)",
            ),
            ShardError::Db(db) => db.into(),
        }
    }
}

/// The school `{tenant}` names.
async fn school(admin: &PlatformAdmin, tenant: &str) -> Result<TenantRecord, ApiError> {
    let reference = tenant_ref(tenant)?;
    let conn = admin.0.connection().await?;
    tenants::find(conn.client(), &reference)
        .await?
        .ok_or_else(ApiError::unknown_tenant)
}

/// Show a school's placement
///
/// The Citus worker(s) holding the school's shard group, with each table's shard. Reads the
/// coordinator's metadata only; `409` on a single PostgreSQL.
#[utoipa::path(get, path = "/admin/tenants/{tenant}/placement", tag = "shards",
    operation_id = "get_tenant_placement",
    security(("admin_token" = [])),
    params(("tenant" = String, Path, description = "Tenant UUID or slug")),
    responses((status = 200, description = "The worker(s) holding the school's shard group", body = TenantPlacement),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The database is not a Citus cluster", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn placement(
    admin: PlatformAdmin,
    Path(tenant): Path<String>,
) -> Result<Json<TenantPlacement>, ApiError> {
    let school = school(&admin, &tenant).await?;
    let owner = admin.0.owner_connection().await?;
    Ok(Json(shards::placement(&owner, school.id).await?))
}

/// Isolate a school
///
/// Splits the school's shards so that it has a shard group of its own (Citus
/// `isolate_tenant_to_new_shard`), on the worker that held it. Writes to the school pause
/// briefly at the end of the split; `409` on a single PostgreSQL.
#[utoipa::path(post, path = "/admin/tenants/{tenant}/isolate", tag = "shards",
    operation_id = "isolate_tenant",
    security(("admin_token" = [])),
    params(("tenant" = String, Path, description = "Tenant UUID or slug")),
    responses((status = 200, description = "The school has a shard group of its own (`changed` false if it already had one)", body = ShardChange),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The database is not a Citus cluster", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn isolate(
    admin: PlatformAdmin,
    Path(tenant): Path<String>,
) -> Result<Json<ShardChange>, ApiError> {
    let school = school(&admin, &tenant).await?;
    let owner = admin.0.owner_connection().await?;
    // A task of its own: a split runs to its end even if the client hangs up (an aborted one
    // is rolled back by Citus, but a finished one is what the operator asked for).
    let change = tokio::spawn(async move { shards::isolate(&owner, school.id).await })
        .await
        .map_err(|err| ApiError::internal(format!("isolate task failed: {err}")))??;
    tracing::info!(tenant = %school.id, shard = change.placement.shard_id, changed = change.changed, "school isolated");
    Ok(Json(change))
}

/// Move a school to a worker
///
/// Moves the school's shard group, with every school sharing it, to the worker `node` (Citus
/// `citus_move_shard_placement`). Isolate the school first to move it alone; `409` on a single
/// PostgreSQL.
#[utoipa::path(post, path = "/admin/tenants/{tenant}/move", tag = "shards",
    operation_id = "move_tenant", request_body = MoveInput,
    security(("admin_token" = [])),
    params(("tenant" = String, Path, description = "Tenant UUID or slug")),
    responses((status = 200, description = "The school's shard group is on the node (`changed` false if it already was)", body = ShardChange),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The database is not a Citus cluster", body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, description = "`node` is not host:port, or not an active worker", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn move_to(
    admin: PlatformAdmin,
    Path(tenant): Path<String>,
    JsonObject(input): JsonObject,
) -> Result<Json<ShardChange>, ApiError> {
    let MoveInput { node } = MoveInput::parse(input)?;
    let school = school(&admin, &tenant).await?;
    let owner = admin.0.owner_connection().await?;
    let change = tokio::spawn(async move { shards::move_to(&owner, school.id, &node).await })
        .await
        .map_err(|err| ApiError::internal(format!("move task failed: {err}")))??;
    tracing::info!(tenant = %school.id, shard = change.placement.shard_id, changed = change.changed, "school moved");
    Ok(Json(change))
}
