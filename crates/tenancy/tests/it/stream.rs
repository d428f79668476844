//! Streaming a large result out of a tenant transaction: row by row, the tenant's rows only.

use futures_util::TryStreamExt;
use tenancy::{PoolOptions, Query};

use crate::harness::{insert_project, TestDb};

#[tokio::test]
async fn a_streamed_result_holds_only_the_tenants_rows_from_one_snapshot() {
    let db = TestDb::new().await;
    let (acme, globex) = (db.account("acme").await, db.account("globex").await);
    let tenancy = db.tenancy(PoolOptions::default());
    for name in ["Alpha", "Beta", "Gamma"] {
        tenancy
            .run(acme, insert_project(name))
            .await
            .expect("insert");
    }
    tenancy
        .run(globex, insert_project("Other"))
        .await
        .expect("insert");

    let mut tx = tenancy.begin_snapshot(acme).await.expect("begin");
    // No tenant filter in the text: the policy alone decides what streams out.
    let names: Vec<String> = tx
        .stream(Query::new("select name from app.project order by name"))
        .await
        .expect("stream")
        .map_ok(|row| row.get(0))
        .try_collect()
        .await
        .expect("rows");
    let written = tx.run(insert_project("Delta")).await;
    tx.commit().await.expect("commit");

    assert_eq!(names, ["Alpha", "Beta", "Gamma"]);
    assert!(written.is_err(), "a snapshot transaction is read-only");
}
