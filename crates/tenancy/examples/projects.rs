//! A minimal multi-tenant service on the template schema (`sql/schema.sql`): create, list,
//! read, rename and delete projects, each request speaking for the tenant its `X-Tenant`
//! header names (a slug or a UUID). Row level security does the isolating.
//!
//! ```sh
//! cargo run -p tenancy --example projects     # embedded PostgreSQL; tenants acme and globex
//! DATABASE_URL=postgresql://app_user@db.example/app cargo run -p tenancy --example projects
//! curl -H 'X-Tenant: acme' -H 'Content-Type: application/json' -d '{"name":"Launch"}' localhost:3000/projects
//! ```

use axum::extract::{FromRequestParts, Path, State};
use axum::http::{request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{routing::get, Json, Router};
use serde::{Deserialize, Serialize};
use tenancy::embedded::{EmbeddedOptions, EmbeddedPostgres, SUPERUSER};
use tenancy::{build_pool, tenant_from_header, Convention, DbError, DbErrorKind, PoolOptions};
use tenancy::{Query, Tenancy, TenantId, TenantRef};
use tokio_postgres::{types::Type, NoTls, Row};
use uuid::Uuid;

/// The tenant a request speaks for, resolved before the handler runs; a request without one
/// never reaches a handler.
struct Tenant(TenantId);

impl FromRequestParts<Tenancy> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, tenancy: &Tenancy) -> Result<Self, ApiError> {
        let header = parts.headers.get("x-tenant").ok_or(ApiError(StatusCode::BAD_REQUEST))?;
        let reference =
            tenant_from_header(header.as_bytes()).map_err(|_| ApiError(StatusCode::BAD_REQUEST))?;
        // The directory holds no tenant data: it is read outside any tenant.
        let (sql, key) = match reference {
            TenantRef::Id(id) => ("select id from app.account where id = $1::uuid", id.to_string()),
            TenantRef::Slug(slug) => ("select id from app.account where slug = $1", slug.to_string()),
        };
        let rows = tenancy.run_outside_tenant(sql, &[(&key, Type::TEXT)]).await?;
        let row = rows.first().ok_or(ApiError(StatusCode::NOT_FOUND))?;
        Ok(Tenant(TenantId::from_uuid(row.get(0))))
    }
}

#[derive(Serialize)]
struct Project {
    id: Uuid,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectName {
    name: String,
}

fn project(row: &Row) -> Project {
    Project { id: row.get(0), name: row.get(1) }
}

/// `$1` is always the tenant id, bound by the transaction: queries cannot name another tenant.
fn one(sql: &'static str, id: Uuid) -> Query<Option<Project>> {
    Query::new(sql).bind(id, Type::UUID).map(|rows| Ok(rows.first().map(project)))
}

async fn create(
    State(db): State<Tenancy>, Tenant(t): Tenant, Json(body): Json<ProjectName>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    let insert = one(
        "insert into app.project (tenant_id, id, name) values ($1, $2, $3) returning id, name",
        Uuid::now_v7(),
    )
    .bind(body.name, Type::TEXT);
    let created = db.run(t, insert).await?.ok_or(ApiError(StatusCode::INTERNAL_SERVER_ERROR))?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list(State(db): State<Tenancy>, Tenant(t): Tenant) -> Result<Json<Vec<Project>>, ApiError> {
    let select = Query::new("select id, name from app.project where tenant_id = $1 order by id");
    Ok(Json(db.run(t, select.map(|rows| Ok(rows.iter().map(project).collect()))).await?))
}

async fn show(
    State(db): State<Tenancy>, Tenant(t): Tenant, Path(id): Path<Uuid>,
) -> Result<Json<Project>, ApiError> {
    let select = one("select id, name from app.project where tenant_id = $1 and id = $2", id);
    db.run(t, select).await?.map(Json).ok_or(ApiError(StatusCode::NOT_FOUND))
}

async fn rename(
    State(db): State<Tenancy>, Tenant(t): Tenant, Path(id): Path<Uuid>, Json(body): Json<ProjectName>,
) -> Result<Json<Project>, ApiError> {
    let update =
        one("update app.project set name = $3 where tenant_id = $1 and id = $2 returning id, name", id)
            .bind(body.name, Type::TEXT);
    db.run(t, update).await?.map(Json).ok_or(ApiError(StatusCode::NOT_FOUND))
}

async fn remove(
    State(db): State<Tenancy>, Tenant(t): Tenant, Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let delete = one("delete from app.project where tenant_id = $1 and id = $2 returning id, name", id);
    db.run(t, delete).await?.map(|_| StatusCode::NO_CONTENT).ok_or(ApiError(StatusCode::NOT_FOUND))
}

/// The one place errors become HTTP: by kind, never with the server's text.
struct ApiError(StatusCode);

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        ApiError(match err.kind() {
            DbErrorKind::UniqueViolation => StatusCode::CONFLICT,
            DbErrorKind::InvalidData => StatusCode::UNPROCESSABLE_ENTITY,
            DbErrorKind::Timeout | DbErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, self.0.canonical_reason().unwrap_or("error")).into_response()
    }
}

/// The whole service: tenant transactions on `tenancy` (runtime-role connections).
pub fn router(tenancy: Tenancy) -> Router {
    Router::new()
        .route("/projects", get(list).post(create))
        .route("/projects/{id}", get(show).patch(rename).delete(remove))
        .with_state(tenancy)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Without DATABASE_URL, a private PostgreSQL in /tmp, started on this (long-lived) thread.
    let cluster = match std::env::var("DATABASE_URL") {
        Ok(_) => None,
        Err(_) => Some(EmbeddedPostgres::start(&EmbeddedOptions {
            data_dir: std::env::temp_dir().join("tenancy-example"),
            ..Default::default()
        })?),
    };
    tokio::runtime::Runtime::new()?.block_on(async {
        let runtime_role = match (&cluster, std::env::var("DATABASE_URL")) {
            (Some(cluster), _) => {
                let (admin, connection) = cluster.config(SUPERUSER, "postgres").connect(NoTls).await?;
                tokio::spawn(connection);
                admin.batch_execute(include_str!("../sql/schema.sql")).await?;
                let seed =
                    "insert into app.account (id, slug, name) values (gen_random_uuid(), 'acme', 'Acme'),
                    (gen_random_uuid(), 'globex', 'Globex') on conflict (slug) do nothing";
                admin.batch_execute(seed).await?;
                cluster.config("app_user", "postgres")
            }
            (None, url) => url?.parse()?,
        };
        let pool = build_pool(runtime_role, tokio_postgres::NoTls, PoolOptions::default());
        let app = router(Tenancy::with_convention(pool, &Convention::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
        println!("listening on http://127.0.0.1:3000");
        axum::serve(listener, app)
            .with_graceful_shutdown(async { _ = tokio::signal::ctrl_c().await })
            .await?;
        Ok(())
    })
}
