//! Errors that stop a command before it serves anything: each says what to do next.

use tenancy::embedded::EmbeddedError;
use tenancy::DbError;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The server's own message is kept for the operator's terminal only (never a response).
    #[error("database step '{step}' failed: {detail}")]
    Database { step: &'static str, detail: String },
    #[error("{0}")]
    Unsafe(String),
    /// A command could not do what was asked; the message says why and what to do.
    #[error("{0}")]
    Failed(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

impl StartupError {
    pub fn database(step: &'static str, err: tokio_postgres::Error) -> Self {
        let detail = DbError::from(err)
            .server_detail()
            .unwrap_or_else(|| "connection failed".into());
        Self::Database { step, detail }
    }
}
