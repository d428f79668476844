//! The sign-in page both consoles share (staff with an API key or JWT, the operator with the
//! admin token), its notices, and signing out: only the words, the field and the addresses
//! differ.

use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::session;
use super::view::{csrf_field, notice, page, Area, Field, Frame};
use crate::http::AppState;

/// `?ended=1` (the session ended) or `?signed_out=1` on a sign-in page.
#[derive(Debug, Deserialize)]
pub(crate) struct Notice {
    ended: Option<String>,
    signed_out: Option<String>,
}

impl Notice {
    pub fn message(&self) -> Option<&'static str> {
        if self.ended.is_some() {
            Some("Your session has ended. Sign in again to continue.")
        } else if self.signed_out.is_some() {
            Some("You are signed out.")
        } else {
            None
        }
    }
}

/// One console's sign-in page.
pub(crate) struct SignInPage {
    pub title: &'static str,
    pub lede: &'static str,
    pub area: Area<'static>,
    /// Where the form posts, e.g. `/ui/sign-in`.
    pub action: &'static str,
    /// The credential's field name, label and hint.
    pub field: (&'static str, &'static str, &'static str),
    /// The session the credential starts.
    pub session: session::Kind,
}

impl SignInPage {
    pub fn render(
        &self,
        csrf: &str,
        message: Option<&str>,
        error: Option<&str>,
        status: StatusCode,
    ) -> Response {
        let (name, label, hint) = self.field;
        let field = Field::text(name, label, "")
            .kind("password")
            .required()
            .hint(hint)
            .error(error);
        let markup = page(
            Frame::new(self.title, self.area, csrf),
            html! {
                section.panel.narrow aria-labelledby="sign-in-title" {
                    h1 #sign-in-title { (self.title) }
                    p.lede { (self.lede) }
                    (notice(message))
                    form method="post" action=(self.action) {
                        (csrf_field(csrf))
                        (field.render())
                        div.actions { button type="submit" { "Sign in" } }
                    }
                }
            },
        );
        (status, Html(markup.into_string())).into_response()
    }

    /// Starts this console's session with `credential` (already checked) and goes to `home`.
    pub fn signed_in(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        uri: &Uri,
        credential: &str,
        home: &str,
    ) -> Response {
        let secure = session::is_https(headers, uri, &state.console);
        let mut response = super::see_other(home);
        response.headers_mut().append(
            header::SET_COOKIE,
            session::start(&state.console, self.session, credential, secure),
        );
        response
    }

    /// Ends this console's session and comes back here, saying so.
    pub fn sign_out(&self, state: &AppState, headers: &HeaderMap, uri: &Uri) -> Response {
        let secure = session::is_https(headers, uri, &state.console);
        let mut response = super::see_other(&format!("{}?signed_out=1", self.action));
        response
            .headers_mut()
            .append(header::SET_COOKIE, session::end(self.session, secure));
        response
    }
}
