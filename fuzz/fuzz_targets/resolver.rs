//! Any bytes as an `X-Tenant` header or a Host header (with a base domain taken from the
//! input too): resolution returns Ok or Err and never panics, and whatever it accepts is a
//! valid slug or a UUID.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tenancy::{tenant_from_header, tenant_from_host};
use tenancy::{Slug, TenantRef};

fuzz_target!(|data: &[u8]| {
    let (base, header) = match data.iter().position(|&b| b == 0) {
        Some(split) => (&data[..split], &data[split + 1..]),
        None => (&b"localhost"[..], data),
    };
    let base = String::from_utf8_lossy(base);
    for resolved in [tenant_from_header(header).ok(), tenant_from_host(header, &base).ok().flatten()] {
        if let Some(TenantRef::Slug(slug)) = resolved {
            assert!(Slug::parse(slug.as_str()).is_ok(), "accepted a non-slug: {slug:?}");
        }
    }
});
