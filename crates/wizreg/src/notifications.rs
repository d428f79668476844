//! Following a PostgreSQL notification channel: one dedicated session per process `LISTEN`s,
//! so changes committed by any process (or the CLI) reach this process's caches at once.
//!
//! The session reconnects with capped exponential backoff. Notifications sent while no
//! session listens are lost, so the [`Follower`] is told to resynchronise (forget all it
//! caches) when listening starts and whenever the session ends; its own TTL is the backstop
//! for the moments in between.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use tenancy::tls::PgTls;
use tokio_postgres::AsyncMessage;

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// A cache kept true by a channel's notifications.
pub trait Follower: Send + Sync + 'static {
    /// Notifications may have been missed: forget whatever they could have changed.
    fn resync(&self);
    /// One notification, by its payload.
    fn notified(&self, payload: &str) -> impl Future<Output = ()> + Send;
}

/// Follows `channel` in the background as `application_name` (so operators can tell the
/// session apart), connecting with the settings and TLS connector given, until the task is aborted or `stopped()` says so after a session ends.
pub fn follow<F: Follower>(
    (mut config, tls): (tokio_postgres::Config, PgTls),
    channel: &'static str,
    application_name: &'static str,
    follower: F,
    stopped: impl Fn() -> bool + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    config.application_name(application_name);
    config.keepalives_idle(Duration::from_secs(30));
    tokio::spawn(async move {
        let mut retry = FIRST_RETRY;
        loop {
            let outcome = listen(&config, &tls, channel, &follower, &mut retry).await;
            follower.resync();
            if stopped() {
                return;
            }
            match outcome {
                Ok(()) => tracing::warn!(
                    channel,
                    "notification listener lost its session; reconnecting"
                ),
                Err(err) => tracing::warn!(
                    channel,
                    error = %tenancy::DbError::from(err),
                    retry_ms = retry.as_millis() as u64,
                    "notification listener cannot listen; retrying"
                ),
            }
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(LAST_RETRY);
        }
    })
}

/// One session: connects, listens and hands every notification to `follower`, until the
/// session ends. `retry` is reset once the session listens.
async fn listen<F: Follower>(
    config: &tokio_postgres::Config,
    tls: &PgTls,
    channel: &str,
    follower: &F,
    retry: &mut Duration,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = tenancy::connect(config, tls.clone()).await?;
    // The connection must be polled for the LISTEN reply and for notifications alike.
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let statement = format!("LISTEN {channel}");
    let listen = client.batch_execute(&statement);
    tokio::pin!(listen);
    let mut listening = false;
    loop {
        tokio::select! {
            result = &mut listen, if !listening => {
                result?;
                listening = true;
                *retry = FIRST_RETRY;
                // Changes made before LISTEN took effect may already be cached.
                follower.resync();
                tracing::debug!(channel, "listening");
            }
            message = messages.next() => match message {
                Some(Ok(AsyncMessage::Notification(note))) => follower.notified(note.payload()).await,
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err),
                None => return Ok(()),
            },
        }
    }
}
