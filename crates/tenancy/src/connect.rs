//! Opening one connection the way libpq does, with any `tokio-postgres` TLS connector: for the
//! pool, and for callers that hold a session of their own (migrations, a `LISTEN` session).

use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Config, Connection, Error, Socket};

/// Connects with `tls`. In `prefer` mode a connection whose TLS attempt failed (a handshake the
/// connector gave up on, or a server with no `pg_hba.conf` line for TLS) is tried once more in
/// plain text, as libpq does; every other mode is left exactly as asked.
pub async fn connect<T>(
    config: &Config,
    tls: T,
) -> Result<(Client, Connection<Socket, T::Stream>), Error>
where
    T: MakeTlsConnect<Socket> + Clone,
{
    match config.connect(tls.clone()).await {
        Err(err) if config.get_ssl_mode() == SslMode::Prefer && tls_refused(&err) => {
            let mut plain = config.clone();
            plain.ssl_mode(SslMode::Disable);
            plain.connect(tls).await
        }
        connected => connected,
    }
}

fn tls_refused(err: &Error) -> bool {
    #[cfg(feature = "rustls")]
    if crate::tls::is_handshake_failure(err) {
        return true;
    }
    err.code() == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
}
