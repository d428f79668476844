//! The HTTP API: routes, shared state, and the layers around every request.

pub mod admin;
pub mod body;
pub mod deadline;
pub mod error;
pub mod houses;
pub mod idempotency;
pub mod json_body;
pub mod json_errors;
pub mod layers;
pub mod limits;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod ops;
pub mod pagination;
pub mod routing;
pub mod students;
pub mod tenant;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use axum::Router;
use tenancy::Tenancy;

use self::error::ApiError;
use crate::auth::Authenticator;
use crate::config::Secret;
use crate::metrics::{TenantLabels, DEFAULT_TENANT_LABELS};
use crate::platform::Platform;
use crate::registry::Registry;

/// What every handler may use. There is deliberately no platform (admin) connection here.
///
/// One `Arc`: axum clones the state for every extractor and every layer of every request
/// (about 36 times per request), so a clone must be one reference count, not a copy of the
/// pools, caches and settings (which was an eighth of a request's instructions).
#[derive(Clone, Debug)]
pub struct AppState(Arc<SharedState>);

/// The fields of [`AppState`], reached through it (`state.tenancy`).
#[derive(Clone, Debug)]
pub struct SharedState {
    pub tenancy: Tenancy,
    pub registry: Registry,
    pub base_domain: Arc<str>,
    /// Set on shutdown: readiness fails so load balancers stop sending traffic.
    pub draining: Arc<AtomicBool>,
    /// Per-school rate and concurrency limits.
    pub limits: Arc<limits::Limits>,
    /// How long an `Idempotency-Key` is remembered.
    pub idempotency_ttl: std::time::Duration,
    /// Credential checks (API keys, JWTs) and API key management.
    pub auth: Authenticator,
    /// Which schools get a `tenant` metric label of their own.
    pub tenant_labels: Arc<TenantLabels>,
    /// The largest import body accepted (`WIZREG_IMPORT_MAX_BYTES`).
    pub import_max_bytes: u64,
    /// Citus's per-school statistics for `/metrics` (on Citus, with per-school labels on).
    pub citus_stats: Option<Arc<crate::citus_stats::CitusTenantStats>>,
    /// Platform connections: reachable only through the [`admin::PlatformAdmin`] extractor.
    platform: Platform,
    admin_token: Option<Secret>,
    /// The web console's cookie key, session lifetime and running jobs.
    pub console: crate::console::ConsoleSettings,
}

/// What protects the API, which whoever builds an [`AppState`] must decide: who may call
/// (the credential checks, `open` included) and how much each school may take. Neither has a
/// default, so no state is ever open or unlimited by omission.
#[derive(Debug)]
pub struct Safeguards {
    /// The credential checks (`WIZREG_AUTH`).
    pub auth: Authenticator,
    /// Per-school rate and concurrency limits.
    pub limits: limits::LimitSettings,
    /// How long an `Idempotency-Key` is remembered.
    pub idempotency_ttl: std::time::Duration,
}

impl AppState {
    pub fn new(
        tenancy: Tenancy,
        registry: Registry,
        base_domain: &str,
        platform: Platform,
        admin_token: Option<Secret>,
        safeguards: Safeguards,
    ) -> Self {
        Self(Arc::new(SharedState {
            tenancy,
            registry,
            base_domain: base_domain.into(),
            draining: Arc::new(AtomicBool::new(false)),
            limits: Arc::new(limits::Limits::new(safeguards.limits)),
            idempotency_ttl: safeguards.idempotency_ttl,
            auth: safeguards.auth,
            tenant_labels: Arc::new(TenantLabels::new(DEFAULT_TENANT_LABELS)),
            import_max_bytes: admin::portability::DEFAULT_IMPORT_MAX_BYTES,
            citus_stats: None,
            platform,
            admin_token,
            console: crate::console::ConsoleSettings::ephemeral(),
        }))
    }

    /// Replaces the console settings (a key of this process only, by default).
    pub fn with_console(mut self, console: crate::console::ConsoleSettings) -> Self {
        Arc::make_mut(&mut self.0).console = console;
        self
    }

    /// Sets the largest import body accepted.
    pub fn with_import_max_bytes(mut self, max_bytes: u64) -> Self {
        Arc::make_mut(&mut self.0).import_max_bytes = max_bytes;
        self
    }

    /// Gives the first `limit` schools served a metric label of their own.
    pub fn with_tenant_label_limit(mut self, limit: usize) -> Self {
        Arc::make_mut(&mut self.0).tenant_labels = Arc::new(TenantLabels::new(limit));
        self
    }

    /// Exports Citus's per-school statistics in `/metrics`.
    pub fn with_citus_stats(mut self, stats: Option<crate::citus_stats::CitusTenantStats>) -> Self {
        Arc::make_mut(&mut self.0).citus_stats = stats.map(Arc::new);
        self
    }

    /// Closes both pools (at shutdown).
    pub fn close(&self) {
        self.auth.close();
        self.tenancy.close();
        self.platform.close();
    }
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(routing::with_trailing_slashes([
            ("/students", get(students::list).post(students::create)),
            (
                "/students/{id}",
                get(students::get)
                    .patch(students::update)
                    .delete(students::delete),
            ),
            ("/houses", get(houses::list).post(houses::create)),
            (
                "/houses/{id}",
                get(houses::get)
                    .patch(houses::update)
                    .delete(houses::delete),
            ),
        ]))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/openapi.json", get(ops::openapi))
        .route("/metrics", get(metrics::metrics_text))
        .merge(admin::routes())
        .merge(crate::console::routes(state.clone()))
        .fallback(|| async { ApiError::route_not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
        .layer(middleware::from_fn(layers::every_request))
        .with_state(state)
}
