//! Any bytes as an `X-Tenant` header or a Host header (with a base domain taken from the
//! input too): resolution returns Ok or Err and never panics, and whatever it accepts is a
//! valid slug or a UUID.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tenancy::resolve::{from_host, from_tenant_header};
use tenancy::{Slug, TenantRef};

fuzz_target!(|data: &[u8]| {
    let (base, header) = match data.iter().position(|&b| b == 0) {
        Some(split) => (&data[..split], &data[split + 1..]),
        None => (&b"localhost"[..], data),
    };
    let base = String::from_utf8_lossy(base);
    for resolved in [from_tenant_header(header).ok(), from_host(header, &base).ok().flatten()] {
        if let Some(TenantRef::Slug(slug)) = resolved {
            assert!(Slug::parse(slug.as_str()).is_ok(), "accepted a non-slug: {slug:?}");
        }
    }
});
