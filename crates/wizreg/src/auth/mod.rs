//! Tenant-bound credentials. [`Authenticator`] turns an `Authorization: Bearer …` header into
//! the tenant it proves (API key or JWT, as `WIZREG_AUTH` allows), or a 401. It decides
//! nothing else: binding the credential's tenant to `X-Tenant`/Host is the `Tenant`
//! extractor's job (`http/tenant.rs`).

pub mod api_keys;
pub mod jwt;
pub mod key_store;
pub mod revocations;

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap};
use tenancy::{DbError, Tenancy, TenantId};
use tokio::task::AbortHandle;

use self::api_keys::ApiKeys;
use self::jwt::JwtVerifier;
use crate::config::{AuthMode, Config, Secret};
use crate::database::{Database, Role};
use crate::error::StartupError;

/// Why a credential was not accepted.
#[derive(Debug)]
pub enum AuthError {
    /// The caller's fault: `401 unauthorized` with this message.
    Refused(Cow<'static, str>),
    /// The key store could not be reached: `503`, never a 401 that would blame the caller.
    Unavailable(DbError),
    /// Too many unverified credentials are being looked up at once: `503` without any
    /// database work (see [`api_keys::LookupLimit`]).
    Busy,
}

/// The credential checks this deployment runs.
#[derive(Clone, Debug)]
pub struct Authenticator {
    mode: AuthMode,
    /// Present whenever a key secret is known, so keys can be issued even before they are
    /// accepted (`WIZREG_AUTH=open` while preparing a switch to `api-key`).
    api_keys: Option<ApiKeys>,
    jwt: Option<Arc<JwtVerifier>>,
    listener: Option<AbortHandle>,
}

impl Authenticator {
    /// Builds the checks `config.auth` asks for; starts listening for key revocations when
    /// API keys are accepted.
    pub fn from_config(
        config: &Config,
        database: &Database,
        tenancy: &Tenancy,
    ) -> Result<Self, StartupError> {
        let secret = key_secret(config, database)?;
        if config.auth.accepts_api_keys() && secret.is_none() {
            return Err(StartupError::Config(
                "WIZREG_AUTH with api-key needs WIZREG_KEY_SECRET (a long random string, the same on every server)".into(),
            ));
        }
        let api_keys = secret.map(|secret| {
            let ttl = Duration::from_secs(config.api_key_cache_ttl_secs);
            ApiKeys::new(secret, tenancy.clone(), ttl).with_lookup_limit(
                config
                    .unauthenticated_db_concurrency
                    .unwrap_or(config.pool_size / 4)
                    .max(1),
            )
        });
        let listener = match &api_keys {
            Some(keys) if config.auth.accepts_api_keys() => Some(revocations::spawn_listener(
                database.config(Role::App),
                database.tls(Role::App),
                keys.clone(),
            )),
            _ => None,
        };
        let jwt = if config.auth.accepts_jwts() {
            Some(Arc::new(
                JwtVerifier::from_config(config).map_err(StartupError::Config)?,
            ))
        } else {
            None
        };
        Ok(Self {
            mode: config.auth,
            api_keys,
            jwt,
            listener,
        })
    }

    /// Whether requests must carry a credential (every mode but `open`).
    pub fn needs_credential(&self) -> bool {
        self.mode != AuthMode::Open
    }

    /// Key management, when a key secret is configured.
    pub fn api_keys(&self) -> Option<&ApiKeys> {
        self.api_keys.as_ref()
    }

    /// The tenant the request's credential proves. `None` in `open` mode, which takes no
    /// credential (any `Authorization` header is then ignored).
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<TenantId>, AuthError> {
        if self.mode == AuthMode::Open {
            return Ok(None);
        }
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(AuthError::Refused(
                "this server needs a credential: Authorization: Bearer <API key or JWT>".into(),
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().split_once(' '))
            // The scheme name is case-insensitive (RFC 9110).
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or(AuthError::Refused(
                "the Authorization header must be 'Bearer <credential>'".into(),
            ))?;
        let is_api_key = token.starts_with(api_keys::PREFIX);
        match (is_api_key, &self.api_keys, &self.jwt) {
            // Boxed: the key lookup's future is large (~15 KB) and would otherwise be part of
            // every request's future, copied each time it moves, in every mode.
            (true, Some(keys), _) if self.mode.accepts_api_keys() => {
                Box::pin(keys.verify(token)).await.map(Some)
            }
            (false, _, Some(jwt)) => jwt.verify(token).map(Some),
            (true, _, _) => Err(AuthError::Refused(
                "this server does not accept API keys; send a JWT".into(),
            )),
            (false, _, None) => Err(AuthError::Refused(
                "this server accepts API keys (wzk_…) only".into(),
            )),
        }
    }

    /// Stops listening for revocations (at shutdown).
    pub fn close(&self) {
        if let Some(listener) = &self.listener {
            listener.abort();
        }
    }
}

/// The server secret API keys are hashed with: configured, or (embedded mode only) generated
/// once and kept in the data directory with mode 0600, so keys survive restarts.
pub fn key_secret(config: &Config, database: &Database) -> Result<Option<Secret>, StartupError> {
    if let Some(secret) = &config.key_secret {
        return Ok(Some(secret.clone()));
    }
    if !database.is_embedded() {
        return Ok(None);
    }
    load_or_create_secret(&config.data_dir.join("key-secret"))
        .map(Some)
        .map_err(|e| StartupError::Config(format!("key secret file: {e}")))
}

fn load_or_create_secret(path: &Path) -> std::io::Result<Secret> {
    // 32 characters: a key secret is hex of 256 bits; anything shorter was not made by us.
    Secret::load_or_create(path, "", 32).map(|(secret, _)| secret)
}

#[cfg(test)]
mod tests {
    use clap::{Parser, ValueEnum};

    use super::*;
    use crate::config::{JwtAlgorithm, ServeArgs};

    #[test]
    fn every_auth_mode_of_the_contract_parses() {
        for (text, mode) in [
            ("open", AuthMode::Open),
            ("api-key", AuthMode::ApiKey),
            ("jwt", AuthMode::Jwt),
            ("api-key,jwt", AuthMode::ApiKeyOrJwt),
            ("jwt,api-key", AuthMode::ApiKeyOrJwt),
        ] {
            assert_eq!(AuthMode::from_str(text, false), Ok(mode), "{text}");
        }
        assert!(AuthMode::from_str("api-key,open", false).is_err());
        for (text, algorithm) in [
            ("HS256", JwtAlgorithm::Hs256),
            ("rs256", JwtAlgorithm::Rs256),
            ("ES256", JwtAlgorithm::Es256),
        ] {
            assert_eq!(JwtAlgorithm::from_str(text, true), Ok(algorithm), "{text}");
        }
        assert!(JwtAlgorithm::from_str("none", true).is_err());
        assert!(AuthMode::ApiKeyOrJwt.accepts_api_keys() && AuthMode::ApiKeyOrJwt.accepts_jwts());
        assert!(!AuthMode::Open.accepts_api_keys() && !AuthMode::Open.accepts_jwts());
    }

    #[test]
    fn open_mode_is_refused_on_a_public_bind_and_credential_modes_are_not() {
        #[derive(Parser)]
        struct Both {
            #[command(flatten)]
            config: Config,
            #[command(flatten)]
            serve: ServeArgs,
        }
        let parse = |auth: &str| {
            Both::try_parse_from(["wizreg", "--auth", auth, "--bind", "0.0.0.0:3000"])
                .expect("valid flags")
        };
        let open = parse("open");
        assert!(open.config.validate_for_serve(&open.serve).is_err());
        for auth in ["api-key", "jwt", "api-key,jwt"] {
            let both = parse(auth);
            assert_eq!(
                both.config.validate_for_serve(&both.serve),
                Ok(()),
                "{auth}"
            );
        }
    }

    #[test]
    fn a_generated_key_secret_is_private_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("key-secret");
        let first = load_or_create_secret(&path).expect("created");
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create_secret(&path).expect("read back");
        assert_eq!(first.expose(), again.expose());
        assert_eq!(first.expose().len(), 64);
    }
}
