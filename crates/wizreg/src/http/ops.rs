//! Liveness, readiness and the OpenAPI document, and the operations listener's router
//! (`WIZREG_OPS_BIND`). Liveness and readiness are open everywhere and name no school.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use utoipa::OpenApi;

use super::error::ApiError;
use super::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready to serve: not draining, and the database answers within a second.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200), (status = 503, body = super::error::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    if state.draining.load(Ordering::Relaxed) {
        return Err(ApiError::unavailable("shutting down"));
    }
    let ping = state.tenancy.run_outside_tenant("select 1", &[]);
    match tokio::time::timeout(Duration::from_secs(1), ping).await {
        Ok(Ok(_)) => Ok(Json(json!({"status": "ready"}))),
        _ => Err(ApiError::unavailable("the database is unreachable")),
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200)))]
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
