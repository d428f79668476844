//! Console sessions: the credential the user signed in with (an API key, a JWT or the admin
//! token), kept in a cookie encrypted and authenticated with the console key (AES-256-GCM, the
//! cookie's name bound in as associated data), with its expiry inside.
//!
//! The server keeps no session table. Each request presents the credential again to the same
//! checks as the API (cached): revoking the key, suspending the school or rotating the admin
//! token ends every session built on it at once, and signing out drops the cookie.

use axum::http::{header, HeaderMap, HeaderValue};
use cookie::{Cookie, CookieJar, SameSite};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::settings::ConsoleSettings;

/// A school staff member's session (host-only, so it goes back to one school's host).
pub(crate) const STAFF: Kind = Kind {
    name: "wizreg_session",
    path: "/ui/",
};
/// An operator's session, sent only under `/ui/admin/`.
pub(crate) const OPERATOR: Kind = Kind {
    name: "wizreg_admin",
    path: "/ui/admin/",
};

/// Which session a cookie holds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kind {
    name: &'static str,
    path: &'static str,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    credential: String,
    /// Unix seconds after which the session is refused whatever the browser keeps.
    expires: i64,
}

/// Every cookie the request carries, for reading.
pub(crate) fn jar(headers: &HeaderMap) -> CookieJar {
    let mut jar = CookieJar::new();
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for cookie in Cookie::split_parse(text.to_owned()).flatten() {
            jar.add_original(cookie);
        }
    }
    jar
}

/// The credential of a live session of `kind`, if the request carries one.
pub(crate) fn credential(
    headers: &HeaderMap,
    settings: &ConsoleSettings,
    kind: Kind,
) -> Option<String> {
    let jar = jar(headers);
    let cookie = jar.private(&settings.key).get(kind.name)?;
    let payload: Payload = serde_json::from_str(cookie.value()).ok()?;
    (payload.expires > OffsetDateTime::now_utc().unix_timestamp()).then_some(payload.credential)
}

/// The `Set-Cookie` value starting a session of `kind` on `credential`.
pub(crate) fn start(
    settings: &ConsoleSettings,
    kind: Kind,
    credential: &str,
    secure: bool,
) -> HeaderValue {
    let ttl = settings.session_ttl;
    let payload = Payload {
        credential: credential.to_owned(),
        expires: OffsetDateTime::now_utc().unix_timestamp()
            + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
    };
    let value = serde_json::to_string(&payload).unwrap_or_default();
    let mut jar = CookieJar::new();
    jar.private_mut(&settings.key)
        .add(build(kind.name, kind.path, value, secure).max_age(time_ttl(ttl)));
    set_cookie(jar.delta().next())
}

/// The `Set-Cookie` value ending a session of `kind`.
pub(crate) fn end(kind: Kind, secure: bool) -> HeaderValue {
    let cookie = build(kind.name, kind.path, String::new(), secure)
        .max_age(time::Duration::ZERO)
        .expires(OffsetDateTime::UNIX_EPOCH);
    set_cookie(Some(&cookie.build()))
}

/// A console cookie: never readable by scripts, never sent with a cross-site request.
pub(crate) fn build(
    name: &'static str,
    path: &'static str,
    value: String,
    secure: bool,
) -> cookie::CookieBuilder<'static> {
    Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
}

fn time_ttl(ttl: std::time::Duration) -> time::Duration {
    time::Duration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2))
}

fn set_cookie(cookie: Option<&Cookie<'_>>) -> HeaderValue {
    cookie
        .and_then(|c| HeaderValue::from_str(&c.to_string()).ok())
        .unwrap_or_else(|| HeaderValue::from_static(""))
}

/// Whether the request came over HTTPS (directly, or through a proxy that says so), so the
/// cookies it gets are marked `Secure`.
pub(crate) fn is_https(
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    settings: &ConsoleSettings,
) -> bool {
    settings.always_secure
        || uri.scheme_str() == Some("https")
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presenting(set_cookie: &HeaderValue) -> HeaderMap {
        let pair = set_cookie
            .to_str()
            .expect("ascii")
            .split(';')
            .next()
            .expect("name=value");
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(pair).expect("valid"));
        headers
    }

    #[test]
    fn a_session_gives_back_its_credential_only_to_its_own_key_and_kind() {
        let settings = ConsoleSettings::ephemeral();
        let cookie = start(&settings, STAFF, "wzk_secret", false);
        let text = cookie.to_str().expect("ascii");
        assert!(
            text.contains("HttpOnly")
                && text.contains("SameSite=Strict")
                && text.contains("Path=/ui/")
        );
        assert!(
            !text.contains("Secure") && !text.contains("wzk_secret"),
            "{text}"
        );
        let headers = presenting(&cookie);
        assert_eq!(
            credential(&headers, &settings, STAFF).as_deref(),
            Some("wzk_secret")
        );
        // Another server's key, or the same value under the operator cookie's name: nothing.
        assert_eq!(
            credential(&headers, &ConsoleSettings::ephemeral(), STAFF),
            None
        );
        let renamed = text.replacen("wizreg_session", "wizreg_admin", 1);
        let headers = presenting(&HeaderValue::from_str(&renamed).expect("valid"));
        assert_eq!(credential(&headers, &settings, OPERATOR), None);
        assert!(start(&settings, OPERATOR, "t", true)
            .to_str()
            .expect("ascii")
            .contains("Secure"));
    }

    #[test]
    fn a_tampered_or_expired_session_is_refused() {
        let settings = ConsoleSettings::ephemeral();
        let cookie = start(&settings, STAFF, "wzk_secret", false);
        let text = cookie.to_str().expect("ascii").to_owned();
        let (pair, _) = text.split_once(';').expect("attributes");
        let mut bytes = pair.as_bytes().to_vec();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = HeaderValue::from_bytes(&bytes).expect("valid");
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, tampered);
        assert_eq!(credential(&headers, &settings, STAFF), None);

        let expired = ConsoleSettings {
            session_ttl: std::time::Duration::ZERO,
            ..settings.clone()
        };
        let cookie = start(&expired, STAFF, "wzk_secret", false);
        assert_eq!(credential(&presenting(&cookie), &settings, STAFF), None);
        let ended = end(STAFF, false);
        assert!(ended.to_str().expect("ascii").contains("Max-Age=0"));
    }
}
