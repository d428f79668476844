//! The web console, served by the same binary under `/ui/`: the staff console on a school's
//! host (students and houses) and the operator console at `/ui/admin/` (schools, keys, moving
//! data). Pages are server-rendered `maud` templates with plain forms that work with
//! JavaScript off.
//!
//! This module adds presentation, sessions and CSRF only. Staff pages resolve their school with
//! the API's own `Tenant` extractor and read and write through the same domain queries and
//! tenant transactions; operator pages call the admin API's handlers. There is no SQL here.

mod admin;
mod assets;
mod csrf;
mod forms;
mod pages;
mod session;
mod settings;
mod sign_in_page;
mod staff;
mod view;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

pub use self::settings::{ConsoleSettings, DEFAULT_SESSION_TTL_SECS};
use crate::http::AppState;

/// Every page: scripts and styles from this origin only (none inline), no framing, no
/// plugins, forms posting only here.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's routes, for the API router to merge. None of them is in the OpenAPI document.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .merge(staff::routes())
        .merge(admin::routes())
        .route("/ui/assets/{file}", get(assets::serve))
        .route("/ui/{*rest}", get(not_found).post(not_found))
        .layer(middleware::from_fn_with_state(state, guard))
}

/// `GET /`: a school's host opens its console; any other host, the operator console.
async fn root(State(state): State<AppState>, headers: HeaderMap) -> Redirect {
    let school_host = headers
        .get(header::HOST)
        .and_then(|host| tenancy::tenant_from_host(host.as_bytes(), &state.base_domain).ok())
        .flatten()
        .is_some();
    Redirect::to(if school_host { "/ui/" } else { "/ui/admin/" })
}

async fn not_found() -> pages::Problem {
    pages::Problem::not_found("page")
}

/// Around every console request: the CSRF checks, then the security headers on the answer.
async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let mut response = match csrf::prepare(&mut request, &state.console) {
        Ok(set_cookie) => {
            let mut response = next.run(request).await;
            if let Some(cookie) = set_cookie {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(refused) => refused.into_response(),
    };
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Pages show school data and one-time secrets: never kept by a shared cache.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A redirect after a successful form (303: the browser follows with a GET).
pub(crate) fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}
