//! Cross-site request forgery defences, two of them: every unsafe request must come from the
//! console's own origin (`Origin`, else `Referer`), and every form carries a token the server
//! derives from a random cookie of the browser (HMAC with the console key). A page of another
//! site can neither read that cookie nor compute the token; `SameSite=Strict` keeps the
//! session cookies off its requests on top.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::pages::Problem;
use super::session;
use super::settings::ConsoleSettings;

const COOKIE: &str = "wizreg_csrf";

/// The token forms of this request must carry (in a hidden `csrf` field).
#[derive(Clone, Debug)]
pub(crate) struct CsrfToken(pub String);

/// The token for a browser's CSRF cookie value.
fn token_for(settings: &ConsoleSettings, cookie: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(settings.key.signing()).expect("HMAC takes any key");
    mac.update(b"wizreg console csrf\0");
    mac.update(cookie.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Refuses a cross-origin unsafe request, then makes sure the browser has a CSRF cookie and
/// hands the form token to the handler. Returns the cookie to set, when it was missing.
pub(crate) fn prepare(
    request: &mut Request,
    settings: &ConsoleSettings,
) -> Result<Option<HeaderValue>, Problem> {
    let unsafe_method = !matches!(*request.method(), Method::GET | Method::HEAD);
    if unsafe_method && !same_origin(request.headers(), request.uri(), settings) {
        return Err(Problem::cross_site());
    }
    let existing = session::jar(request.headers())
        .get(COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 64);
    let (value, set) = match existing {
        Some(value) => (value, None),
        None => {
            let value = hex::encode(rand::random::<[u8; 32]>());
            let secure = session::is_https(request.headers(), request.uri(), settings);
            let cookie = session::build(COOKIE, "/ui/", value.clone(), secure).build();
            (value, HeaderValue::from_str(&cookie.to_string()).ok())
        }
    };
    request
        .extensions_mut()
        .insert(CsrfToken(token_for(settings, &value)));
    Ok(set)
}

/// Whether the request's `Origin` (or, without one, `Referer`) is the console's own origin.
/// A request with neither (an old browser, a privacy extension) still needs the form token.
fn same_origin(headers: &HeaderMap, uri: &axum::http::Uri, settings: &ConsoleSettings) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let scheme = if session::is_https(headers, uri, settings) {
        "https"
    } else {
        "http"
    };
    let own = format!("{scheme}://{host}");
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.as_bytes().eq_ignore_ascii_case(own.as_bytes());
    }
    match headers
        .get(header::REFERER)
        .map(|r| r.to_str().unwrap_or(""))
    {
        Some(referer) => {
            let (start, rest) = (referer.get(..own.len()), referer.get(own.len()..));
            start.is_some_and(|start| start.eq_ignore_ascii_case(&own))
                && rest.is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        }
        None => true,
    }
}

/// Whether `presented` is this request's form token.
pub(crate) fn token_matches(expected: &CsrfToken, presented: &str) -> bool {
    bool::from(expected.0.as_bytes().ct_eq(presented.as_bytes()))
}

/// A URL-encoded form whose `csrf` field matched; `T` reads the other fields.
#[derive(Debug)]
pub(crate) struct ConsoleForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ConsoleForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let expected = request.extensions().get::<CsrfToken>().cloned();
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| Problem::bad_form().into_response())?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| Problem::bad_form().into_response())?;
        let presented = pairs
            .iter()
            .find(|(name, _)| name == "csrf")
            .map(|(_, value)| value.as_str())
            .unwrap_or("");
        match expected {
            Some(expected) if token_matches(&expected, presented) => {}
            _ => return Err(Problem::cross_site().into_response()),
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| Problem::bad_form().into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(
                *name,
                HeaderValue::from_bytes(value.as_bytes()).expect("header value"),
            );
        }
        headers
    }

    #[test]
    fn only_the_consoles_own_origin_may_post() {
        let settings = ConsoleSettings::ephemeral();
        let uri: axum::http::Uri = "/ui/students".parse().expect("uri");
        let host = ("host", "hogwarts.localhost:3000");
        let check =
            |pairs: &[(&'static str, &'static str)]| same_origin(&headers(pairs), &uri, &settings);
        assert!(check(&[host, ("origin", "http://hogwarts.localhost:3000")]));
        assert!(check(&[host, ("origin", "HTTP://Hogwarts.localhost:3000")]));
        assert!(!check(&[
            host,
            ("origin", "http://castelobruxo.localhost:3000")
        ]));
        assert!(!check(&[host, ("origin", "null")]));
        assert!(!check(&[
            host,
            ("origin", "https://hogwarts.localhost:3000")
        ]));
        assert!(check(&[
            host,
            ("referer", "http://hogwarts.localhost:3000/ui/students")
        ]));
        assert!(!check(&[
            host,
            ("referer", "http://hogwarts.localhost:30001/ui/")
        ]));
        assert!(!check(&[
            host,
            ("referer", "http://hogwarts.localhost:3000.evil.example/")
        ]));
        assert!(!check(&[host, ("referer", "http://é")]));
        // Neither header: the form token alone decides.
        assert!(check(&[host]));
        assert!(!check(&[("origin", "http://hogwarts.localhost:3000")]));
    }

    #[test]
    fn a_token_belongs_to_one_cookie_and_one_key() {
        let settings = ConsoleSettings::ephemeral();
        let token = CsrfToken(token_for(&settings, "cookie-a"));
        assert!(token_matches(&token, &token_for(&settings, "cookie-a")));
        assert!(!token_matches(&token, &token_for(&settings, "cookie-b")));
        assert!(!token_matches(
            &token,
            &token_for(&ConsoleSettings::ephemeral(), "cookie-a")
        ));
        assert!(!token_matches(&token, ""));
    }
}
