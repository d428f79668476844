//! The operator console at `/ui/admin/` (any host): who the operator is ([`Operator`]),
//! signing in and out with the admin token, and the routes. Every action calls the admin
//! API's own handlers (or, for a deletion with progress, the same offboarding code).

pub(crate) mod jobs;
mod keys;
mod moving;
mod schools;

use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::{header, request::Parts, HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};

use super::csrf::{ConsoleForm, CsrfToken};
use super::session;
use super::sign_in_page::{Notice, SignInPage};
use super::view::Area;
use crate::http::admin::PlatformAdmin;
use crate::http::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/ui/admin",
            get(|| async { super::see_other("/ui/admin/") }),
        )
        .route("/ui/admin/", get(schools::list).post(schools::create))
        .route("/ui/admin/sign-in", get(sign_in_form).post(sign_in))
        .route("/ui/admin/sign-out", post(sign_out))
        .route("/ui/admin/schools/{slug}", get(schools::show))
        .route("/ui/admin/schools/{slug}/status", post(schools::set_status))
        .route("/ui/admin/schools/{slug}/keys", post(keys::create))
        .route(
            "/ui/admin/schools/{slug}/keys/{id}/revoke",
            post(keys::revoke),
        )
        .route("/ui/admin/schools/{slug}/export", get(moving::export))
        .route(
            "/ui/admin/schools/{slug}/import",
            // The import reads its own limit (WIZREG_IMPORT_MAX_BYTES), a line at a time.
            post(moving::import).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/ui/admin/schools/{slug}/delete",
            get(jobs::confirm_delete).post(jobs::delete),
        )
        .route("/ui/admin/jobs/{id}", get(jobs::progress))
}

/// A signed-in operator: the admin API's own proof, built from the session's token.
#[derive(Debug)]
pub(crate) struct Operator {
    pub admin: PlatformAdmin,
    pub csrf: String,
}

impl Operator {
    pub fn area(&self) -> Area<'static> {
        Area::Operator { signed_in: true }
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let csrf = parts
            .extensions
            .get::<CsrfToken>()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        let token = session::credential(&parts.headers, &state.console, session::OPERATOR);
        match token.map(|token| PlatformAdmin::with_token(state, &token)) {
            Some(Ok(admin)) => Ok(Self { admin, csrf }),
            // The token was rotated: the session is over.
            Some(Err(_)) => {
                let secure = session::is_https(&parts.headers, &parts.uri, &state.console);
                let mut response = super::see_other("/ui/admin/sign-in?ended=1");
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, session::end(session::OPERATOR, secure));
                Err(response)
            }
            None => Err(super::see_other("/ui/admin/sign-in")),
        }
    }
}

const PAGE: SignInPage = SignInPage {
    title: "Operator sign-in",
    lede: "Manage schools, their API keys and their data.",
    area: Area::Operator { signed_in: false },
    action: "/ui/admin/sign-in",
    field: (
        "token",
        "Admin token",
        "The deployment's WIZREG_ADMIN_TOKEN (a development server prints it at its first start).",
    ),
    session: session::OPERATOR,
};

async fn sign_in_form(
    Extension(csrf): Extension<CsrfToken>,
    axum::extract::Query(query): axum::extract::Query<Notice>,
) -> Response {
    PAGE.render(&csrf.0, query.message(), None, StatusCode::OK)
}

#[derive(Debug, serde::Deserialize)]
struct SignIn {
    #[serde(default)]
    token: String,
}

async fn sign_in(
    State(state): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    headers: HeaderMap,
    uri: Uri,
    ConsoleForm(form): ConsoleForm<SignIn>,
) -> Response {
    let token = form.token.trim();
    if let Err(err) = PlatformAdmin::with_token(&state, token) {
        let error = if token.is_empty() {
            "is required".to_owned()
        } else {
            format!("is not valid ({})", err.message())
        };
        return PAGE.render(&csrf.0, None, Some(&error), StatusCode::UNAUTHORIZED);
    }
    PAGE.signed_in(&state, &headers, &uri, token, "/ui/admin/")
}

async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    ConsoleForm(_): ConsoleForm<super::staff::Empty>,
) -> Response {
    PAGE.sign_out(&state, &headers, &uri)
}
