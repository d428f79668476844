//! Liveness, readiness and the OpenAPI document, and the operations listener's router
//! (`WIZREG_OPS_BIND`). Liveness and readiness are open everywhere and name no school.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::error::ApiError;
use super::AppState;

/// The answer of `/healthz` (`ok`) and `/readyz` (`ready`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness
///
/// The process is up. Public: no credential.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses((status = 200, description = "Up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness
///
/// Ready to serve: not draining, and the database answers within a second. Public: no
/// credential.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "readyz",
    responses((status = 200, description = "Ready", body = Health)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    if state.draining.load(Ordering::Relaxed) {
        return Err(ApiError::unavailable("shutting down"));
    }
    let ping = state.tenancy.run_outside_tenant("select 1", &[]);
    match tokio::time::timeout(Duration::from_secs(1), ping).await {
        Ok(Ok(_)) => Ok(Json(Health { status: "ready" })),
        _ => Err(ApiError::unavailable("the database is unreachable")),
    }
}

/// This document
///
/// The OpenAPI 3.1 description of the API, generated from the code. Public: no credential.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", operation_id = "get_openapi",
    responses((status = 200, description = "The OpenAPI document", body = Object)))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(super::openapi::ApiDoc::openapi())
}

/// The operations listener: metrics without a token, liveness and readiness; nothing else.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(super::metrics::metrics_unguarded))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::route_not_found() })
        .with_state(state)
}
