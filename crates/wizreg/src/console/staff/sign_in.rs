//! Signing in to a school's console with one of its API keys (or a JWT), and out again.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Request, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use maud::html;
use serde::Deserialize;

use super::resolve;
use crate::console::csrf::{ConsoleForm, CsrfToken};
use crate::console::pages::Problem;
use crate::console::session;
use crate::console::view::{csrf_field, notice, page, Area, Field, Frame};
use crate::http::error::ErrorCode;
use crate::http::AppState;

#[derive(Debug, Deserialize)]
pub(super) struct Notice {
    ended: Option<String>,
    signed_out: Option<String>,
}

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
    let message = if query.ended.is_some() {
        Some("Your session has ended. Sign in again to continue.")
    } else if query.signed_out.is_some() {
        Some("You are signed out.")
    } else {
        None
    };
    render(&csrf.0, message, None, StatusCode::OK)
}

fn render(csrf: &str, message: Option<&str>, error: Option<&str>, status: StatusCode) -> Response {
    let field = Field::text("api_key", "API key", "")
        .kind("password")
        .required()
        .hint("Your school's API key (it starts with wzk_), or a sign-in token (JWT) from your organisation.")
        .error(error);
    let markup = page(
        Frame::new("Sign in", Area::Plain, csrf),
        html! {
            section.panel.narrow aria-labelledby="sign-in-title" {
                h1 #sign-in-title { "Sign in" }
                p.lede { "Sign in to your school's console." }
                (notice(message))
                form method="post" action="/ui/sign-in" {
                    (csrf_field(csrf))
                    (field.render())
                    div.actions { button type="submit" { "Sign in" } }
                }
            }
        },
    );
    (status, Html(markup.into_string())).into_response()
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
        return render(
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
        Ok(_tenant) => {
            let secure = session::is_https(&parts.headers, &parts.uri, &state.console);
            let mut response = crate::console::see_other("/ui/students");
            response.headers_mut().append(
                header::SET_COOKIE,
                session::start(&state.console, session::STAFF, credential, secure),
            );
            response
        }
        Err(err) if err.status() == StatusCode::UNAUTHORIZED => render(
            &csrf.0,
            None,
            Some("is not valid: it is unknown, revoked or expired"),
            StatusCode::UNAUTHORIZED,
        ),
        Err(err) if err.code() == ErrorCode::TenantMismatch => render(
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
    let secure = session::is_https(&headers, &uri, &state.console);
    let mut response = crate::console::see_other("/ui/sign-in?signed_out=1");
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::end(session::STAFF, secure));
    response
}
