//! `GET /metrics`: the Prometheus text exposition (series and label rules in
//! [`crate::metrics`]).

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use crate::metrics::{metrics, ScrapeValues};

/// Prometheus metrics
///
/// Requests by route, method, status and school, pool gauges and timeouts, per-school limit
/// rejections, and database errors by SQLSTATE class, in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "get_metrics",
    responses((status = 200, description = "The metrics", content_type = "text/plain; version=0.0.4", body = String)))]
pub async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    let pool = state.tenancy.status();
    let limits = state.limits.counters();
    let values = ScrapeValues {
        pool_max_size: pool.max_size,
        pool_size: pool.size,
        pool_idle: pool.available,
        pool_waiting: pool.waiting,
        pool_acquire_timeouts: state
            .tenancy
            .checkout_stats()
            .acquire_timeouts
            .load(Ordering::Relaxed),
        rate_limited: limits.rate_limited(),
        concurrency_limited: limits.concurrency_limited(),
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics().render(values),
    )
}
