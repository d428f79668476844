//! A transaction that is not committed is rolled back: when its `TenantTx` is dropped, and when
//! the future running it is dropped mid-statement (a client gone, a timeout), before its
//! connection serves anyone else.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tenancy::{Query, Tenancy, TenantId};

use crate::harness::{insert_project, one_connection, stored_projects, TestDb};

fn backend_pid() -> Query<i32> {
    Query::new("select pg_backend_pid()").map(|rows| Ok(rows[0].get(0)))
}

/// Nothing of the abandoned transaction was kept, and the pool's one connection (`pid`) came
/// back rolled back, not discarded: the next transaction (which waits for it) runs on it.
async fn assert_rolled_back_and_reused(db: &TestDb, tenancy: &Tenancy, tenant: TenantId, pid: i32) {
    let next_pid = tenancy.run(tenant, backend_pid()).await.expect("pid");
    assert_eq!(stored_projects(db, tenant).await, 0, "nothing was kept");
    assert_eq!(next_pid, pid, "the rolled-back connection is reused");
    let stats = tenancy.checkout_stats();
    assert_eq!(stats.rolled_back_on_drop.load(Ordering::Relaxed), 1);
    assert_eq!(stats.discarded_in_transaction.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_transaction_dropped_without_commit_is_rolled_back() {
    let db = TestDb::new().await;
    let acme = db.account("acme").await;
    let tenancy = db.tenancy(one_connection());
    let pid = tenancy.run(acme, backend_pid()).await.expect("pid");

    let mut tx = tenancy.begin(acme).await.expect("begin");
    tx.run(insert_project("Abandoned")).await.expect("insert");
    drop(tx);

    assert_rolled_back_and_reused(&db, &tenancy, acme, pid).await;
}

#[tokio::test]
async fn a_transaction_cancelled_mid_statement_is_rolled_back_before_its_connection_is_reused() {
    let db = TestDb::new().await;
    let acme = db.account("acme").await;
    let tenancy = db.tenancy(one_connection());
    let pid = tenancy.run(acme, backend_pid()).await.expect("pid");

    let mut tx = tenancy.begin(acme).await.expect("begin");
    let cancelled = tokio::time::timeout(Duration::from_millis(200), async move {
        tx.run(insert_project("Cancelled")).await.expect("insert");
        tx.run(Query::new("select pg_sleep(1)"))
            .await
            .expect("sleep");
        tx.commit().await.expect("commit");
    })
    .await;

    assert!(cancelled.is_err(), "the timeout cancelled the transaction");
    assert_rolled_back_and_reused(&db, &tenancy, acme, pid).await;
}

#[tokio::test]
async fn an_explicit_rollback_keeps_nothing_and_counts_as_no_abandoned_transaction() {
    let db = TestDb::new().await;
    let acme = db.account("acme").await;
    let tenancy = db.tenancy(one_connection());

    let mut tx = tenancy.begin(acme).await.expect("begin");
    tx.run(insert_project("Undone")).await.expect("insert");
    tx.rollback().await.expect("rollback");

    assert_eq!(stored_projects(&db, acme).await, 0);
    let stats = tenancy.checkout_stats();
    assert_eq!(stats.rolled_back_on_drop.load(Ordering::Relaxed), 0);
}
