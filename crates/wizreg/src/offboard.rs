//! Offboarding: deleting a school and every row it owns, in bounded time and memory however
//! big it is.
//!
//! 1. The platform role marks the school suspended and `offboarding_since = now()` in one
//!    statement. The tenant trigger notifies every server, so nothing of the school is served
//!    from then on.
//! 2. Its rows are deleted [`BATCH_ROWS`] at a time, each batch its own ordinary tenant
//!    transaction (runtime role, RLS applies), table by table, children before parents. A batch
//!    walks the primary key from where the last one stopped, so it never rescans dead rows, and
//!    holds its locks for a fraction of a second.
//! 3. The platform role deletes the tenant row. Its foreign keys cascade, which also catches
//!    any row a straggling request wrote after its table was emptied.
//!
//! If this stops half way (a crash, a lost connection), the school stays suspended and marked;
//! it cannot be resumed or imported into, and deleting it again carries on where it stopped.

use tenancy::{DbError, Query, Tenancy, TenantId};
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use crate::tenants;

/// Rows deleted per tenant transaction.
pub const BATCH_ROWS: i64 = 10_000;

/// One batch of a table: `$2` is the last key deleted (text, null at the start), `$3` the
/// batch size. Returns the number deleted and the last key, to continue from.
macro_rules! delete_batch {
    ($table:literal, $key:literal, $key_type:literal) => {
        concat!(
            "with doomed as (select ", $key, " as k from wizreg.", $table,
            " where tenant_id = $1 and ($2::text is null or ", $key, " > $2::", $key_type, ")",
            " order by ", $key, " limit $3),",
            " gone as (delete from wizreg.", $table, " t using doomed",
            " where t.tenant_id = $1 and t.", $key, " = doomed.k returning 1)",
            " select (select count(*) from gone), (select k::text from doomed order by k desc limit 1)"
        )
    };
}

macro_rules! count_rows {
    ($table:literal) => {
        concat!(
            "select count(*) from wizreg.",
            $table,
            " where tenant_id = $1"
        )
    };
}

/// A tenant table: its name, the statement deleting one batch, and the one counting rows.
#[derive(Debug)]
pub struct TenantTable {
    pub name: &'static str,
    delete_batch: &'static str,
    count: &'static str,
}

macro_rules! tenant_table {
    ($table:literal, $key:literal, $key_type:literal) => {
        TenantTable {
            name: $table,
            delete_batch: delete_batch!($table, $key, $key_type),
            count: count_rows!($table),
        }
    };
}

/// Every table holding tenant rows, children before parents. A test compares this list with
/// the catalogue (every table with a `tenant_id` column), so a new table cannot be forgotten.
pub const TENANT_TABLES: &[TenantTable] = &[
    tenant_table!("idempotency_key", "key", "text"),
    tenant_table!("api_key", "id", "uuid"),
    tenant_table!("student", "id", "uuid"),
    tenant_table!("house", "id", "uuid"),
];

/// What happened to the school.
#[derive(Debug, PartialEq, Eq)]
pub enum Offboarded {
    /// It and every row it had are gone; the count is the rows deleted in batches.
    Deleted { rows: u64 },
    /// There is no such school (perhaps it was deleted already).
    NotFound,
}

/// Deletes `tenant` and all its rows. `progress` is called after each batch with the rows
/// deleted so far. Safe to call again after an interruption.
pub async fn delete_tenant(
    platform: &Client,
    tenancy: &Tenancy,
    tenant: TenantId,
    mut progress: impl FnMut(u64) + Send,
) -> Result<Offboarded, DbError> {
    if !tenants::start_offboarding(platform, tenant).await? {
        return Ok(Offboarded::NotFound);
    }
    let mut rows = 0;
    for table in TENANT_TABLES {
        let mut after: Option<String> = None;
        loop {
            let query = Query::new(table.delete_batch)
                .bind(after.clone(), Type::TEXT)
                .bind(BATCH_ROWS, Type::INT8);
            let result = tenancy.run(tenant, query).await?;
            let row = result
                .first()
                .ok_or_else(|| DbError::of_kind(tenancy::DbErrorKind::Other))?;
            let deleted = row.get::<_, i64>(0) as u64;
            rows += deleted;
            progress(rows);
            if deleted < BATCH_ROWS as u64 {
                break;
            }
            after = row.get(1);
        }
    }
    if !tenants::delete_row(platform, tenant).await? {
        return Ok(Offboarded::NotFound);
    }
    Ok(Offboarded::Deleted { rows })
}

/// How many rows `tenant` has in all tenant tables (for a progress bar).
pub async fn count_rows(tenancy: &Tenancy, tenant: TenantId) -> Result<u64, DbError> {
    let mut total = 0;
    for table in TENANT_TABLES {
        let rows = tenancy.run(tenant, Query::new(table.count)).await?;
        total += rows.first().map(|r| r.get::<_, i64>(0)).unwrap_or(0) as u64;
    }
    Ok(total)
}
