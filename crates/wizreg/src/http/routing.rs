//! How routes are registered: every path also answers with a trailing slash (`/students/`),
//! the same way in every router.

use axum::routing::MethodRouter;
use axum::Router;

use super::AppState;

/// A router serving each `(path, methods)` at `path` and at `path/`.
pub fn with_trailing_slashes<'a>(
    routes: impl IntoIterator<Item = (&'a str, MethodRouter<AppState>)>,
) -> Router<AppState> {
    routes
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| {
            router
                .route(&format!("{path}/"), methods.clone())
                .route(path, methods)
        })
}
