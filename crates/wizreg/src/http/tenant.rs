//! The `Tenant` extractor: a handler that takes one can only run for a resolved, active school.
//!
//! Resolution happens once per request, in authority order: credential (the seam for API keys
//! and JWTs), then `X-Tenant`, then the Host subdomain. Malformed references are refused here,
//! before any SQL.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use tenancy::{resolve, TenantId};

use super::error::ApiError;
use super::AppState;
use crate::registry::{TenantRecord, TenantStatus};

/// An active school, resolved from the request.
#[derive(Clone, Debug)]
pub struct Tenant(pub Arc<TenantRecord>);

impl Tenant {
    pub fn id(&self) -> TenantId {
        self.0.id
    }
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let from_header = parts
            .headers
            .get("x-tenant")
            .map(|value| resolve::from_tenant_header(value.as_bytes()))
            .transpose()?;
        let from_host = match parts.headers.get(header::HOST) {
            Some(host) => resolve::from_host(host.as_bytes(), &state.base_domain)?,
            None => parts
                .uri
                .host()
                .map(|host| resolve::from_host(host.as_bytes(), &state.base_domain))
                .transpose()?
                .flatten(),
        };
        let reference = from_header
            .or(from_host)
            .ok_or_else(ApiError::tenant_required)?;
        let record = state
            .registry
            .find(&reference)
            .await?
            .ok_or_else(ApiError::unknown_tenant)?;
        if record.status == TenantStatus::Suspended {
            return Err(ApiError::tenant_suspended());
        }
        tracing::Span::current().record("tenant", tracing::field::display(record.id));
        Ok(Self(record))
    }
}
