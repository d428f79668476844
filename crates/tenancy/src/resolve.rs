//! Reading a tenant reference out of request headers: pure parsing, no I/O, no panics.
//!
//! Authority order (credential > `X-Tenant` > Host subdomain) is applied by the caller once the
//! references are resolved to ids, because a slug and a UUID can only be compared as ids.

use crate::id::{Slug, TenantRef};

/// Why a header could not name a tenant. Each is the client's mistake (a 4xx).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveError {
    /// The `X-Tenant` header is neither a UUID nor a slug (or not UTF-8).
    #[error("the X-Tenant header must be a tenant UUID or slug")]
    BadTenantHeader,
    /// The Host names a subdomain of the base domain that is not a slug.
    #[error("the Host subdomain is not a valid tenant slug")]
    BadHostSubdomain,
}

/// Parses an `X-Tenant` header value (surrounding whitespace ignored).
///
/// ```
/// use tenancy::{tenant_from_header, TenantRef};
///
/// assert!(matches!(tenant_from_header(b"acme"), Ok(TenantRef::Slug(_))));
/// assert!(tenant_from_header(b"'; drop table x; --").is_err());
/// ```
pub fn tenant_from_header(raw: &[u8]) -> Result<TenantRef, ResolveError> {
    let text = std::str::from_utf8(raw).map_err(|_| ResolveError::BadTenantHeader)?;
    text.trim()
        .parse()
        .map_err(|_| ResolveError::BadTenantHeader)
}

/// Finds `<slug>.<base_domain>` in a Host header value (port, trailing dot and case ignored).
///
/// `Ok(None)` means the host names no tenant (the bare base domain, an IP literal or another
/// domain); `Err` means it tries to, under our base domain, with something that is not a slug.
///
/// ```
/// use tenancy::{tenant_from_host, Slug, TenantRef};
///
/// let acme = TenantRef::Slug(Slug::parse("acme")?);
/// assert_eq!(tenant_from_host(b"ACME.example.com:8080", "example.com"), Ok(Some(acme)));
/// assert_eq!(tenant_from_host(b"example.com", "example.com"), Ok(None));
/// assert_eq!(tenant_from_host(b"10.0.0.1", "example.com"), Ok(None));
/// assert!(tenant_from_host(b"a.b.example.com", "example.com").is_err());
/// # Ok::<(), tenancy::SlugError>(())
/// ```
pub fn tenant_from_host(raw: &[u8], base_domain: &str) -> Result<Option<TenantRef>, ResolveError> {
    let Ok(text) = std::str::from_utf8(raw) else {
        return Err(ResolveError::BadHostSubdomain);
    };
    if text.starts_with('[') {
        return Ok(None); // IPv6 literal
    }
    let without_port = match text.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        Some(_) => return Err(ResolveError::BadHostSubdomain),
        None => text,
    };
    let host = without_port.trim_end_matches('.').to_ascii_lowercase();
    let base = base_domain.trim_end_matches('.').to_ascii_lowercase();
    let Some(prefix) = host
        .strip_suffix(base.as_str())
        .and_then(|p| p.strip_suffix('.'))
    else {
        return Ok(None);
    };
    if prefix.contains('.') {
        return Err(ResolveError::BadHostSubdomain);
    }
    Slug::parse(prefix)
        .map(|slug| Some(TenantRef::Slug(slug)))
        .map_err(|_| ResolveError::BadHostSubdomain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(s: &str) -> Option<TenantRef> {
        Some(TenantRef::Slug(Slug::parse(s).expect("valid slug")))
    }

    #[test]
    fn host_subdomains_name_tenants_under_the_base_domain_only() {
        let base = "localhost";
        assert_eq!(
            tenant_from_host(b"acme.localhost:3000", base),
            Ok(slug("acme"))
        );
        assert_eq!(tenant_from_host(b"ACME.Localhost.", base), Ok(slug("acme")));
        assert_eq!(tenant_from_host(b"localhost:3000", base), Ok(None));
        assert_eq!(tenant_from_host(b"127.0.0.1:3000", base), Ok(None));
        assert_eq!(tenant_from_host(b"[::1]:3000", base), Ok(None));
        assert_eq!(tenant_from_host(b"example.com", base), Ok(None));
        assert_eq!(tenant_from_host(b"notlocalhost", base), Ok(None));
        assert_eq!(
            tenant_from_host(b"a.b.localhost", base),
            Err(ResolveError::BadHostSubdomain)
        );
        assert_eq!(
            tenant_from_host(b"a_b.localhost", base),
            Err(ResolveError::BadHostSubdomain)
        );
        assert_eq!(
            tenant_from_host(b"x.localhost:abc", base),
            Err(ResolveError::BadHostSubdomain)
        );
        assert_eq!(
            tenant_from_host("é.localhost".as_bytes(), base),
            Err(ResolveError::BadHostSubdomain)
        );
        assert_eq!(
            tenant_from_host(b"xn--bcher-kva.localhost", base),
            Ok(slug("xn--bcher-kva"))
        );
    }

    #[test]
    fn tenant_headers_take_uuids_and_slugs_and_nothing_else() {
        assert_eq!(tenant_from_header(b"acme"), Ok(slug("acme").expect("some")));
        assert!(matches!(
            tenant_from_header(b"0190f0e6-8d8e-7b4c-9d0e-0a1b2c3d4e5f"),
            Ok(TenantRef::Id(_))
        ));
        for bad in [
            &b"'; drop table task; --"[..],
            b"",
            b"a\0b",
            b"\xff",
            b"a\\b",
        ] {
            assert_eq!(tenant_from_header(bad), Err(ResolveError::BadTenantHeader));
        }
    }
}
