//! JWT verification: one configured algorithm and key, standard time and issuer/audience
//! checks, and a configurable claim naming the tenant's UUID. Pure computation: a bad token is
//! refused without touching the database. A payload that names a claim twice is refused:
//! readers disagree about which one counts (serde_json keeps the last, others the first), so a
//! token with two `tenant_id`s could name one school to a gateway and another here.

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
        if algorithm != Algorithm::HS256 && config.jwt_audience.is_none() {
            // An identity provider's key signs tokens for every application it serves; only the
            // audience says which ones were meant for this API.
            tracing::warn!(
                algorithm = ?algorithm,
                "WIZREG_JWT_AUDIENCE is not set: any token this identity provider signs for another application, with a {} claim, is accepted here; set it to this API's audience",
                config.jwt_tenant_claim
            );
        }
        Ok(Self {
            key,
            validation,
            tenant_claim: config.jwt_tenant_claim.clone(),
        })
    }

    /// The tenant a valid token names.
    pub fn verify(&self, token: &str) -> Result<TenantId, AuthError> {
        let data = jsonwebtoken::decode::<UniqueClaims>(token, &self.key, &self.validation)
            .map_err(|err| AuthError::Refused(refusal(err.kind()).into()))?;
        let tenant = data
            .claims
            .0
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
        // A header or payload that does not parse: an unknown `alg` (such as `none`) lands
        // here as well as a payload naming a claim twice.
        ErrorKind::Json(_) => {
            "the token is not a well-formed JWT with a supported algorithm and a payload naming each claim once"
        }
        _ => "the token is not a well-formed JWT with a supported algorithm",
    }
}

/// A payload's claims, each key at most once.
struct UniqueClaims(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueClaims {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UniqueClaimsVisitor)
    }
}

struct UniqueClaimsVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueClaimsVisitor {
    type Value = UniqueClaims;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueClaims, A::Error> {
        let mut claims = Map::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            if claims.contains_key(&key) {
                return Err(serde::de::Error::custom("a claim appears twice"));
            }
            claims.insert(key, value);
        }
        Ok(UniqueClaims(claims))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The warnings `from_config` logs for `adjust`ed settings.
    fn warnings_for(adjust: impl FnOnce(&mut Config)) -> String {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            config: Config,
        }
        let mut config = Wrapper::parse_from(["test"]).config;
        adjust(&mut config);
        let logged = Arc::new(Mutex::new(Vec::new()));
        let writer = logged.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Captured(writer.clone()))
            .with_max_level(tracing::Level::WARN)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            JwtVerifier::from_config(&config).expect("valid settings");
        });
        let text = String::from_utf8_lossy(&logged.lock().expect("log")).into_owned();
        text
    }

    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_key_pair_without_an_audience_is_warned_about_at_start() {
        let public_key = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/jwt-rs256-public.pem"
        );
        let rs256 = |c: &mut Config| {
            c.jwt_algorithm = JwtAlgorithm::Rs256;
            c.jwt_public_key_file = Some(public_key.into());
        };
        assert!(warnings_for(rs256).contains("WIZREG_JWT_AUDIENCE is not set"));
        let with_audience = warnings_for(|c| {
            rs256(c);
            c.jwt_audience = Some("wizreg-api".into());
        });
        assert!(
            !with_audience.contains("WIZREG_JWT_AUDIENCE"),
            "{with_audience}"
        );
        // A shared secret is this deployment's own: no other application's tokens carry it.
        let hs256 = warnings_for(|c| {
            c.jwt_secret = Some("a-secret-of-thirty-two-bytes-000".parse().expect("secret"))
        });
        assert!(!hs256.contains("WIZREG_JWT_AUDIENCE"), "{hs256}");
    }

    #[test]
    fn a_repeated_claim_is_refused_and_distinct_ones_are_kept() {
        let repeated = r#"{"tenant_id": "a", "exp": 1, "tenant_id": "b"}"#;
        assert!(serde_json::from_str::<UniqueClaims>(repeated).is_err());
        let fine = serde_json::from_str::<UniqueClaims>(r#"{"tenant_id": "a", "exp": 1}"#);
        assert_eq!(fine.map(|c| c.0.len()).ok(), Some(2));
    }
}
