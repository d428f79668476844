//! Pages for when the console cannot show what was asked: a suspended or unknown school, a
//! session of another school, a refused form. Each is a full page with a status code, never a
//! stack trace or raw JSON.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::html;

use super::view::{page, Area, Frame};
use crate::http::error::{ApiError, ErrorCode};

/// A page explaining why nothing else is shown.
#[derive(Debug)]
pub(crate) struct Problem {
    status: StatusCode,
    title: &'static str,
    message: String,
    link: Option<(&'static str, &'static str)>,
}

impl Problem {
    pub fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            title,
            message: message.into(),
            link: None,
        }
    }
    fn link(mut self, href: &'static str, text: &'static str) -> Self {
        self.link = Some((href, text));
        self
    }
    pub fn cross_site() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Form refused",
            "This form did not come from this console (its security token is missing or stale). Nothing was changed. Go back, reload the page and try again.",
        )
    }
    pub fn bad_form() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Form not understood",
            "The form could not be read. Nothing was changed. Reload the page and try again.",
        )
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Not found",
            format!("There is no such {what}. It may have been deleted."),
        )
    }
    /// The page for an error the API would have answered with `err`.
    pub fn from_api(err: &ApiError) -> Self {
        match err.code() {
            ErrorCode::TenantSuspended => Self::new(
                StatusCode::FORBIDDEN,
                "This school is suspended",
                "This school's console and API are switched off for now. Your data is kept. Ask your Wizreg operator to resume the school.",
            ),
            ErrorCode::UnknownTenant => Self::new(
                StatusCode::NOT_FOUND,
                "No such school",
                "No school has this address. Check the address you typed, or ask your Wizreg operator for your school's address.",
            ),
            ErrorCode::TenantRequired => Self::new(
                StatusCode::NOT_FOUND,
                "Which school?",
                "A school's console lives on the school's own address, such as hogwarts.localhost:3000/ui/. Operators manage schools in the operator console.",
            )
            .link("/ui/admin/", "Open the operator console"),
            ErrorCode::TenantMismatch => Self::new(
                StatusCode::FORBIDDEN,
                "Signed in to another school",
                "This sign-in belongs to another school. Open your own school's console, or sign out there first.",
            ),
            ErrorCode::RateLimited => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too busy",
                "Your school is sending more requests than it may right now. Wait a moment and try again.",
            ),
            ErrorCode::Unavailable => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "Wizreg cannot reach its database right now. Nothing was changed. Try again in a moment.",
            ),
            ErrorCode::NotFound => Self::new(StatusCode::NOT_FOUND, "Not found", err.message().to_owned()),
            _ if err.status().is_client_error() => {
                Self::new(err.status(), "Request refused", err.message().to_owned())
            }
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Something went wrong on our side. Nothing was changed. Try again; if it keeps happening, tell your operator.",
            ),
        }
    }
}

impl From<ApiError> for Problem {
    fn from(err: ApiError) -> Self {
        Self::from_api(&err)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        // Error pages carry no forms, so they need no CSRF token.
        let markup = page(
            Frame::new(self.title, Area::Plain, ""),
            html! {
                section.panel.problem aria-labelledby="problem-title" {
                    h1 #problem-title { (self.title) }
                    p { (self.message) }
                    @if let Some((href, text)) = self.link { p { a.button href=(href) { (text) } } }
                }
            },
        );
        (self.status, Html(markup.into_string())).into_response()
    }
}
