//! The `Tenant` extractor: a handler that takes one can only run for a resolved, active school.
//!
//! Resolution happens once per request, in authority order: credential (API key or JWT,
//! verified by [`crate::auth`]), then `X-Tenant`, then the Host subdomain. With a credential,
//! `X-Tenant` and Host may only name the same school (else `403 tenant_mismatch`). Malformed
//! references are refused here, before any SQL of their own (the credential, checked first,
//! may already have cost an API key lookup). A second `X-Tenant` or Host header is refused
//! before anything else: a proxy and this server could each read a different one.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap, HeaderName, HeaderValue, StatusCode};
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
        let tenant_header = single(&parts.headers, &X_TENANT)?;
        let host_header = single(&parts.headers, &header::HOST)?;
        // Next, so a caller without a valid credential learns nothing about any school.
        let proven = state.auth.authenticate(&parts.headers).await?;
        let from_header = tenant_header
            .map(|value| tenant_from_header(value.as_bytes()))
            .transpose()?;
        let tenant_from_host = match host_header {
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

const X_TENANT: HeaderName = HeaderName::from_static("x-tenant");

/// The one value of header `name`, if any; more than one is the client's mistake.
fn single<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a HeaderValue>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::invalid_request(format!(
            "send one {name} header, not several"
        )));
    }
    Ok(first)
}

/// Whether `reference` (an id or a slug) names the school `record`.
fn names(record: &TenantRecord, reference: &TenantRef) -> bool {
    match reference {
        TenantRef::Id(id) => *id == record.id,
        TenantRef::Slug(slug) => *slug == record.slug,
    }
}
