//! School creation with few and with many schools present: the same request, alternating
//! between two servers, so the ratio shows whether creating a school slows as schools grow.

use tokio_postgres::Client;

use super::{seed_sql, Bench};
use crate::database::{self, DB_NAME};
use crate::dataset::{self, Size};
use crate::measure;

const SCHOOLS_FOR_CREATION: u32 = 10_000;

/// Tops the main database up to 10,000 schools, measures creating a school there and on a
/// database with 10, notes both, and returns the ratio (many ÷ few).
pub(super) async fn school_creation(
    bench: &mut Bench<'_>,
    db: &Client,
    size: Size,
) -> Result<f64, String> {
    if size.schools < SCHOOLS_FOR_CREATION {
        seed_sql(
            db,
            &dataset::insert_schools_sql(size.schools + 1, SCHOOLS_FOR_CREATION),
        )
        .await?;
        seed_sql(db, "vacuum analyze wizreg.tenant").await?;
    }
    // The same creation on a database with 10 schools, request by request in turn.
    let few = bench.cluster.superuser(database::FEW_DB_NAME).await?;
    let many_server = bench
        .server(DB_NAME, None, Vec::new(), "server-many.log")
        .await?;
    let few_server = bench
        .server(database::FEW_DB_NAME, None, Vec::new(), "server-few.log")
        .await?;
    seed_sql(&few, &dataset::insert_schools_sql(1, 10)).await?;
    let medians = measure::school_creation(&[&few_server, &many_server], 40).await?;
    let (create_with_10, create_with_10000) = (medians[0], medians[1]);
    drop((many_server, few_server));
    bench.notes.push(format!(
        "Creating a school (POST /admin/tenants, median of 40, alternating request by request between a database with 10 schools and this one): {create_with_10:.2} ms with 10 present, {create_with_10000:.2} ms with 10,000 present. Each create commits durably (a WAL flush)."
    ));
    Ok(create_with_10000 / create_with_10)
}
