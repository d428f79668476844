//! JWT verification: one configured algorithm and key, standard time and issuer/audience
//! checks, and a configurable claim naming the tenant's UUID. Pure computation: a bad token is
//! refused without touching the database.

use std::borrow::Cow;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tenancy::TenantId;
use uuid::Uuid;

use super::AuthError;
use crate::config::{Config, JwtAlgorithm};

/// Checks tokens against the deployment's JWT settings.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
    tenant_claim: String,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.validation.algorithms)
            .field("tenant_claim", &self.tenant_claim)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// Reads the key and checks that the settings fit together; the error says what to set.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let (algorithm, key) = match (
            config.jwt_algorithm,
            &config.jwt_secret,
            &config.jwt_public_key_file,
        ) {
            (JwtAlgorithm::Hs256, Some(secret), None) => (
                Algorithm::HS256,
                DecodingKey::from_secret(secret.expose().as_bytes()),
            ),
            (JwtAlgorithm::Hs256, _, _) => {
                return Err("WIZREG_JWT_ALGORITHM=HS256 needs WIZREG_JWT_SECRET and no WIZREG_JWT_PUBLIC_KEY_FILE (for a public key, set WIZREG_JWT_ALGORITHM=RS256 or ES256)".into())
            }
            (algorithm, None, Some(path)) => {
                let pem = std::fs::read(path).map_err(|e| {
                    format!("cannot read WIZREG_JWT_PUBLIC_KEY_FILE {}: {e}", path.display())
                })?;
                let parsed = if algorithm == JwtAlgorithm::Rs256 {
                    DecodingKey::from_rsa_pem(&pem).map(|k| (Algorithm::RS256, k))
                } else {
                    DecodingKey::from_ec_pem(&pem).map(|k| (Algorithm::ES256, k))
                };
                parsed.map_err(|_| {
                    format!(
                        "WIZREG_JWT_PUBLIC_KEY_FILE {} is not a PEM public key for {algorithm:?}",
                        path.display()
                    )
                })?
            }
            (_, _, _) => {
                return Err("WIZREG_JWT_ALGORITHM=RS256 or ES256 needs WIZREG_JWT_PUBLIC_KEY_FILE and no WIZREG_JWT_SECRET".into())
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = config.jwt_leeway_secs;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        if let Some(issuer) = &config.jwt_issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &config.jwt_audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            // Without a configured audience, a token's `aud` cannot be checked against anything.
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Ok(Self {
            key,
            validation,
            tenant_claim: config.jwt_tenant_claim.clone(),
        })
    }

    /// The tenant a valid token names.
    pub fn verify(&self, token: &str) -> Result<TenantId, AuthError> {
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map_err(|err| AuthError::Refused(refusal(err.kind()).into()))?;
        let tenant = data
            .claims
            .get(&self.tenant_claim)
            .and_then(Value::as_str)
            .and_then(|raw| Uuid::try_parse(raw).ok())
            .ok_or_else(|| {
                AuthError::Refused(Cow::Owned(format!(
                    "the token's {} claim must be the tenant's UUID",
                    self.tenant_claim
                )))
            })?;
        Ok(TenantId::from_uuid(tenant))
    }
}

/// One sentence for the caller; never the token or the key.
fn refusal(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf is in the future)",
        ErrorKind::InvalidSignature => "the token's signature is not valid",
        ErrorKind::InvalidAlgorithm => {
            "the token is signed with an algorithm this server does not accept"
        }
        ErrorKind::InvalidIssuer => "the token's issuer (iss) is not accepted",
        ErrorKind::InvalidAudience => "the token's audience (aud) is not accepted",
        ErrorKind::MissingRequiredClaim(_) => {
            "the token lacks a required claim (exp, and iss/aud when configured)"
        }
        ErrorKind::InvalidClaimFormat(_) => "a claim of the token has the wrong type",
        _ => "the token is not a well-formed JWT with a supported algorithm",
    }
}
