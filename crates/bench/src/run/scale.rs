//! `--large`: the same read on 100 schools holding as many students in all, so the ratio of
//! the two is about the number of schools alone.

use super::Bench;
use crate::database::{self, Baseline, SMALL_DB_NAME};
use crate::dataset::Size;
use crate::load::{Route, Target};
use crate::measure;
use crate::report::Row;
use crate::server::Server;

/// `--large`'s comparison: 100 schools holding as many students in all as the 10,000 schools
/// do (1,000,000), so that only the number of schools differs. (Beside the default size's
/// 100,000 students, the larger table's index and heap alone cost the database more per read.)
const FEW_SCHOOLS_SAME_ROWS: Size = Size {
    schools: 100,
    students_per_school: 10_000,
};

/// `--large`: `GET /students/{id}` with 100 schools and the same number of students, in the
/// same run. Returns the server (still running) for the interleaved comparison.
pub(super) async fn few_schools(
    bench: &Bench<'_>,
    baselines: &[Baseline],
    stats: &tokio_postgres::Client,
    rows: &mut Vec<Row>,
) -> Result<(Server, Target), String> {
    let db = bench.cluster.superuser(SMALL_DB_NAME).await?;
    let server = bench
        .server(SMALL_DB_NAME, None, Vec::new(), "server-default-size.log")
        .await?;
    database::seed(&db, FEW_SCHOOLS_SAME_ROWS, 0).await?;
    let target = bench
        .warm_target(&server, FEW_SCHOOLS_SAME_ROWS, None)
        .await?;
    let meters = bench.meters(&server, stats, baselines);
    rows.push(
        measure::route(
            bench.args,
            &meters,
            &target,
            Route::GetById,
            None,
            "closed, 100 schools × 10,000",
        )
        .await?,
    );
    Ok((server, target))
}
