//! Signing in to a school's console with one of its API keys (or a JWT), and out again.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;

use super::resolve;
use crate::console::csrf::{ConsoleForm, CsrfToken};
use crate::console::pages::Problem;
use crate::console::session;
use crate::console::sign_in_page::{Notice, SignInPage};
use crate::console::view::Area;
use crate::http::error::ErrorCode;
use crate::http::AppState;

const PAGE: SignInPage = SignInPage {
    title: "Sign in",
    lede: "Sign in to your school's console.",
    area: Area::Plain,
    action: "/ui/sign-in",
    field: (
        "api_key",
        "API key",
        "Your school's API key (it starts with wzk_), or a sign-in token (JWT) from your organisation.",
    ),
    session: session::STAFF,
};

#[derive(Debug, Deserialize)]
pub(super) struct SignIn {
    #[serde(default)]
    api_key: String,
}

/// `GET /ui/sign-in`.
pub(super) async fn form(
    State(state): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Query(query): Query<Notice>,
) -> Response {
    if !state.auth.needs_credential() {
        return crate::console::see_other("/ui/students");
    }
    PAGE.render(&csrf.0, query.message(), None, StatusCode::OK)
}

/// `POST /ui/sign-in`: the credential goes through the API's own checks; only then is the
/// session cookie set.
pub(super) async fn submit(
    State(state): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    headers: HeaderMap,
    uri: Uri,
    ConsoleForm(form): ConsoleForm<SignIn>,
) -> Response {
    if !state.auth.needs_credential() {
        return crate::console::see_other("/ui/students");
    }
    let credential = form.api_key.trim();
    if credential.is_empty() {
        return PAGE.render(
            &csrf.0,
            None,
            Some("is required"),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.uri = uri;
    parts.headers = headers;
    let resolved = resolve(&mut parts, &state, credential).await;
    match resolved {
        Ok(_tenant) => PAGE.signed_in(
            &state,
            &parts.headers,
            &parts.uri,
            credential,
            "/ui/students",
        ),
        Err(err) if err.status() == StatusCode::UNAUTHORIZED => PAGE.render(
            &csrf.0,
            None,
            Some("is not valid: it is unknown, revoked or expired"),
            StatusCode::UNAUTHORIZED,
        ),
        Err(err) if err.code() == ErrorCode::TenantMismatch => PAGE.render(
            &csrf.0,
            None,
            Some("belongs to another school: open that school's console instead"),
            StatusCode::FORBIDDEN,
        ),
        Err(err) => Problem::from_api(&err).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Empty {}

/// `POST /ui/sign-out`.
pub(super) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    ConsoleForm(_): ConsoleForm<Empty>,
) -> Response {
    PAGE.sign_out(&state, &headers, &uri)
}
