//! The staff console on a school's host: who the user is ([`Staff`]), signing in and out,
//! and the routes of the students and houses pages.

mod houses;
mod records;
pub(super) mod sign_in;
mod student_views;
mod students;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub(crate) use self::sign_in::Empty;
use super::csrf::CsrfToken;
use super::pages::Problem;
use super::session;
use super::view::{Area, Section};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::tenant::Tenant;
use crate::http::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { super::see_other("/ui/students") }))
        .route("/ui/", get(|| async { super::see_other("/ui/students") }))
        .route("/ui/students", get(students::list).post(students::create))
        .route(
            "/ui/students/{id}",
            get(students::edit).post(students::update),
        )
        .route(
            "/ui/students/{id}/delete",
            get(students::confirm_delete).post(students::delete),
        )
        .route("/ui/houses", get(houses::list).post(houses::create))
        .route("/ui/houses/{id}", get(houses::edit).post(houses::update))
        .route(
            "/ui/houses/{id}/delete",
            get(houses::confirm_delete).post(houses::delete),
        )
        .route("/ui/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/ui/sign-out", post(sign_in::sign_out))
}

/// A staff member of the school this request resolves to: the same resolution as the API's
/// (`Tenant`), fed with the session's credential when the server wants one.
#[derive(Debug)]
pub(crate) struct Staff {
    pub tenant: Tenant,
    pub csrf: String,
    signed_in: bool,
}

impl Staff {
    pub fn area(&self, section: Section) -> Area<'_> {
        Area::Staff {
            school: &self.tenant.0.name,
            section,
            signed_in: self.signed_in,
        }
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let csrf = parts
            .extensions
            .get::<CsrfToken>()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        if !state.auth.needs_credential() {
            let tenant = Tenant::from_request_parts(parts, state)
                .await
                .map_err(|err| Problem::from_api(&err).into_response())?;
            return Ok(Self {
                tenant,
                csrf,
                signed_in: false,
            });
        }
        let Some(credential) = session::credential(&parts.headers, &state.console, session::STAFF)
        else {
            return Err(super::see_other("/ui/sign-in"));
        };
        let secure = session::is_https(&parts.headers, &parts.uri, &state.console);
        match resolve(parts, state, &credential).await {
            Ok(tenant) => Ok(Self {
                tenant,
                csrf,
                signed_in: true,
            }),
            // Revoked, expired or otherwise no longer valid: the session is over.
            Err(err) if err.status() == StatusCode::UNAUTHORIZED => {
                let mut response = super::see_other("/ui/sign-in?ended=1");
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, session::end(session::STAFF, secure));
                Err(response)
            }
            Err(err) => Err(Problem::from_api(&err).into_response()),
        }
    }
}

/// The school `credential` proves, checked against this request's host exactly as the API
/// checks an `Authorization` header (a credential of another school is `403`).
pub(crate) async fn resolve(
    parts: &mut Parts,
    state: &AppState,
    credential: &str,
) -> Result<Tenant, ApiError> {
    let bearer = HeaderValue::from_str(&format!("Bearer {credential}")).map_err(|_| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "malformed",
        )
    })?;
    let presented = parts.headers.insert(header::AUTHORIZATION, bearer);
    let resolved = Tenant::from_request_parts(parts, state).await;
    match presented {
        Some(original) => parts.headers.insert(header::AUTHORIZATION, original),
        None => parts.headers.remove(header::AUTHORIZATION),
    };
    resolved
}
