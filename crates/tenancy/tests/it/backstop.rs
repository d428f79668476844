//! The backstops behind the transaction guard: a connection that comes back to the pool still
//! inside a transaction is discarded, and checkout verification refuses a session that starts
//! with a tenant already set.

use std::sync::atomic::Ordering;

use tenancy::{Convention, DbErrorKind, PoolOptions};

use crate::harness::{insert_project, one_connection, project_names, stored_projects, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_returned_inside_a_transaction_is_discarded_not_reused() {
    let db = TestDb::new().await;
    let acme = db.account("acme").await;
    let tenancy = db.tenancy(one_connection());
    // The connection is made (and its I/O task runs) on this test's runtime.
    tenancy.run(acme, project_names()).await.expect("warm up");

    // A transaction abandoned on a runtime that shuts down before it can run the rollback:
    // the queued rollback task is dropped unrun, and the connection goes back to the pool still
    // flagged as inside a transaction.
    let abandoning = tenancy.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let tx = runtime.block_on(async {
            let mut tx = abandoning.begin(acme).await.expect("begin");
            tx.run(insert_project("Stranded")).await.expect("insert");
            tx
        });
        let entered = runtime.enter();
        drop(tx);
        drop(entered);
        drop(runtime);
    })
    .join()
    .expect("the abandoning thread");
    let after = tenancy.run(acme, project_names()).await;

    let stats = tenancy.checkout_stats();
    assert_eq!(stats.discarded_in_transaction.load(Ordering::Relaxed), 1);
    assert!(
        after
            .expect("a fresh connection serves the next request")
            .is_empty(),
        "the stranded insert is not visible"
    );
    assert_eq!(
        stored_projects(&db, acme).await,
        0,
        "and was never committed"
    );
}

#[tokio::test]
async fn checkout_verification_refuses_a_session_that_starts_with_a_tenant() {
    let db = TestDb::new().await;
    let acme = db.account("acme").await;
    // A stored default would hand every new session a tenant before any transaction named one.
    db.superuser()
        .await
        .batch_execute(&format!(
            "alter role app_user in database {} set app.current_tenant = '{acme}'",
            db.name
        ))
        .await
        .expect("store a default");
    let verified = db.tenancy(PoolOptions {
        verify_on_checkout: Some(Convention::default().tenant_setting()),
        ..one_connection()
    });

    let refused = verified.run(acme, insert_project("Launch")).await;

    assert_eq!(
        refused.expect_err("no connection passes").kind(),
        DbErrorKind::Unavailable
    );
    let stats = verified.checkout_stats();
    assert_eq!(stats.verified.load(Ordering::Relaxed), 1);
    assert_eq!(stats.violations.load(Ordering::Relaxed), 1);
    assert_eq!(stored_projects(&db, acme).await, 0);
}

#[tokio::test]
async fn checkout_verification_passes_clean_connections_at_every_reuse() {
    let db = TestDb::new().await;
    let acme = db.account("acme").await;
    let verified = db.tenancy(PoolOptions {
        verify_on_checkout: Some(Convention::default().tenant_setting()),
        ..one_connection()
    });

    for name in ["One", "Two", "Three"] {
        verified
            .run(acme, insert_project(name))
            .await
            .expect("insert");
    }

    let stats = verified.checkout_stats();
    assert_eq!(
        stats.verified.load(Ordering::Relaxed),
        3,
        "new, then two reuses"
    );
    assert_eq!(stats.violations.load(Ordering::Relaxed), 0);
    assert_eq!(stored_projects(&db, acme).await, 3);
}
