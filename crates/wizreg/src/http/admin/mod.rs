//! `/admin/*`: platform administration. The [`PlatformAdmin`] extractor is the only way a
//! handler gets the platform connections, and it requires the admin bearer token.

pub mod api_keys;
pub mod portability;
pub mod tenants;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, StatusCode};
use axum::routing::get;
use axum::Router;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::AppState;
use crate::platform::Platform;

/// Proof that the caller presented the admin token; carries the platform connections.
#[derive(Clone, Debug)]
pub struct PlatformAdmin(pub Platform);

impl FromRequestParts<AppState> for PlatformAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(expected) = &state.admin_token else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the admin API is disabled: set WIZREG_ADMIN_TOKEN",
            ));
        };
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Constant time: how much of a guess matched must not show in the response time.
        if bool::from(presented.as_bytes().ct_eq(expected.expose().as_bytes())) {
            Ok(Self(state.platform.clone()))
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid admin bearer token is required",
            ))
        }
    }
}

/// The admin routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/tenants", get(tenants::list).post(tenants::create))
        .route(
            "/admin/tenants/{tenant}",
            get(tenants::get)
                .patch(tenants::update)
                .delete(tenants::delete),
        )
        .route("/admin/tenants/{tenant}/export", get(portability::export))
        .route(
            "/admin/tenants/{tenant}/import",
            axum::routing::post(portability::import),
        )
        .route(
            "/admin/tenants/{tenant}/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route(
            "/admin/tenants/{tenant}/api-keys/{key_id}",
            axum::routing::delete(api_keys::revoke),
        )
}
