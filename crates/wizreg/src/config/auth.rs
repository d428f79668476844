//! How requests authenticate: the accepted credential kinds and JWT signature algorithms.

use clap::ValueEnum;

/// How tenant-scoped requests prove who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// No credential: the tenant comes from `X-Tenant` or the Host subdomain. Loopback only.
    Open,
    /// `Authorization: Bearer wzk_…`: an API key, which decides the tenant.
    #[value(name = "api-key")]
    ApiKey,
    /// `Authorization: Bearer <JWT>` whose tenant claim decides the tenant.
    Jwt,
    /// Either an API key or a JWT.
    #[value(name = "api-key,jwt", alias = "jwt,api-key")]
    ApiKeyOrJwt,
}

impl AuthMode {
    pub fn accepts_api_keys(self) -> bool {
        matches!(self, Self::ApiKey | Self::ApiKeyOrJwt)
    }
    pub fn accepts_jwts(self) -> bool {
        matches!(self, Self::Jwt | Self::ApiKeyOrJwt)
    }
}

/// Signature algorithms accepted for JWTs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with the shared secret `WIZREG_JWT_SECRET`.
    Hs256,
    /// RSA PKCS#1 v1.5 with SHA-256, verified with `WIZREG_JWT_PUBLIC_KEY_FILE`.
    Rs256,
    /// ECDSA P-256 with SHA-256, verified with `WIZREG_JWT_PUBLIC_KEY_FILE`.
    Es256,
}
