//! `/admin/*`: platform administration. The [`PlatformAdmin`] extractor is the only way a
//! handler gets the platform connections, and it requires the admin bearer token.

pub mod api_keys;
pub mod portability;
pub mod shards;
pub mod tenants;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, StatusCode};
use axum::routing::{delete, get, post};
use axum::Router;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::{ApiError, ErrorCode};
use super::routing::with_trailing_slashes;
use super::AppState;
use crate::platform::Platform;

/// Proof that the caller presented the admin token; carries the platform connections.
#[derive(Clone, Debug)]
pub struct PlatformAdmin(pub Platform);

impl FromRequestParts<AppState> for PlatformAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Self::with_token(state, presented_bearer(parts))
    }
}

impl PlatformAdmin {
    /// For a token presented otherwise than in a header: the web console's sign-in form, and
    /// then its session, which presents it again on every request.
    pub fn with_token(state: &AppState, presented: &str) -> Result<Self, ApiError> {
        check_admin_token(state, presented)?;
        Ok(Self(state.platform.clone()))
    }
}

/// Proof that the caller presented the admin token, for operations routes that need no
/// platform connection (`/metrics` on the main listener).
#[derive(Clone, Copy, Debug)]
pub struct AdminToken;

impl FromRequestParts<AppState> for AdminToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        check_admin_token(state, presented_bearer(parts))?;
        Ok(Self)
    }
}

/// The bearer token of the `Authorization` header, or "" when there is none.
fn presented_bearer(parts: &Parts) -> &str {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        // The scheme name is case-insensitive (RFC 9110), as for tenant credentials.
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim())
}

fn check_admin_token(state: &AppState, presented: &str) -> Result<(), ApiError> {
    let Some(expected) = &state.admin_token else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "the admin API is disabled: set WIZREG_ADMIN_TOKEN",
        ));
    };
    if tokens_match(presented, expected.expose()) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "a valid admin bearer token is required",
        ))
    }
}

/// Whether `presented` is the admin token. Both sides are hashed first, so the comparison runs
/// over equal lengths in constant time: the response time shows neither how much of a guess
/// matched nor how long the token is (a plain slice comparison returns early on a length
/// difference).
fn tokens_match(presented: &str, expected: &str) -> bool {
    let digest = |text: &str| -> [u8; 32] { Sha256::digest(text.as_bytes()).into() };
    bool::from(digest(presented).ct_eq(&digest(expected)))
}

/// The admin routes, each also with a trailing slash (as the tenant routes).
pub fn routes() -> Router<AppState> {
    with_trailing_slashes([
        ("/admin/tenants", get(tenants::list).post(tenants::create)),
        (
            "/admin/tenants/{tenant}",
            get(tenants::get)
                .patch(tenants::update)
                .delete(tenants::delete),
        ),
        ("/admin/tenants/{tenant}/export", get(portability::export)),
        ("/admin/tenants/{tenant}/import", post(portability::import)),
        (
            "/admin/tenants/{tenant}/api-keys",
            get(api_keys::list).post(api_keys::create),
        ),
        (
            "/admin/tenants/{tenant}/api-keys/{key_id}",
            delete(api_keys::revoke),
        ),
        ("/admin/tenants/{tenant}/placement", get(shards::placement)),
        ("/admin/tenants/{tenant}/isolate", post(shards::isolate)),
        ("/admin/tenants/{tenant}/move", post(shards::move_to)),
    ])
}

#[cfg(test)]
mod tests {
    use super::tokens_match;

    #[test]
    fn only_the_exact_admin_token_matches_whatever_its_length() {
        let token = "test-admin-token-0123456789";
        assert!(tokens_match(token, token));
        for guess in [
            "",
            "t",
            "test-admin-token-012345678",
            "test-admin-token-01234567890",
        ] {
            assert!(!tokens_match(guess, token), "{guess}");
        }
    }
}
