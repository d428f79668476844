//! One network round trip: `BEGIN`, the enter statement, the query and `COMMIT` leave together.
//! Counted on the wire by a proxy between the pool and the server ([`wire_probe::Probe`]):
//! counts of protocol messages, never timings.

use tenancy::{build_pool, Convention, PoolOptions, StatementMode, Tenancy, TenantId};
use wire_probe::{Probe, Tally};

use crate::harness::{insert_project, one_connection, project_names, TestDb};

/// Tenant transactions on one connection that goes through a counting proxy.
fn probed(db: &TestDb, mode: StatementMode) -> (Tenancy, Probe) {
    let (socket, port) = db.socket();
    let probe = Probe::start(socket, port).expect("start the probe");
    let config = db.config_via(&probe.socket_dir(), "app_user");
    let options = PoolOptions {
        statement_mode: mode,
        ..one_connection()
    };
    let tenancy = Tenancy::with_convention(
        build_pool(config, tokio_postgres::NoTls, options),
        &Convention::default(),
    );
    (tenancy, probe)
}

async fn counted<T>(probe: &Probe, work: impl std::future::Future<Output = T>) -> (T, Tally) {
    let before = probe.tally();
    let out = work.await;
    (out, probe.tally().since(&before))
}

async fn warm_up(tenancy: &Tenancy, tenant: TenantId) {
    tenancy
        .run(tenant, insert_project("Warm-up"))
        .await
        .expect("insert");
    tenancy.run(tenant, project_names()).await.expect("list");
}

#[tokio::test]
async fn a_statement_in_its_own_transaction_is_one_round_trip() {
    let db = TestDb::new().await;
    let acme = db.account("acme").await;
    let (tenancy, probe) = probed(&db, StatementMode::Prepared);
    warm_up(&tenancy, acme).await;

    let (names, read) = counted(&probe, tenancy.run(acme, project_names())).await;
    let (_, write) = counted(&probe, tenancy.run(acme, insert_project("Launch"))).await;

    assert_eq!(names.expect("list"), ["Warm-up"]);
    for (what, tally) in [("read", &read), ("write", &write)] {
        assert_eq!(tally.round_trips, 1, "{what}: {tally:?}");
        assert_eq!(tally.count('Q'), 2, "{what}: BEGIN and COMMIT: {tally:?}");
        assert_eq!(
            tally.count('E'),
            2,
            "{what}: enter and the query: {tally:?}"
        );
        assert_eq!(
            tally.count('P'),
            0,
            "{what}: prepared once, before: {tally:?}"
        );
        assert_eq!(tally.connections, 0, "{what}: the connection is reused");
    }
}

#[tokio::test]
async fn statements_are_prepared_once_per_connection() {
    let db = TestDb::new().await;
    let acme = db.account("acme").await;
    let (tenancy, probe) = probed(&db, StatementMode::Prepared);

    let (_, first) = counted(&probe, tenancy.run(acme, project_names())).await;
    let (_, second) = counted(&probe, tenancy.run(acme, project_names())).await;

    assert_eq!(first.count('P'), 2, "enter and the query: {first:?}");
    assert_eq!(second.count('P'), 0, "{second:?}");
}

#[tokio::test]
async fn two_statements_and_their_transaction_start_are_one_round_trip() {
    let db = TestDb::new().await;
    let acme = db.account("acme").await;
    let (tenancy, probe) = probed(&db, StatementMode::Prepared);
    warm_up(&tenancy, acme).await;

    let mut tx = tenancy.begin(acme).await.expect("begin");
    let (pair, sent) = counted(
        &probe,
        tx.run_pair(insert_project("Launch"), project_names()),
    )
    .await;
    let (committed, commit) = counted(&probe, tx.commit()).await;

    let (inserted, names) = pair.expect("the transaction starts");
    inserted.expect("insert");
    assert_eq!(names.expect("list"), ["Launch", "Warm-up"]);
    committed.expect("commit");
    assert_eq!(sent.round_trips, 1, "{sent:?}");
    assert_eq!(sent.count('E'), 3, "enter and both statements: {sent:?}");
    assert_eq!(commit.round_trips, 1, "{commit:?}");
}

#[tokio::test]
async fn unnamed_statements_for_a_transaction_pooler_are_still_one_round_trip() {
    let db = TestDb::new().await;
    let acme = db.account("acme").await;
    let (tenancy, probe) = probed(&db, StatementMode::Unnamed);
    warm_up(&tenancy, acme).await;

    let (names, read) = counted(&probe, tenancy.run(acme, project_names())).await;

    assert_eq!(names.expect("list"), ["Warm-up"]);
    assert_eq!(read.round_trips, 1, "{read:?}");
    assert_eq!(
        read.count('P'),
        2,
        "each statement is parsed unnamed, in the same round trip: {read:?}"
    );
}
