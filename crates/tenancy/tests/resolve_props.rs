//! Property tests for tenant resolution: any header bytes give `Ok` or `Err` (never a panic),
//! valid slugs round-trip through every spelling a client may use, and nothing that is not a
//! slug or UUID ever resolves.

use proptest::prelude::*;
use tenancy::{tenant_from_header, tenant_from_host};
use tenancy::{Slug, TenantRef};

/// Valid slugs: a DNS label of lower-case letters, digits and inner hyphens.
fn slug() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
}

fn base_domain() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("localhost".to_owned()),
        "[a-z]{1,10}(\\.[a-z]{2,6}){0,2}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_bytes_resolve_to_a_reference_or_an_error_without_panicking(
        raw in proptest::collection::vec(any::<u8>(), 0..300),
        base in base_domain(),
    ) {
        let _ = tenant_from_header(&raw);
        let _ = tenant_from_host(&raw, &base);
    }

    #[test]
    fn text_near_the_valid_shape_never_panics(
        raw in "[A-Za-z0-9.:\\[\\]_ -]{0,80}",
        base in base_domain(),
    ) {
        let _ = tenant_from_header(raw.as_bytes());
        let _ = tenant_from_host(raw.as_bytes(), &base);
    }

    #[test]
    fn valid_slugs_round_trip_in_any_case_with_ports_and_trailing_dots(
        slug in slug(),
        base in base_domain(),
        upper in any::<bool>(),
        port in proptest::option::of(0u32..100_000),
        trailing_dot in any::<bool>(),
    ) {
        let expected = Slug::parse(&slug).expect("strategy makes valid slugs");
        let mut host = format!("{slug}.{base}");
        if upper {
            host = host.to_ascii_uppercase();
        }
        if trailing_dot {
            host.push('.');
        }
        if let Some(port) = port {
            host.push_str(&format!(":{port}"));
        }
        prop_assert_eq!(
            tenant_from_host(host.as_bytes(), &base),
            Ok(Some(TenantRef::Slug(expected.clone())))
        );
        let header = if upper { slug.to_ascii_uppercase() } else { slug.clone() };
        // A 36-character slug that is also a UUID is read as the UUID, by design.
        if uuid::Uuid::parse_str(&slug).is_err() {
            prop_assert_eq!(
                tenant_from_header(header.as_bytes()),
                Ok(TenantRef::Slug(expected.clone()))
            );
        }
        prop_assert_eq!(expected.as_str(), slug.as_str());
    }

    #[test]
    fn whatever_resolves_is_a_valid_slug_or_a_uuid(raw in "\\PC{0,70}") {
        if let Ok(TenantRef::Slug(slug)) = tenant_from_header(raw.as_bytes()) {
            prop_assert!(Slug::parse(slug.as_str()).is_ok());
            prop_assert_eq!(slug.as_str(), raw.trim().to_ascii_lowercase());
        }
        if let Ok(Some(TenantRef::Slug(slug))) = tenant_from_host(raw.as_bytes(), "localhost") {
            prop_assert!(Slug::parse(slug.as_str()).is_ok());
        }
    }

    #[test]
    fn uuids_in_the_tenant_header_are_ids(bytes in any::<[u8; 16]>(), upper in any::<bool>()) {
        let id = uuid::Uuid::from_bytes(bytes);
        let text = if upper { id.to_string().to_ascii_uppercase() } else { id.to_string() };
        prop_assert_eq!(
            tenant_from_header(text.as_bytes()),
            Ok(TenantRef::Id(tenancy::TenantId::from_uuid(id)))
        );
    }

    #[test]
    fn hosts_outside_the_base_domain_name_no_tenant(
        slug in slug(),
        other in "[a-z]{1,10}\\.(com|org|net)",
    ) {
        prop_assert_eq!(tenant_from_host(format!("{slug}.{other}").as_bytes(), "localhost"), Ok(None));
    }
}
