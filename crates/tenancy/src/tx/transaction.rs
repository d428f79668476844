//! [`TenantTx`]: one open transaction for one tenant, and the pipeline that sends its
//! statements (`BEGIN`, `enter_tenant`, the statements and an optional `COMMIT` leave together,
//! so each call costs one network round trip).

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use deadpool::managed::Object;
use futures_util::future::{join4, join_all, OptionFuture};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use super::{Params, Query};
use crate::error::DbError;
use crate::id::TenantId;
use crate::pool::{ConnectionManager, TypedParam};

/// An open (or about to open) transaction on behalf of exactly one tenant.
///
/// Dropping it without [`TenantTx::commit`] rolls back: the `ROLLBACK` is queued behind
/// whatever is still in flight on the connection, and the connection returns to the pool only
/// after the server acknowledged it. Dropped once its pipelined `COMMIT` has been queued (a
/// client gone while the answer was on its way), it sends nothing more: that `COMMIT` ends the
/// transaction either way, and it is answered before anything the connection's next user
/// sends.
///
/// ```no_run
/// use tenancy::{Query, Tenancy, TenantId};
/// use tokio_postgres::types::Type;
///
/// # async fn example(tenancy: Tenancy, acme: TenantId, project: uuid::Uuid) -> Result<(), tenancy::DbError> {
/// let mut tx = tenancy.begin(acme).await?; // nothing sent yet
/// let renamed = tx
///     .run(
///         Query::new("update app.project set name = $3 where tenant_id = $1 and id = $2")
///             .bind(project, Type::UUID)
///             .bind("Lift-off".to_owned(), Type::TEXT)
///             .map(|rows| Ok(rows.len())),
///     )
///     .await?; // BEGIN, enter_tenant and the update: one round trip
/// if renamed == 0 {
///     return tx.rollback().await; // or just drop it: it rolls back too
/// }
/// tx.commit().await
/// # }
/// ```
pub struct TenantTx {
    pub(super) conn: Option<Object<ConnectionManager>>,
    pub(super) tenant: TenantId,
    pub(super) enter_tenant_sql: &'static str,
    /// `BEGIN`, or `BEGIN` with an isolation level.
    pub(super) begin_sql: &'static str,
    pub(super) begun: bool,
    /// For the `tenant_tx` span (debug level): statements run, whether one failed, and whether
    /// the caller rolled back on purpose.
    pub(super) statements: u32,
    pub(super) failed: bool,
    pub(super) rolled_back: bool,
    /// Set once the pipelined `COMMIT` is queued on the connection: from then on the
    /// transaction ends on the server whatever happens to this value.
    pub(super) commit_queued: AtomicBool,
    pub(super) span: tracing::Span,
}

impl fmt::Debug for TenantTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantTx")
            .field("tenant", &self.tenant)
            .field("begun", &self.begun)
            .finish()
    }
}

/// Results of two statements sent in one round trip, each on its own.
pub type PairResult<A, B> = (Result<A, DbError>, Result<B, DbError>);

impl TenantTx {
    /// The tenant this transaction speaks for.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// Runs a statement; the transaction stays open.
    pub async fn run<T: 'static>(&mut self, query: Query<T>) -> Result<T, DbError> {
        let outcome = self.pipeline([(query.sql, &query.params)], false).await;
        let result = outcome.and_then(|[rows]| rows).and_then(query.decode);
        self.failed |= result.is_err();
        result
    }

    /// Runs the last statement with `COMMIT` pipelined behind it.
    pub async fn run_and_commit<T: 'static>(mut self, query: Query<T>) -> Result<T, DbError> {
        let outcome = self.pipeline([(query.sql, &query.params)], true).await;
        let result = outcome.and_then(|[rows]| rows).and_then(query.decode);
        self.failed |= result.is_err();
        result
    }

    /// Sends two statements in one round trip (behind `BEGIN` and `enter_tenant` if they are
    /// the first); the transaction stays open. Both statements are sent before either answer
    /// is read, so `second` runs whatever `first` returns: the caller that dislikes `first`'s
    /// answer rolls back (see [`TenantTx::rollback`]). If `first` fails, the transaction is
    /// aborted and `second` fails too, without running.
    ///
    /// The outer error is the transaction failing to start; the inner ones are per statement.
    pub async fn run_pair<A: 'static, B: 'static>(
        &mut self,
        first: Query<A>,
        second: Query<B>,
    ) -> Result<PairResult<A, B>, DbError> {
        let outcome = self
            .pipeline(
                [(first.sql, &first.params), (second.sql, &second.params)],
                false,
            )
            .await;
        self.failed |= outcome.is_err();
        let [a, b] = outcome?;
        let (a, b) = (a.and_then(first.decode), b.and_then(second.decode));
        self.failed |= a.is_err() || b.is_err();
        Ok((a, b))
    }

    /// Commits what ran so far.
    pub async fn commit(mut self) -> Result<(), DbError> {
        self.end("COMMIT").await
    }

    /// Rolls back what ran so far and waits for the server to confirm it, so the connection
    /// goes back to the pool at once (dropping also rolls back, but counts as abandoned).
    pub async fn rollback(mut self) -> Result<(), DbError> {
        self.rolled_back = true;
        self.end("ROLLBACK").await
    }

    async fn end(&mut self, sql: &'static str) -> Result<(), DbError> {
        if !self.begun {
            return Ok(());
        }
        let conn = self.conn.as_mut().ok_or_else(DbError::unavailable)?;
        conn.client().batch_execute(sql).await?;
        conn.in_transaction = false;
        Ok(())
    }

    /// Closes the `tenant_tx` span with what happened: `committed`, `failed`, `rolled_back`
    /// (on purpose, or dropped while open such as a cancelled request) or `empty` (nothing
    /// ran).
    fn close_span(&self) {
        if self.span.is_disabled() {
            return;
        }
        let open = self.conn.as_ref().is_some_and(|conn| conn.in_transaction);
        let commit_queued = self.commit_queued.load(Ordering::Relaxed);
        let outcome = match (self.begun, self.failed, open || self.rolled_back) {
            (false, _, _) => "empty",
            (true, true, _) => "failed",
            (true, false, true) if commit_queued => "dropped_after_commit",
            (true, false, true) => "rolled_back",
            (true, false, false) => "committed",
        };
        self.span.record("statements", self.statements);
        self.span.record("outcome", outcome);
        tracing::debug!(parent: &self.span, statements = self.statements, outcome, "tenant transaction ended");
    }

    /// Sends `statements` in order as one pipelined round trip, with `BEGIN` and
    /// `enter_tenant` in front if the transaction has not started, and `COMMIT` behind if
    /// `commit`. Returns each statement's rows or error; the outer error is `BEGIN`,
    /// `enter_tenant` or `COMMIT` failing.
    async fn pipeline<const N: usize>(
        &mut self,
        statements: [(&'static str, &Params); N],
        commit: bool,
    ) -> Result<[Result<Vec<Row>, DbError>; N], DbError> {
        self.statements += N as u32;
        let conn = self.conn.as_mut().ok_or_else(DbError::unavailable)?;
        // Preparing before anything is sent keeps the pipeline below in order: no future in it
        // waits on the server before sending its own request.
        conn.prepare(self.enter_tenant_sql, &[Type::UUID]).await?;
        for (sql, params) in statements {
            let mut types = vec![Type::UUID];
            types.extend(params.iter().map(|(_, t)| t.clone()));
            conn.prepare(sql, &types).await?;
        }

        let tenant = self.tenant.as_uuid();
        let enter_params: [TypedParam<'_>; 1] = [(&tenant, Type::UUID)];
        let enter_untyped: [&(dyn ToSql + Sync); 1] = [&tenant];
        let bound = statements.map(|(sql, params)| {
            let mut typed: Vec<TypedParam<'_>> = vec![(&tenant, Type::UUID)];
            typed.extend(
                params
                    .iter()
                    .map(|(v, t)| (&**v as &(dyn ToSql + Sync), t.clone())),
            );
            let untyped: Vec<&(dyn ToSql + Sync)> = typed.iter().map(|(v, _)| *v).collect();
            super::observe::sent(Some(self.tenant), sql, &typed);
            (sql, typed, untyped)
        });

        let starting = !self.begun;
        conn.in_transaction = true;
        let client = conn.client();
        // `join4` and `join_all` poll in argument order, and each request leaves on its first
        // poll: BEGIN, enter_tenant, the statements and COMMIT go out in that order, together.
        let (began, entered, results, committed) = join4(
            OptionFuture::from(starting.then(|| client.batch_execute(self.begin_sql))),
            OptionFuture::from(
                starting.then(|| conn.query(self.enter_tenant_sql, &enter_params, &enter_untyped)),
            ),
            join_all(
                bound
                    .iter()
                    .map(|(sql, typed, untyped)| conn.query(sql, typed, untyped)),
            ),
            OptionFuture::from(
                commit.then(|| mark_queued(client.batch_execute("COMMIT"), &self.commit_queued)),
            ),
        )
        .await;
        began.transpose()?;
        entered.transpose()?;
        self.begun = true;
        // A failed statement aborts the transaction; a pipelined COMMIT then rolls it back.
        let mut results = results.into_iter().map(|rows| rows.map_err(DbError::from));
        if let Some(committed) = committed {
            committed?;
            conn.in_transaction = false;
        }
        // `join_all` answered once per statement, so the fallback is never taken.
        Ok(std::array::from_fn(|_| {
            results
                .next()
                .unwrap_or_else(|| Err(DbError::unavailable()))
        }))
    }
}

/// Polls `request` once (which queues its message on the connection), records that in
/// `queued`, then waits for its answer.
async fn mark_queued<F: Future>(request: F, queued: &AtomicBool) -> F::Output {
    let mut request = std::pin::pin!(request);
    let first = futures_util::poll!(request.as_mut());
    queued.store(true, Ordering::Relaxed);
    match first {
        Poll::Ready(output) => output,
        Poll::Pending => request.await,
    }
}

impl Drop for TenantTx {
    fn drop(&mut self) {
        self.close_span();
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if !conn.in_transaction {
            return;
        }
        if self.commit_queued.load(Ordering::Relaxed) {
            // A ROLLBACK now would only reach the server after that COMMIT, outside any
            // transaction (a warning and a wasted round trip). The next user's statements
            // queue behind the COMMIT too, so the connection is free at once.
            conn.in_transaction = false;
            if let Some(pool) = Object::pool(&conn) {
                let stats = pool.manager().checkout_stats();
                stats.dropped_after_commit.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        if let Some(pool) = Object::pool(&conn) {
            let stats = pool.manager().checkout_stats();
            stats.rolled_back_on_drop.fetch_add(1, Ordering::Relaxed);
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
