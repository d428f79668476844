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

use std::fmt;

use deadpool::managed::{Object, PoolError};
use futures_util::future::{join4, OptionFuture};
use futures_util::{Stream, TryStreamExt};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use crate::error::DbError;
use crate::id::TenantId;
use crate::pool::{ConnectionManager, PgPool, TypedParam};

type Decode<T> = Box<dyn FnOnce(Vec<Row>) -> Result<T, DbError> + Send>;

/// A statement to run inside a tenant transaction, with `$1` reserved for the tenant id.
pub struct Query<T> {
    sql: &'static str,
    params: Vec<(Box<dyn ToSql + Sync + Send>, Type)>,
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

    pub fn sql(&self) -> &'static str {
        self.sql
    }
}

/// Hands out tenant transactions for one pool of runtime-role connections.
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
        let conn = self
            .pool
            .get()
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

/// An open (or about to open) transaction on behalf of exactly one tenant.
///
/// Dropping it without [`TenantTx::commit`] rolls back: the `ROLLBACK` is queued behind
/// whatever is still in flight on the connection, and the connection returns to the pool only
/// after the server acknowledged it.
pub struct TenantTx {
    conn: Option<Object<ConnectionManager>>,
    tenant: TenantId,
    enter_tenant_sql: &'static str,
    /// `BEGIN`, or `BEGIN` with an isolation level.
    begin_sql: &'static str,
    begun: bool,
    /// For the `tenant_tx` span (debug level): statements run and whether one failed.
    statements: u32,
    failed: bool,
    span: tracing::Span,
}

impl fmt::Debug for TenantTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantTx")
            .field("tenant", &self.tenant)
            .field("begun", &self.begun)
            .finish()
    }
}

impl TenantTx {
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// Runs a statement; the transaction stays open.
    pub async fn run<T: 'static>(&mut self, query: Query<T>) -> Result<T, DbError> {
        let result = self.execute(query, false).await;
        self.failed |= result.is_err();
        result
    }

    /// Runs the last statement with `COMMIT` pipelined behind it.
    pub async fn run_and_commit<T: 'static>(mut self, query: Query<T>) -> Result<T, DbError> {
        let result = self.execute(query, true).await;
        self.failed |= result.is_err();
        result
    }

    /// Closes the `tenant_tx` span with what happened: `committed`, `failed`, `rolled_back`
    /// (dropped while open, such as a cancelled request) or `empty` (nothing ran).
    fn close_span(&self) {
        if self.span.is_disabled() {
            return;
        }
        let open = self.conn.as_ref().is_some_and(|conn| conn.in_transaction);
        let outcome = match (self.begun, self.failed, open) {
            (false, _, _) => "empty",
            (true, true, _) => "failed",
            (true, false, true) => "rolled_back",
            (true, false, false) => "committed",
        };
        self.span.record("statements", self.statements);
        self.span.record("outcome", outcome);
        tracing::debug!(parent: &self.span, statements = self.statements, outcome, "tenant transaction ended");
    }

    /// Runs a query and hands its rows over as they arrive, for results too big to hold in
    /// memory (an export of a large school). The transaction stays open.
    ///
    /// Memory stays flat however many rows match: the driver reads the socket only as fast as
    /// the stream is polled (its response channel holds one buffer), so a slow consumer makes
    /// the server wait on a full socket rather than making this process buffer rows. `$1` is
    /// the tenant id, as for every query; the query's `map` is not applied.
    pub async fn stream(
        &mut self,
        query: Query<Vec<Row>>,
    ) -> Result<impl Stream<Item = Result<Row, DbError>> + '_, DbError> {
        let conn = self.conn.as_mut().ok_or_else(DbError::unavailable)?;
        let mut types = vec![Type::UUID];
        types.extend(query.params.iter().map(|(_, t)| t.clone()));
        conn.prepare(self.enter_tenant_sql, &[Type::UUID]).await?;
        conn.prepare(query.sql, &types).await?;
        let tenant = self.tenant.as_uuid();
        if !self.begun {
            let enter_params: [TypedParam<'_>; 1] = [(&tenant, Type::UUID)];
            let enter_untyped: [&(dyn ToSql + Sync); 1] = [&tenant];
            conn.in_transaction = true;
            let (began, entered) = futures_util::future::join(
                conn.client().batch_execute(self.begin_sql),
                conn.query(self.enter_tenant_sql, &enter_params, &enter_untyped),
            )
            .await;
            began?;
            entered?;
            self.begun = true;
        }
        let mut params: Vec<TypedParam<'_>> = vec![(&tenant, Type::UUID)];
        params.extend(
            query
                .params
                .iter()
                .map(|(v, t)| (&**v as &(dyn ToSql + Sync), t.clone())),
        );
        let rows = conn.query_raw(query.sql, params).await?;
        Ok(rows.map_err(DbError::from))
    }

    /// Commits what ran so far.
    pub async fn commit(mut self) -> Result<(), DbError> {
        if !self.begun {
            return Ok(());
        }
        let conn = self.conn.as_mut().ok_or_else(DbError::unavailable)?;
        conn.client().batch_execute("COMMIT").await?;
        conn.in_transaction = false;
        Ok(())
    }

    async fn execute<T: 'static>(&mut self, query: Query<T>, commit: bool) -> Result<T, DbError> {
        self.statements += 1;
        let conn = self.conn.as_mut().ok_or_else(DbError::unavailable)?;
        let mut types = vec![Type::UUID];
        types.extend(query.params.iter().map(|(_, t)| t.clone()));
        // Preparing before anything is sent keeps the pipeline below in order: no future in it
        // waits on the server before sending its own request.
        conn.prepare(self.enter_tenant_sql, &[Type::UUID]).await?;
        conn.prepare(query.sql, &types).await?;

        let tenant = self.tenant.as_uuid();
        let enter_params: [TypedParam<'_>; 1] = [(&tenant, Type::UUID)];
        let enter_untyped: [&(dyn ToSql + Sync); 1] = [&tenant];
        let mut params: Vec<TypedParam<'_>> = vec![(&tenant, Type::UUID)];
        params.extend(
            query
                .params
                .iter()
                .map(|(v, t)| (&**v as &(dyn ToSql + Sync), t.clone())),
        );
        let untyped: Vec<&(dyn ToSql + Sync)> = params.iter().map(|(v, _)| *v).collect();

        let starting = !self.begun;
        conn.in_transaction = true;
        let client = conn.client();
        let (began, entered, rows, committed) = join4(
            OptionFuture::from(starting.then(|| client.batch_execute(self.begin_sql))),
            OptionFuture::from(
                starting.then(|| conn.query(self.enter_tenant_sql, &enter_params, &enter_untyped)),
            ),
            conn.query(query.sql, &params, &untyped),
            OptionFuture::from(commit.then(|| client.batch_execute("COMMIT"))),
        )
        .await;
        began.transpose()?;
        entered.transpose()?;
        self.begun = true;
        // A failed statement aborts the transaction; a pipelined COMMIT then rolls it back.
        let outcome = rows.map_err(DbError::from);
        if let Some(committed) = committed {
            committed?;
            conn.in_transaction = false;
        }
        (query.decode)(outcome?)
    }
}

impl Drop for TenantTx {
    fn drop(&mut self) {
        self.close_span();
        let Some(conn) = self.conn.take() else { return };
        if !conn.in_transaction {
            return;
        }
        if let Some(pool) = Object::pool(&conn) {
            let stats = pool.manager().checkout_stats();
            stats
                .rolled_back_on_drop
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let mut conn = conn;
                    if conn.client().batch_execute("ROLLBACK").await.is_ok() {
                        conn.in_transaction = false;
                    }
                    // Still flagged: the pool's recycle check discards it.
                });
            }
            // No runtime to roll back on: drop the connection itself.
            Err(_) => drop(Object::take(conn)),
        }
    }
}
