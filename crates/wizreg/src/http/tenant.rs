//! The `Tenant` extractor: a handler that takes one can only run for a resolved, active school.
//!
//! Resolution happens once per request, in authority order: credential (API key or JWT,
//! verified by [`crate::auth`]), then `X-Tenant`, then the Host subdomain. With a credential,
//! `X-Tenant` and Host may only name the same school (else `403 tenant_mismatch`). Malformed
//! references are refused here, before any SQL of their own (the credential, checked first,
//! may already have cost an API key lookup).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, StatusCode};
use tenancy::{tenant_from_header, tenant_from_host, TenantId, TenantRef};

use super::error::{ApiError, ErrorCode};
use super::limits::TenantSlot;
use super::AppState;
use crate::registry::{TenantRecord, TenantStatus};

/// An active school, resolved from the request and admitted by its limits (the slot it holds
/// is released when the handler ends).
#[derive(Clone, Debug)]
pub struct Tenant(
    pub Arc<TenantRecord>,
    #[expect(
        dead_code,
        reason = "held, never read: dropping it frees the school's slot"
    )]
    Arc<TenantSlot>,
);

impl Tenant {
    pub fn id(&self) -> TenantId {
        self.0.id
    }
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // First, so a caller without a valid credential learns nothing about any school.
        let proven = state.auth.authenticate(&parts.headers).await?;
        let from_header = parts
            .headers
            .get("x-tenant")
            .map(|value| tenant_from_header(value.as_bytes()))
            .transpose()?;
        let tenant_from_host = match parts.headers.get(header::HOST) {
            Some(host) => tenant_from_host(host.as_bytes(), &state.base_domain)?,
            None => parts
                .uri
                .host()
                .map(|host| tenant_from_host(host.as_bytes(), &state.base_domain))
                .transpose()?
                .flatten(),
        };
        let record = match proven {
            // The credential decides; the other references may only agree with it.
            Some(id) => {
                let record = state
                    .registry
                    .find(&TenantRef::Id(id))
                    .await?
                    .ok_or_else(ApiError::unknown_tenant)?;
                let mut named = from_header.iter().chain(tenant_from_host.iter());
                if named.any(|reference| !names(&record, reference)) {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        ErrorCode::TenantMismatch,
                        "the X-Tenant header or host names another school than the credential",
                    ));
                }
                record
            }
            None => {
                let reference = from_header
                    .or(tenant_from_host)
                    .ok_or_else(ApiError::tenant_required)?;
                state
                    .registry
                    .find(&reference)
                    .await?
                    .ok_or_else(ApiError::unknown_tenant)?
            }
        };
        if record.status == TenantStatus::Suspended {
            return Err(ApiError::tenant_suspended());
        }
        super::observe::record_tenant(&state.tenant_labels, &record);
        let slot = state.limits.admit(record.id).await?;
        Ok(Self(record, Arc::new(slot)))
    }
}

/// Whether `reference` (an id or a slug) names the school `record`.
fn names(record: &TenantRecord, reference: &TenantRef) -> bool {
    match reference {
        TenantRef::Id(id) => *id == record.id,
        TenantRef::Slug(slug) => *slug == record.slug,
    }
}
