//! Cross-process tenant cache invalidation: every `wizreg serve` sharing a database hears about
//! tenant changes (suspend, resume, rename, create, delete) made by any of them, or by the CLI,
//! and drops its cached tenant records at once.
//!
//! A trigger on `wizreg.tenant` (migration 0002) sends `NOTIFY wizreg_tenant, '<tenant id>'`
//! on commit. Each process keeps one dedicated session (`LISTEN` needs no privilege, so it
//! connects as the runtime role) and makes the [`Registry`] forget that tenant on every
//! notification. If that
//! session drops, the process reconnects with exponential backoff and clears the registry once
//! the new session listens, because notifications sent while it was away are lost. The
//! registry's TTL stays as the backstop for the moments in between (and for a network that
//! dies silently until TCP keepalive notices).
//!
//! The payload is the tenant's id; [`Registry::forget`] drops that tenant's entries (by id and
//! by slug) and every cached "no such tenant" (which may be the school just created), so the
//! other schools stay cached: creating one school among 10,000 costs no burst of lookups.

use std::time::Duration;

use futures_util::StreamExt;
use tenancy::Tenancy;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::registry::Registry;

macro_rules! channel {
    () => {
        "wizreg_tenant"
    };
}
/// The channel the migration's trigger notifies.
pub const CHANNEL: &str = channel!();
const LISTEN: &str = concat!("LISTEN ", channel!());
/// `application_name` of the listening session, so operators can tell it apart.
pub const APPLICATION_NAME: &str = "wizreg-listener";

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(10);

/// Starts following tenant changes in the background. The task ends once `tenancy` is closed
/// (at shutdown) and its session has ended.
pub fn spawn_listener(
    mut config: tokio_postgres::Config,
    registry: Registry,
    tenancy: Tenancy,
) -> tokio::task::JoinHandle<()> {
    config.application_name(APPLICATION_NAME);
    config.keepalives_idle(Duration::from_secs(30));
    tokio::spawn(async move {
        let mut retry = FIRST_RETRY;
        loop {
            let outcome = listen(&config, &registry, &mut retry).await;
            // Whatever happened while the session was down went unheard.
            registry.invalidate_all();
            if tenancy.is_closed() {
                return;
            }
            match outcome {
                Ok(()) => tracing::warn!("tenant change listener lost its session; reconnecting"),
                Err(err) => tracing::warn!(
                    error = %tenancy::DbError::from(err),
                    retry_ms = retry.as_millis() as u64,
                    "tenant change listener cannot listen; retrying"
                ),
            }
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(LAST_RETRY);
        }
    })
}

/// One session: connects, listens and clears the registry on every notification, until the
/// session ends. `retry` is reset once the session listens.
async fn listen(
    config: &tokio_postgres::Config,
    registry: &Registry,
    retry: &mut Duration,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    // The connection must be polled for the LISTEN reply and for notifications alike.
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let listen = client.batch_execute(LISTEN);
    tokio::pin!(listen);
    let mut listening = false;
    loop {
        tokio::select! {
            result = &mut listen, if !listening => {
                result?;
                listening = true;
                *retry = FIRST_RETRY;
                // Changes made before LISTEN took effect may already be cached.
                registry.invalidate_all();
                tracing::debug!("listening for tenant changes");
            }
            message = messages.next() => match message {
                Some(Ok(AsyncMessage::Notification(note))) => {
                    tracing::debug!(tenant = note.payload(), "tenant changed; forgotten");
                    match note.payload().parse() {
                        Ok(id) => registry.forget(tenancy::TenantId::from_uuid(id)),
                        Err(_) => registry.invalidate_all(),
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err),
                None => return Ok(()),
            },
        }
    }
}
