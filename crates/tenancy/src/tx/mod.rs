//! The tenant transaction: the only door to tenant data.
//!
//! A [`Query`] is inert SQL plus parameters; only a [`TenantTx`] can run it, and a `TenantTx`
//! exists only for one [`TenantId`]. Every transaction starts with an explicit `BEGIN` and
//! `enter_tenant($1)`, pipelined with the first query, so a single-statement request costs one
//! network round trip (`BEGIN`, `enter_tenant`, the query and `COMMIT` sent together).
//!
//! By convention `$1` of every query is the tenant id, bound by the transaction itself: queries
//! say `where tenant_id = $1` (what a sharded cluster routes on) without any way to pass a
//! different tenant's id.
//!
//! This module holds [`Query`] and [`Tenancy`]; [`TenantTx`] and its pipeline live in
//! `transaction`, and streaming a large result in `stream`.

mod observe;
mod stream;
mod transaction;

pub use observe::{set_query_observer, SentParam, SentQuery};
pub use transaction::{PairResult, TenantTx};

use std::fmt;

use deadpool::managed::PoolError;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use crate::error::DbError;
use crate::id::TenantId;
use crate::pool::PgPool;

type Decode<T> = Box<dyn FnOnce(Vec<Row>) -> Result<T, DbError> + Send>;

/// A query's parameters after the tenant id (`$2…`), each with its SQL type.
type Params = Vec<(Box<dyn ToSql + Sync + Send>, Type)>;

/// A statement to run inside a tenant transaction, with `$1` reserved for the tenant id.
///
/// Building one runs nothing: it is SQL, its parameters after `$1`, and how to decode its rows.
/// Only a [`TenantTx`] (or [`Tenancy::run`]) can run it, binding its own tenant as `$1`.
///
/// ```
/// use tenancy::{DbError, DbErrorKind, Query};
/// use tokio_postgres::types::Type;
///
/// /// A project's name, if the transaction's tenant has that project.
/// fn project_name(id: uuid::Uuid) -> Query<Option<String>> {
///     Query::new("select name from app.project where tenant_id = $1 and id = $2")
///         .bind(id, Type::UUID)
///         .map(|rows| Ok(rows.first().map(|row| row.get(0))))
/// }
///
/// /// How many tasks are open; a missing row would be a bug, not the client's fault.
/// fn open_tasks() -> Query<i64> {
///     Query::new("select count(*) from app.task where tenant_id = $1 and not done")
///         .map(|rows| rows.first().map(|row| row.get(0)).ok_or(DbError::of_kind(DbErrorKind::Other)))
/// }
///
/// assert!(project_name(uuid::Uuid::nil()).sql().contains("tenant_id = $1"));
/// # let _ = open_tasks();
/// ```
pub struct Query<T> {
    sql: &'static str,
    params: Params,
    decode: Decode<T>,
}

impl<T> fmt::Debug for Query<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("sql", &self.sql)
            .field("params", &self.params.len())
            .finish()
    }
}

impl Query<Vec<Row>> {
    /// A query returning its rows; `$1` is the tenant id, `$2…` are bound with [`Query::bind`].
    pub fn new(sql: &'static str) -> Self {
        Self {
            sql,
            params: Vec::new(),
            decode: Box::new(Ok),
        }
    }
}

impl<T: 'static> Query<T> {
    /// Binds the next parameter (`$2`, then `$3`, …) with its SQL type.
    pub fn bind(mut self, value: impl ToSql + Sync + Send + 'static, sql_type: Type) -> Self {
        self.params.push((Box::new(value), sql_type));
        self
    }

    /// Turns the result into something else once the query has run.
    pub fn map<U>(self, f: impl FnOnce(T) -> Result<U, DbError> + Send + 'static) -> Query<U> {
        let decode = self.decode;
        Query {
            sql: self.sql,
            params: self.params,
            decode: Box::new(move |rows| f(decode(rows)?)),
        }
    }

    /// The statement's text.
    pub fn sql(&self) -> &'static str {
        self.sql
    }
}

/// Hands out tenant transactions for one pool of runtime-role connections.
///
/// Cheap to clone (the pool is shared). Build one per process from the runtime role's
/// connection settings and the schema's [`Convention`](crate::Convention):
///
/// ```no_run
/// use tenancy::{build_pool, Convention, PoolOptions, Query, Tenancy, TenantId};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let config: tokio_postgres::Config = "postgresql://app_user@localhost/app".parse()?;
/// let tenancy = Tenancy::with_convention(build_pool(config, tokio_postgres::NoTls, PoolOptions::default()), &Convention::default());
/// let acme = TenantId::from_uuid("0190f0e6-8d8e-7b4c-9d0e-0a1b2c3d4e5f".parse()?);
///
/// // BEGIN, enter_tenant, the statement and COMMIT: one round trip.
/// let rows = tenancy
///     .run(acme, Query::new("select id, name from app.project where tenant_id = $1"))
///     .await?;
/// # let _ = rows;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Tenancy {
    pool: PgPool,
    enter_tenant_sql: &'static str,
}

impl fmt::Debug for Tenancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tenancy")
            .field("pool", &self.pool.status())
            .finish()
    }
}

impl Tenancy {
    /// `enter_tenant_sql` is the statement that sets the tenant for the current transaction
    /// only, taking the tenant's UUID as `$1` (for example `select app.enter_tenant($1)`).
    pub fn new(pool: PgPool, enter_tenant_sql: &'static str) -> Self {
        Self {
            pool,
            enter_tenant_sql,
        }
    }

    /// Pool gauges (size, idle, waiting), for metrics.
    pub fn status(&self) -> deadpool::Status {
        self.pool.status()
    }

    /// What checkout verification counted ([`crate::PoolOptions::verify_on_checkout`]).
    pub fn checkout_stats(&self) -> &crate::pool::CheckoutStats {
        self.pool.manager().checkout_stats()
    }

    /// Closes the pool: idle connections end, new requests fail fast.
    pub fn close(&self) {
        self.pool.close();
    }

    /// Takes a connection for `tenant`. Nothing is sent until the first query.
    pub async fn begin(&self, tenant: TenantId) -> Result<TenantTx, DbError> {
        self.begin_with(tenant, "BEGIN").await
    }

    /// Like [`Tenancy::begin`], but every statement of the transaction sees one snapshot and
    /// nothing can be written: for reads that span several statements, such as an export.
    pub async fn begin_snapshot(&self, tenant: TenantId) -> Result<TenantTx, DbError> {
        self.begin_with(tenant, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
    }

    async fn begin_with(
        &self,
        tenant: TenantId,
        begin_sql: &'static str,
    ) -> Result<TenantTx, DbError> {
        // Boxed: the pool's checkout future is ~6 KB, and every request's future would carry
        // (and copy) it otherwise.
        let conn = Box::pin(self.pool.get())
            .await
            .map_err(|e| pool_error(e, self.checkout_stats()))?;
        Ok(TenantTx {
            conn: Some(conn),
            tenant,
            enter_tenant_sql: self.enter_tenant_sql,
            begin_sql,
            begun: false,
            statements: 0,
            failed: false,
            rolled_back: false,
            commit_queued: std::sync::atomic::AtomicBool::new(false),
            span: tracing::debug_span!(
                "tenant_tx",
                %tenant,
                statements = tracing::field::Empty,
                outcome = tracing::field::Empty
            ),
        })
    }

    /// Whether [`Tenancy::close`] was called: background work tied to this pool stops then.
    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    /// Runs a statement with no tenant set, for tables that hold no tenant data (such as the
    /// tenant directory itself). Tenant tables read as empty here: their policy fails closed.
    pub async fn run_outside_tenant(
        &self,
        sql: &'static str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, DbError> {
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| pool_error(e, self.checkout_stats()))?;
        let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
        conn.prepare(sql, &types).await?;
        let untyped: Vec<&(dyn ToSql + Sync)> = params.iter().map(|(v, _)| *v).collect();
        observe::sent(None, sql, params);
        Ok(conn.query(sql, params, &untyped).await?)
    }

    /// Runs one statement as its own transaction: one round trip.
    pub async fn run<T: 'static>(&self, tenant: TenantId, query: Query<T>) -> Result<T, DbError> {
        self.begin(tenant).await?.run_and_commit(query).await
    }
}

fn pool_error(err: PoolError<DbError>, stats: &crate::pool::CheckoutStats) -> DbError {
    match err {
        PoolError::Backend(db) => db,
        PoolError::Timeout(_) => {
            stats
                .acquire_timeouts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            DbError::unavailable()
        }
        _ => DbError::unavailable(),
    }
}
