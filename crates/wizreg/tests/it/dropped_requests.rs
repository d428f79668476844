//! Requests whose client goes away mid-flight: the tenant transaction ends cleanly without a
//! needless `ROLLBACK` once its `COMMIT` is on the wire (counted through the probe), and the
//! request is counted in `/metrics` as `499` (client closed request).

use std::future::Future;
use std::sync::atomic::Ordering;
use std::task::Poll;

use axum::http::StatusCode;
use serde_json::json;
use tenancy::{build_pool, PoolOptions, Tenancy};
use wizreg::database::Role;
use wizreg::domain::students::{self, NewStudent};

use crate::harness::TestApp;
use crate::limits::{lock_student_row, lock_waiters};
use crate::round_trips::{counted, probed_app};

/// Polls `request` once: a tenant transaction's pipeline is queued on its connection by then.
async fn poll_once_then_drop<F: Future>(request: F) {
    let mut request = std::pin::pin!(request);
    std::future::poll_fn(|cx| {
        let _ = request.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await;
}

/// A one-connection tenant pool through the app's probe, and nothing else on it (a whole app
/// state would add a change listener whose session could talk during the count).
fn probed_tenancy(app: &TestApp) -> Tenancy {
    let options = PoolOptions {
        max_size: 1,
        ..PoolOptions::default()
    };
    let pool = build_pool(
        app.database.config(Role::App),
        app.database.tls(Role::App),
        options,
    );
    Tenancy::with_convention(pool, &app.database.convention())
}

fn new_student(name: &str) -> NewStudent {
    NewStudent {
        name: name.to_owned(),
        email: None,
        house_id: None,
    }
}

#[tokio::test]
async fn a_transaction_dropped_after_its_commit_was_sent_sends_no_rollback_and_stays_committed() {
    let (app, probe) = probed_app().await;
    let tenancy = &probed_tenancy(&app);
    let school = app.hogwarts.id;
    // Warm up the one pooled connection: the insert is prepared, so nothing waits before the
    // pipeline leaves.
    tenancy
        .run(school, students::insert(new_student("Warm Up")))
        .await
        .expect("warm-up insert");
    let stats = tenancy.checkout_stats();
    let rolled_back_before = stats.rolled_back_on_drop.load(Ordering::Relaxed);

    let dropped = counted(&probe, async {
        let tx = tenancy.begin(school).await.expect("connection");
        poll_once_then_drop(tx.run_and_commit(students::insert(new_student("Dropped")))).await;
        // The same (only) connection serves the next transaction.
        tenancy
            .run(school, students::get(uuid::Uuid::nil()))
            .await
            .expect("the connection is usable");
    })
    .await;

    assert_eq!(stats.dropped_after_commit.load(Ordering::Relaxed), 1);
    assert_eq!(
        stats.rolled_back_on_drop.load(Ordering::Relaxed),
        rolled_back_before
    );
    assert_eq!(
        dropped.count('Q'),
        4,
        "BEGIN and COMMIT twice, no ROLLBACK: {dropped:?}"
    );
    assert_eq!(
        dropped.connections, 0,
        "the connection was kept: {dropped:?}"
    );
    let kept = app
        .privileged()
        .await
        .query_one(
            "select count(*) from wizreg.student where name = 'Dropped'",
            &[],
        )
        .await
        .expect("count")
        .get::<_, i64>(0);
    assert_eq!(kept, 1, "the COMMIT that was sent committed");
}

#[tokio::test]
async fn a_transaction_dropped_before_its_commit_was_sent_is_rolled_back() {
    let (app, probe) = probed_app().await;
    let tenancy = &probed_tenancy(&app);
    let school = app.hogwarts.id;
    tenancy
        .run(school, students::insert(new_student("Warm Up")))
        .await
        .expect("warm-up insert");
    let stats = tenancy.checkout_stats();
    let rolled_back_before = stats.rolled_back_on_drop.load(Ordering::Relaxed);

    let dropped = counted(&probe, async {
        let mut tx = tenancy.begin(school).await.expect("connection");
        poll_once_then_drop(tx.run(students::insert(new_student("Never Committed")))).await;
        drop(tx);
        tenancy
            .run(school, students::get(uuid::Uuid::nil()))
            .await
            .expect("the connection is usable");
    })
    .await;

    assert_eq!(
        stats.rolled_back_on_drop.load(Ordering::Relaxed),
        rolled_back_before + 1
    );
    assert_eq!(stats.dropped_after_commit.load(Ordering::Relaxed), 0);
    assert_eq!(
        dropped.count('Q'),
        4,
        "BEGIN, ROLLBACK, then BEGIN and COMMIT: {dropped:?}"
    );
    let kept = app
        .privileged()
        .await
        .query_one(
            "select count(*) from wizreg.student where name = 'Never Committed'",
            &[],
        )
        .await
        .expect("count")
        .get::<_, i64>(0);
    assert_eq!(kept, 0);
}

/// The `wizreg_http_requests_total` sample for `series` (a label set as it appears in the
/// exposition), or 0.
fn requests_total(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find(|line| line.starts_with("wizreg_http_requests_total{") && line.contains(series))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_request_its_client_gave_up_on_is_counted_as_499_client_closed_request() {
    // School labels are opt-in: this test names its school's series.
    let app = TestApp::with_config(|config| config.metrics_tenant_labels = 20).await;
    // A school of its own, so that its metric series belong to this test alone.
    let created = app
        .post(
            "/admin/tenants",
            json!({"slug": "durmstrang", "name": "Durmstrang"}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let student = app
        .post("/students", json!({"name": "Viktor Krum"}))
        .tenant("durmstrang")
        .send()
        .await
        .id();
    let series = r#"method="PATCH",route="/students/{id}",status="499",tenant="durmstrang""#;
    let lock = lock_student_row(&app, student.parse().expect("uuid")).await;
    let observer = app.privileged().await;

    let request = app
        .patch(&format!("/students/{student}"), json!({"name": "Krum"}))
        .tenant("durmstrang")
        .send();
    tokio::select! {
        reply = request => panic!("answered while its row was locked: {reply:?}"),
        () = lock_waiters(&observer, 1) => {}
    }
    // The request future is gone, as when hyper drops it for a closed connection.
    lock.batch_execute("rollback")
        .await
        .expect("release the row");

    let metrics = app.get("/metrics").admin().send_raw().await;
    let metrics = String::from_utf8(metrics.2).expect("text");
    assert_eq!(requests_total(&metrics, series), 1, "{metrics}");
    // Its COMMIT was pipelined behind the update, so the update stands, as it would had the
    // answer been lost on the wire.
    let name = app
        .get(&format!("/students/{student}"))
        .tenant("durmstrang")
        .send()
        .await;
    assert_eq!(name.body["name"], "Krum");
}
