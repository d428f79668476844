//! The console's settings: the key that encrypts and signs its cookies, how long a session
//! lasts, and whether cookies are marked `Secure` without the request saying it came over HTTPS.

use std::sync::Arc;
use std::time::Duration;

use cookie::Key;

use super::admin::jobs::Jobs;
use crate::config::{Config, Secret};
use crate::database::Database;
use crate::error::StartupError;

/// The default session lifetime: a working morning, not a week.
pub const DEFAULT_SESSION_TTL_SECS: u64 = 3600;

#[derive(Clone)]
pub struct ConsoleSettings {
    /// Encrypts (AES-256-GCM) the session cookies and keys the CSRF tokens.
    pub(crate) key: Key,
    pub(crate) session_ttl: Duration,
    /// `Secure` on every cookie, even when the request does not show it came over HTTPS
    /// (behind a TLS-terminating proxy that sends no `X-Forwarded-Proto`).
    pub(crate) always_secure: bool,
    /// Long-running operator actions (deleting a big school) and their progress.
    pub(crate) jobs: Arc<Jobs>,
}

impl std::fmt::Debug for ConsoleSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSettings")
            .field("session_ttl", &self.session_ttl)
            .field("always_secure", &self.always_secure)
            .finish_non_exhaustive()
    }
}

impl ConsoleSettings {
    /// A key of this process only: sessions end when it stops, and another server does not
    /// accept them. Right for tests and a single dev server; [`Self::from_config`] otherwise.
    pub fn ephemeral() -> Self {
        Self::with_key(
            Key::generate(),
            Duration::from_secs(DEFAULT_SESSION_TTL_SECS),
            false,
        )
    }

    fn with_key(key: Key, session_ttl: Duration, always_secure: bool) -> Self {
        Self {
            key,
            session_ttl,
            always_secure,
            jobs: Arc::new(Jobs::default()),
        }
    }

    /// `WIZREG_CONSOLE_SESSION_KEY` (the same on every server behind one name), else in
    /// embedded mode a key generated once and kept in the data directory (`console-key`,
    /// mode 0600), else a key of this process with a warning.
    pub fn from_config(config: &Config, database: &Database) -> Result<Self, StartupError> {
        let ttl = Duration::from_secs(config.console_session_ttl_secs);
        let secure = config.console_secure_cookies;
        let secret = match &config.console_session_key {
            // HKDF needs at least 256 bits of input to make a key worth its name.
            Some(secret) if secret.expose().len() < 32 => {
                return Err(StartupError::Config(
                    "WIZREG_CONSOLE_SESSION_KEY must be at least 32 characters (a long random string, the same on every server)".into(),
                ))
            }
            Some(secret) => secret.clone(),
            None if database.is_embedded() => {
                let path = config.data_dir.join("console-key");
                Secret::load_or_create(&path, "", 64)
                    .map_err(|e| StartupError::Config(format!("console key file: {e}")))?
                    .0
            }
            None => {
                tracing::warn!(
                    "WIZREG_CONSOLE_SESSION_KEY is not set: console sessions last only as long as this process and are not accepted by other servers"
                );
                return Ok(Self::with_key(Key::generate(), ttl, secure));
            }
        };
        Ok(Self::with_key(derive_key(&secret), ttl, secure))
    }
}

/// Any secret of at least 32 bytes becomes the 512-bit cookie key through HKDF.
fn derive_key(secret: &Secret) -> Key {
    Key::derive_from(secret.expose().as_bytes())
}
