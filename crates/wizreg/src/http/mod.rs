//! The HTTP API: routes, shared state, and the layers around every request.

pub mod admin;
pub mod body;
pub mod error;
pub mod houses;
pub mod openapi;
pub mod ops;
pub mod pagination;
pub mod students;
pub mod tenant;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tenancy::Tenancy;

use self::error::{ApiError, ErrorCause};
use crate::config::Secret;
use crate::platform::Platform;
use crate::registry::Registry;

/// What every handler may use. There is deliberately no platform (admin) connection here.
#[derive(Clone, Debug)]
pub struct AppState {
    pub tenancy: Tenancy,
    pub registry: Registry,
    pub base_domain: Arc<str>,
    /// Set on shutdown: readiness fails so load balancers stop sending traffic.
    pub draining: Arc<AtomicBool>,
    /// Platform connections: reachable only through the [`admin::PlatformAdmin`] extractor.
    platform: Platform,
    admin_token: Option<Secret>,
}

impl AppState {
    pub fn new(
        tenancy: Tenancy,
        registry: Registry,
        base_domain: &str,
        platform: Platform,
        admin_token: Option<Secret>,
    ) -> Self {
        Self {
            tenancy,
            registry,
            base_domain: base_domain.into(),
            draining: Arc::new(AtomicBool::new(false)),
            platform,
            admin_token,
        }
    }

    /// Closes both pools (at shutdown).
    pub fn close(&self) {
        self.tenancy.close();
        self.platform.close();
    }
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/students", get(students::list).post(students::create))
        .route("/students/", get(students::list).post(students::create))
        .route(
            "/students/{id}",
            get(students::get)
                .patch(students::update)
                .delete(students::delete),
        )
        .route(
            "/students/{id}/",
            get(students::get)
                .patch(students::update)
                .delete(students::delete),
        )
        .route("/houses", get(houses::list).post(houses::create))
        .route("/houses/", get(houses::list).post(houses::create))
        .route(
            "/houses/{id}",
            get(houses::get)
                .patch(houses::update)
                .delete(houses::delete),
        )
        .route(
            "/houses/{id}/",
            get(houses::get)
                .patch(houses::update)
                .delete(houses::delete),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/openapi.json", get(ops::openapi))
        .merge(admin::routes())
        .fallback(|| async { ApiError::route_not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// One log line per request: method, route, status, time and (for errors) the classified
/// cause. Never a body, a header value or database text.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", %method, %path, tenant = tracing::field::Empty);
    let started = std::time::Instant::now();
    let response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _entered = span.enter();
    match response.extensions().get::<ErrorCause>() {
        Some(ErrorCause(cause)) if status >= 500 => {
            tracing::error!(status, elapsed_ms, cause, "request failed")
        }
        Some(ErrorCause(cause)) => tracing::info!(status, elapsed_ms, cause, "request"),
        None => tracing::info!(status, elapsed_ms, "request"),
    }
    response.into_response()
}
