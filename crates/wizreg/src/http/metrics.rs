//! `GET /metrics`: the Prometheus text exposition (series and label rules in
//! [`crate::metrics`]). On the main listener it needs the admin token: the series describe the
//! deployment (and, when opted in, name schools). The operations listener (`WIZREG_OPS_BIND`)
//! serves it without one. On Citus with per-school labels on, a scrape also reads Citus's
//! per-school statistics ([`crate::citus_stats`], cached).

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::admin::AdminToken;
use super::AppState;
use crate::citus_stats::families;
use crate::metrics::{metrics, ScrapeValues};

/// Prometheus metrics
///
/// Requests by route, method, status and school, pool gauges and timeouts, per-school limit
/// rejections, and database errors by SQLSTATE class (on Citus with per-school labels on, also
/// Citus's per-school query statistics), in the Prometheus text format. Needs the
/// admin token (the operations listener, `WIZREG_OPS_BIND`, serves it without one).
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "get_metrics",
    security(("admin_token" = [])),
    responses((status = 200, description = "The metrics", content_type = "text/plain; version=0.0.4", body = String)))]
pub async fn metrics_text(_admin: AdminToken, state: State<AppState>) -> impl IntoResponse {
    metrics_unguarded(state).await
}

/// The same exposition, for the operations listener (no token: it is reachable only where the
/// operator bound it).
pub async fn metrics_unguarded(State(state): State<AppState>) -> impl IntoResponse {
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
    let citus = match &state.citus_stats {
        Some(stats) => families(stats.read().await.as_deref(), &state.tenant_labels),
        None => Vec::new(),
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics().render_with(values, citus),
    )
}
