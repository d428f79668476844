//! `GET /metrics`: the Prometheus text exposition (series and label rules in
//! [`crate::metrics`]).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use crate::metrics::{metrics, PoolGauges};

/// Prometheus metrics: requests by route, method, status and tenant, pool gauges and database
/// errors by SQLSTATE class.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String)))]
pub async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    let status = state.tenancy.status();
    let pool = PoolGauges {
        max_size: status.max_size,
        size: status.size,
        idle: status.available,
        waiting: status.waiting,
        acquire_timeouts: 0,
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics().render(pool),
    )
}
