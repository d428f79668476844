//! Connection pooling with two promises: statements are prepared once per connection, and a
//! connection that is still inside a transaction is never handed to the next request.
//!
//! The second promise has two layers. [`crate::TenantTx`] rolls back before it lets a
//! connection go, even when its future is dropped mid-flight; and [`ConnectionManager::recycle`]
//! is the backstop: a connection whose `in_transaction` flag is still set is thrown away rather
//! than reused.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use futures_util::future::Either;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Row, Statement};

use crate::error::DbError;

/// How statements reach the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StatementMode {
    /// Named statements, prepared once per connection and reused: the fastest.
    #[default]
    Prepared,
    /// Unnamed statements with their parameter types sent along (parse, bind and execute in one
    /// message batch). For transaction poolers such as PgBouncer, where a named statement
    /// prepared on one server connection is missing on the next.
    Unnamed,
}

/// Pool sizing and behaviour.
#[derive(Clone, Copy, Debug)]
pub struct PoolOptions {
    pub max_size: usize,
    /// How long a request may wait for a connection before it is told to retry.
    pub acquire_timeout: Duration,
    pub statement_mode: StatementMode,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 16,
            acquire_timeout: Duration::from_secs(2),
            statement_mode: StatementMode::Prepared,
        }
    }
}

pub type PgPool = managed::Pool<ConnectionManager>;

/// Builds a pool for one role's connection settings.
pub fn build_pool(config: tokio_postgres::Config, options: PoolOptions) -> PgPool {
    let manager = ConnectionManager {
        config,
        statement_mode: options.statement_mode,
    };
    let timeouts = managed::Timeouts {
        wait: Some(options.acquire_timeout),
        create: Some(options.acquire_timeout),
        recycle: Some(options.acquire_timeout),
    };
    managed::Pool::builder(manager)
        .max_size(options.max_size)
        .timeouts(timeouts)
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .expect("a runtime and timeouts are set, which is all build() checks")
}

/// Creates and checks connections for [`PgPool`].
#[derive(Debug)]
pub struct ConnectionManager {
    config: tokio_postgres::Config,
    statement_mode: StatementMode,
}

/// One pooled server connection and its per-connection statement cache.
#[derive(Debug)]
pub struct PgConnection {
    client: Client,
    statement_mode: StatementMode,
    statements: HashMap<&'static str, Statement>,
    /// Set before `BEGIN` is sent, cleared once `COMMIT`/`ROLLBACK` is acknowledged.
    pub(crate) in_transaction: bool,
}

impl managed::Manager for ConnectionManager {
    type Type = PgConnection;
    type Error = DbError;

    async fn create(&self) -> Result<PgConnection, DbError> {
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::warn!(error = %DbError::from(err), "database connection closed");
            }
        });
        Ok(PgConnection {
            client,
            statement_mode: self.statement_mode,
            statements: HashMap::new(),
            in_transaction: false,
        })
    }

    async fn recycle(&self, conn: &mut PgConnection, _: &Metrics) -> RecycleResult<DbError> {
        if conn.client.is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        if conn.in_transaction {
            tracing::error!("a connection came back inside a transaction; discarding it");
            return Err(RecycleError::message(
                "connection returned inside a transaction",
            ));
        }
        Ok(())
    }
}

/// A bound parameter with its declared type (unnamed statements must say their types).
pub(crate) type TypedParam<'a> = (&'a (dyn ToSql + Sync), Type);

impl PgConnection {
    /// Raw access, for pools that serve no tenant data (platform administration). A
    /// [`crate::Tenancy`] never hands out its connections, so tenant code cannot get here.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Prepares `sql` once for this connection (a no-op in [`StatementMode::Unnamed`]).
    pub(crate) async fn prepare(
        &mut self,
        sql: &'static str,
        types: &[Type],
    ) -> Result<(), DbError> {
        if self.statement_mode == StatementMode::Prepared && !self.statements.contains_key(sql) {
            let statement = self.client.prepare_typed(sql, types).await?;
            self.statements.insert(sql, statement);
        }
        Ok(())
    }

    /// Sends `sql` with `params`. The request leaves on the future's first poll, so several of
    /// these polled in order form one pipelined round trip.
    pub(crate) fn query<'a>(
        &'a self,
        sql: &'static str,
        params: &'a [TypedParam<'a>],
        untyped: &'a [&'a (dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + 'a {
        match self.statements.get(sql) {
            Some(statement) => Either::Left(self.client.query(statement, untyped)),
            None => Either::Right(self.client.query_typed(sql, params)),
        }
    }
}
