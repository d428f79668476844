//! Connection pooling with two promises: statements are prepared once per connection, and a
//! connection that is still inside a transaction is never handed to the next request.
//!
//! The second promise has two layers. [`crate::TenantTx`] rolls back before it lets a
//! connection go, even when its future is dropped mid-flight; and `ConnectionManager::recycle`
//! is the backstop: a connection whose `in_transaction` flag is still set is thrown away rather
//! than reused. With [`PoolOptions::verify_on_checkout`], every new or reused connection is
//! also checked by the server itself: idle, no tenant set, no advisory lock ([`CheckoutStats`]).
//!
//! A connection the server closed (a restart, a network cut) is never reused: recycling checks
//! `is_closed`. New connections are made on demand, with a short backoff after a failed attempt
//! (`backoff.rs`), so the pool reconnects by itself once the database is back.
//!
//! The pool takes its TLS connector as a parameter, like `tokio_postgres::connect`: `NoTls`,
//! [`crate::tls::PgTls`] or any other `MakeTlsConnect`. It is erased behind [`Opener`] so the
//! pool type (and everything holding one) stays the same whatever the connector.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use futures_util::future::Either;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row, SimpleQueryMessage, Socket};

use crate::backoff::ConnectBackoff;
use crate::error::DbError;
use crate::statement_cache::{StatementCache, StatementText};

/// How statements reach the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
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
    /// The most connections the pool holds.
    pub max_size: usize,
    /// How long a request may wait for a connection before it is told to retry.
    pub acquire_timeout: Duration,
    /// Prepared (named) statements, or unnamed ones for a transaction pooler.
    pub statement_mode: StatementMode,
    /// The tenant setting's name, to have the server confirm for every new connection and at
    /// every reuse that no transaction is open, the setting is unset and no advisory lock is
    /// held. Costs one round trip per checkout: for tests and diagnostics. A failing connection
    /// is counted and discarded.
    pub verify_on_checkout: Option<&'static str>,
}

/// What checkout verification saw, for tests and metrics.
#[derive(Debug, Default)]
pub struct CheckoutStats {
    /// Connections the server was asked about (each new one, and each reuse).
    pub verified: AtomicU64,
    /// Of those, how many were inside a transaction or had a tenant set (expected: none).
    pub violations: AtomicU64,
    /// Connections discarded before any check because they came back flagged mid-transaction.
    pub discarded_in_transaction: AtomicU64,
    /// Tenant transactions dropped while open (a cancelled request), rolled back before reuse.
    pub rolled_back_on_drop: AtomicU64,
    /// Tenant transactions dropped after their `COMMIT` was queued: nothing more is sent.
    pub dropped_after_commit: AtomicU64,
    /// Requests that got no connection within the acquire timeout.
    pub acquire_timeouts: AtomicU64,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 16,
            acquire_timeout: Duration::from_secs(2),
            statement_mode: StatementMode::Prepared,
            verify_on_checkout: None,
        }
    }
}

/// A pool of connections for one role (the runtime role, for a [`crate::Tenancy`]).
pub type PgPool = managed::Pool<ConnectionManager>;

/// Builds a pool for one role's connection settings, connecting with `tls` (as
/// `config.connect(tls)` would, plus libpq's plain-text retry in `prefer` mode).
pub fn build_pool<T>(config: tokio_postgres::Config, tls: T, options: PoolOptions) -> PgPool
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let manager = ConnectionManager {
        config,
        opener: Box::new(WithTls(tls)),
        statement_mode: options.statement_mode,
        verify_on_checkout: options.verify_on_checkout,
        stats: Arc::default(),
        backoff: ConnectBackoff::default(),
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

type OpenFuture = Pin<Box<dyn Future<Output = Result<Client, tokio_postgres::Error>> + Send>>;

/// Opens one connection and runs its I/O on a task of its own: a TLS connector with its
/// stream type erased.
trait Opener: Send + Sync {
    fn open(&self, config: &tokio_postgres::Config) -> OpenFuture;
}

struct WithTls<T>(T);

impl<T> Opener for WithTls<T>
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    fn open(&self, config: &tokio_postgres::Config) -> OpenFuture {
        let (config, tls) = (config.clone(), self.0.clone());
        Box::pin(async move {
            let (client, connection) = crate::connect::connect(&config, tls).await?;
            tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::warn!(error = %DbError::from(err), "database connection closed");
                }
            });
            Ok(client)
        })
    }
}

/// Creates and checks connections for [`PgPool`].
pub struct ConnectionManager {
    config: tokio_postgres::Config,
    opener: Box<dyn Opener>,
    statement_mode: StatementMode,
    verify_on_checkout: Option<&'static str>,
    stats: Arc<CheckoutStats>,
    backoff: ConnectBackoff,
}

impl std::fmt::Debug for ConnectionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionManager")
            .field("config", &self.config)
            .field("statement_mode", &self.statement_mode)
            .finish_non_exhaustive()
    }
}

impl ConnectionManager {
    /// Counters of the checks made when connections are reused.
    pub fn checkout_stats(&self) -> &CheckoutStats {
        &self.stats
    }
}

/// Sent as a simple query: then `now()` (the transaction's start) equals
/// `statement_timestamp()` unless a transaction block was already open. (With the extended
/// protocol the server restamps the statement at Bind, so they differ even outside a block.)
/// A session-level advisory lock is state carried between requests too, so it also fails.
fn checkout_check_sql(setting: &str) -> String {
    format!(
        "select nullif(current_setting('{}', true), '') is null and now() = statement_timestamp()
           and not exists (select from pg_locks where locktype = 'advisory' and pid = pg_backend_pid())",
        setting.replace('\'', "''")
    )
}

/// One pooled server connection and its per-connection statement cache.
#[derive(Debug)]
pub struct PgConnection {
    client: Client,
    statement_mode: StatementMode,
    statements: StatementCache,
    /// Set before `BEGIN` is sent, cleared once `COMMIT`/`ROLLBACK` is acknowledged.
    pub(crate) in_transaction: bool,
}

impl managed::Manager for ConnectionManager {
    type Type = PgConnection;
    type Error = DbError;

    async fn create(&self) -> Result<PgConnection, DbError> {
        if self.backoff.pausing() {
            return Err(DbError::unavailable());
        }
        let client = match self.opener.open(&self.config).await {
            Ok(client) => {
                self.backoff.succeeded();
                client
            }
            Err(err) => {
                self.backoff.failed();
                return Err(err.into());
            }
        };
        if let Some(setting) = self.verify_on_checkout {
            // A role or database default can give even a new session a tenant: refuse it.
            if !self.verify(&client, setting).await {
                return Err(DbError::unavailable());
            }
        }
        Ok(PgConnection {
            client,
            statement_mode: self.statement_mode,
            statements: StatementCache::default(),
            in_transaction: false,
        })
    }

    async fn recycle(&self, conn: &mut PgConnection, _: &Metrics) -> RecycleResult<DbError> {
        if conn.client.is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        if conn.in_transaction {
            self.stats
                .discarded_in_transaction
                .fetch_add(1, Ordering::Relaxed);
            tracing::error!("a connection came back inside a transaction; discarding it");
            return Err(RecycleError::message(
                "connection returned inside a transaction",
            ));
        }
        if let Some(setting) = self.verify_on_checkout {
            if !self.verify(&conn.client, setting).await {
                return Err(RecycleError::message(
                    "connection failed checkout verification",
                ));
            }
        }
        Ok(())
    }
}

impl ConnectionManager {
    /// Asks the server whether `client`'s session is idle, tenant-less and lock-free; counts
    /// the check and, when it fails, the violation.
    async fn verify(&self, client: &Client, setting: &str) -> bool {
        self.stats.verified.fetch_add(1, Ordering::Relaxed);
        let clean = match client.simple_query(&checkout_check_sql(setting)).await {
            Ok(messages) => messages.iter().any(|message| {
                matches!(message, SimpleQueryMessage::Row(row) if row.get(0) == Some("t"))
            }),
            Err(_) => false,
        };
        if !clean {
            self.stats.violations.fetch_add(1, Ordering::Relaxed);
            tracing::error!("a pooled connection was inside a transaction, had a tenant set or held an advisory lock; discarding it");
        }
        clean
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

    /// Raw access for a transaction of its own (`client_mut().transaction()`), for the same
    /// pools as [`Self::client`]. A `tokio_postgres::Transaction` dropped before its commit
    /// queues a `ROLLBACK`, which runs before anything the next user of the connection sends.
    pub fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Prepares `sql` once for this connection (a no-op in [`StatementMode::Unnamed`]).
    pub(crate) async fn prepare(
        &mut self,
        sql: &'static str,
        types: &[Type],
    ) -> Result<(), DbError> {
        let key = StatementText(sql);
        if self.statement_mode == StatementMode::Prepared && !self.statements.contains_key(&key) {
            let statement = self.client.prepare_typed(sql, types).await?;
            self.statements.insert(key, statement);
        }
        Ok(())
    }

    /// Sends `sql` with `params` and returns the rows as a stream, read from the socket only as
    /// they are consumed.
    pub(crate) async fn query_raw(
        &self,
        sql: &'static str,
        params: Vec<TypedParam<'_>>,
    ) -> Result<tokio_postgres::RowStream, tokio_postgres::Error> {
        match self.statements.get(&StatementText(sql)) {
            Some(statement) => {
                let untyped: Vec<&(dyn ToSql + Sync)> = params.iter().map(|(v, _)| *v).collect();
                self.client.query_raw(statement, untyped).await
            }
            None => self.client.query_typed_raw(sql, params).await,
        }
    }

    /// Sends `sql` with `params`. The request leaves on the future's first poll, so several of
    /// these polled in order form one pipelined round trip.
    pub(crate) fn query<'a>(
        &'a self,
        sql: &'static str,
        params: &'a [TypedParam<'a>],
        untyped: &'a [&'a (dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + 'a {
        match self.statements.get(&StatementText(sql)) {
            Some(statement) => Either::Left(self.client.query(statement, untyped)),
            None => Either::Right(self.client.query_typed(sql, params)),
        }
    }
}
