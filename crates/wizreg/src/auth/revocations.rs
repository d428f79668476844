//! Hearing about API key revocations made by other processes.
//!
//! A revocation commits with `pg_notify('wizreg_api_key', '<tenant> <key id>')`;
//! [`crate::notifications`] follows that channel and the key is dropped from the verification
//! cache. On every (re)connect the whole cache is cleared, as notices may have been missed,
//! and the cache's short time-to-live bounds the rest.

use tenancy::tls::PgTls;
use tenancy::TenantId;
use tokio::task::AbortHandle;
use tokio_postgres::Config as PgConfig;
use uuid::Uuid;

use super::api_keys::ApiKeys;
use super::key_store::REVOCATION_CHANNEL;
use crate::notifications::{follow, Follower};

/// `application_name` of the listening session.
const APPLICATION_NAME: &str = "wizreg-key-revocations";

/// Listens until aborted, reconnecting with a capped backoff.
pub fn spawn_listener(config: PgConfig, tls: PgTls, keys: ApiKeys) -> AbortHandle {
    follow(
        (config, tls),
        REVOCATION_CHANNEL,
        APPLICATION_NAME,
        keys,
        || false,
    )
    .abort_handle()
}

impl Follower for ApiKeys {
    fn resync(&self) {
        self.forget_all();
    }

    async fn notified(&self, payload: &str) {
        match parse_notice(payload) {
            Some((tenant, id)) => self.forget(tenant, id).await,
            None => self.forget_all(),
        }
    }
}

fn parse_notice(payload: &str) -> Option<(TenantId, Uuid)> {
    let (tenant, id) = payload.split_once(' ')?;
    Some((
        TenantId::from_uuid(Uuid::try_parse(tenant).ok()?),
        Uuid::try_parse(id).ok()?,
    ))
}
