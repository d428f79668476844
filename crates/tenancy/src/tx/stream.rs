//! Streaming a query's rows out of a tenant transaction, for results too big to hold.

use futures_util::{Stream, TryStreamExt};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use super::{Query, TenantTx};
use crate::error::DbError;
use crate::pool::TypedParam;

impl TenantTx {
    /// Runs a query and hands its rows over as they arrive, for results too big to hold in
    /// memory (an export of a large tenant). The transaction stays open.
    ///
    /// Memory stays flat however many rows match: the driver reads the socket only as fast as
    /// the stream is polled (its response channel holds one buffer), so a slow consumer makes
    /// the server wait on a full socket rather than making this process buffer rows. `$1` is
    /// the tenant id, as for every query; the query's `map` is not applied.
    pub async fn stream(
        &mut self,
        query: Query<Vec<Row>>,
    ) -> Result<impl Stream<Item = Result<Row, DbError>> + '_, DbError> {
        self.statements += 1;
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
        super::observe::sent(Some(self.tenant), query.sql, &params);
        let rows = conn.query_raw(query.sql, params).await?;
        // A row that fails to arrive fails the transaction, for its `tenant_tx` span.
        let failed = &mut self.failed;
        Ok(rows
            .map_err(DbError::from)
            .inspect_err(move |_| *failed = true))
    }
}
