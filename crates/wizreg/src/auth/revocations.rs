//! Hearing about API key revocations made by other processes.
//!
//! A revocation commits with `pg_notify('wizreg_api_key', '<tenant> <key id>')`; one
//! connection per process `LISTEN`s on that channel and drops the key from the verification
//! cache. While the listener is disconnected, notices may be lost: on every (re)connect it
//! clears the whole cache, and the cache's short time-to-live bounds the rest.

use std::time::Duration;

use futures_util::{stream, StreamExt};
use tenancy::TenantId;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_postgres::{AsyncMessage, Config as PgConfig, NoTls};
use uuid::Uuid;

use super::api_keys::ApiKeys;
use super::key_store::REVOCATION_CHANNEL;

/// Listens until aborted, reconnecting with a capped backoff.
pub fn spawn_listener(config: PgConfig, keys: ApiKeys) -> AbortHandle {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match listen(&config, &keys).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(err) => tracing::warn!(
                    error = %tenancy::DbError::from(err),
                    "API key revocation listener disconnected; retrying"
                ),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    })
    .abort_handle()
}

/// One connection's worth of listening; returns when the connection ends.
async fn listen(config: &PgConfig, keys: &ApiKeys) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (notices, mut received) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(notice) = message {
                if notices.send(notice.payload().to_owned()).is_err() {
                    break;
                }
            }
        }
    });
    client
        .batch_execute(&format!("listen {REVOCATION_CHANNEL}"))
        .await?;
    // Anything revoked while nobody listened must not stay cached.
    keys.forget_all();
    while let Some(payload) = received.recv().await {
        match parse_notice(&payload) {
            Some((tenant, id)) => keys.forget(tenant, id).await,
            None => keys.forget_all(),
        }
    }
    driver.abort();
    Ok(())
}

fn parse_notice(payload: &str) -> Option<(TenantId, Uuid)> {
    let (tenant, id) = payload.split_once(' ')?;
    Some((
        TenantId::from_uuid(Uuid::try_parse(tenant).ok()?),
        Uuid::try_parse(id).ok()?,
    ))
}
