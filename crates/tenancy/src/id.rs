//! Tenant identities: the UUID that the database trusts, the slug that people type, and the
//! reference a request carries before it is resolved to an id.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// The identity of a tenant: the only value that ever reaches `enter_tenant`.
///
/// ```
/// use tenancy::TenantId;
///
/// let id = TenantId::new_v7();
/// assert_eq!(TenantId::from_uuid(id.as_uuid()), id);
/// assert_eq!(id.to_string().len(), 36);
/// ```
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct TenantId(Uuid);

impl TenantId {
    /// A new id, time-ordered (UUIDv7), for a tenant being created.
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }
    /// The id a tenant already has, such as one read from the tenant directory.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
    /// The UUID, to bind as a query parameter.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A tenant's human name in URLs and hostnames: one DNS label, lower case.
///
/// ```
/// use tenancy::Slug;
///
/// let slug = Slug::parse("Acme-Corp")?;
/// assert_eq!(slug.as_str(), "acme-corp");
/// assert!(Slug::parse("-acme").is_err());
/// assert!(Slug::parse("acme.corp").is_err());
/// # Ok::<(), tenancy::SlugError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Slug(String);

/// The text is not a slug: 1 to 63 of `a-z`, `0-9` and `-`, not starting or ending with `-`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a slug is 1 to 63 characters of a-z, 0-9 and '-', not starting or ending with '-', and not shaped like a UUID")]
pub struct SlugError;

impl Slug {
    /// Parses a slug, folding ASCII upper case to lower case (hostnames are case-insensitive).
    pub fn parse(raw: &str) -> Result<Self, SlugError> {
        let folded = raw.to_ascii_lowercase();
        let bytes = folded.as_bytes();
        let valid_len = (1..=63).contains(&bytes.len());
        let valid_chars = bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        let valid_ends = bytes.first() != Some(&b'-') && bytes.last() != Some(&b'-');
        // A hyphenated UUID is read as an id wherever a reference may be either
        // (`TenantRef`), so such a slug would name one tenant there and another by slug.
        let uuid_shaped = bytes.len() == 36 && Uuid::try_parse(&folded).is_ok();
        if valid_len && valid_chars && valid_ends && !uuid_shaped {
            Ok(Self(folded))
        } else {
            Err(SlugError)
        }
    }
    /// The slug's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Slug {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Slug::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// How a request names its tenant before it is looked up: by id or by slug. Only an id can
/// enter a tenant, so a slug must be resolved (by the service's own directory) first.
///
/// ```
/// use tenancy::TenantRef;
///
/// let by_id: TenantRef = "0190f0e6-8d8e-7b4c-9d0e-0a1b2c3d4e5f".parse()?;
/// assert!(matches!(by_id, TenantRef::Id(_)));
/// let by_slug: TenantRef = "acme".parse()?;
/// assert!(matches!(by_slug, TenantRef::Slug(_)));
/// # Ok::<(), tenancy::SlugError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TenantRef {
    /// A hyphenated UUID.
    Id(TenantId),
    /// Anything else that is a valid slug.
    Slug(Slug),
}

impl FromStr for TenantRef {
    type Err = SlugError;

    /// A hyphenated UUID (any case), else a slug.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        // Only the hyphenated 36-character form counts as an id: a 32-hex-digit string is also a
        // valid slug, and must keep meaning the slug.
        if raw.len() == 36 {
            if let Ok(id) = Uuid::parse_str(raw) {
                return Ok(Self::Id(TenantId(id)));
            }
        }
        Slug::parse(raw).map(Self::Slug)
    }
}

impl fmt::Display for TenantRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => id.fmt(f),
            Self::Slug(slug) => slug.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_dns_label_rule() {
        assert_eq!(Slug::parse("Acme").map(|s| s.0), Ok("acme".into()));
        assert!(Slug::parse("a").is_ok());
        assert!(Slug::parse(&"a".repeat(63)).is_ok());
        // Only the hyphenated form is read as an id; these stay slugs.
        assert!(Slug::parse("0190f0e68d8e7b4c9d0e0a1b2c3d4e5f").is_ok());
        assert!(Slug::parse("0190f0e6-8d8e-7b4c-9d0e-0a1b2c3d4e5").is_ok());
        for bad in [
            "",
            "-a",
            "a-",
            "a_b",
            "a.b",
            "é",
            &"a".repeat(64),
            "a b",
            "a;b",
            "0190f0e6-8d8e-7b4c-9d0e-0a1b2c3d4e5f",
            "0190F0E6-8D8E-7B4C-9D0E-0A1B2C3D4E5F",
            "00000000-0000-0000-0000-000000000000",
        ] {
            assert_eq!(Slug::parse(bad), Err(SlugError), "{bad:?}");
        }
    }

    #[test]
    fn a_reference_is_a_uuid_or_else_a_slug() {
        let id = "0190f0e6-8d8e-7b4c-9d0e-0a1b2c3d4e5f";
        assert!(matches!(id.parse::<TenantRef>(), Ok(TenantRef::Id(_))));
        assert!(matches!(
            "0190f0e68d8e7b4c9d0e0a1b2c3d4e5f".parse::<TenantRef>(),
            Ok(TenantRef::Slug(_))
        ));
        assert!("hog warts".parse::<TenantRef>().is_err());
    }
}
