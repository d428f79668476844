//! Pool exhaustion, database timeouts and the per-school concurrency cap. A request is made to
//! hold a connection by letting it wait on a row that a privileged connection has locked, which
//! is how a slow request looks to the rest of the server.

use std::future::Future;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use tokio_postgres::Client;

use crate::harness::{begin_as_tenant, Reply, TestApp};

/// Waits until `count` sessions of this database are waiting on a lock.
pub async fn lock_waiters(observer: &Client, count: i64) {
    for _ in 0..500 {
        let row = observer
            .query_one(
                "select count(*) from pg_stat_activity
                 where datname = current_database() and wait_event_type = 'Lock'",
                &[],
            )
            .await
            .expect("pg_stat_activity");
        if row.get::<_, i64>(0) >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no request ever waited on the lock");
}

async fn new_student(app: &TestApp, school: &str) -> uuid::Uuid {
    let id = app
        .post("/students", json!({"name": "Neville"}))
        .tenant(school)
        .send()
        .await
        .id();
    id.parse().expect("uuid")
}

/// A superuser session inside a transaction holding `student`'s row lock, so a request that
/// writes the row waits on it; roll it back to let the request go on.
pub async fn lock_student_row(app: &TestApp, student: uuid::Uuid) -> Client {
    let locker = app.privileged().await;
    locker.batch_execute("begin").await.expect("begin");
    locker
        .execute(
            "select 1 from wizreg.student where id = $1 for update",
            &[&student],
        )
        .await
        .expect("lock the row");
    locker
}

/// Hogwarts renaming `student`: with the row locked, this request holds a pooled connection
/// (and a concurrency slot) while it waits on the lock.
fn rename_as_hogwarts(app: &TestApp, student: uuid::Uuid) -> impl Future<Output = Reply> + '_ {
    app.patch(
        &format!("/students/{student}"),
        json!({"name": "Longbottom"}),
    )
    .tenant("hogwarts")
    .send()
}

fn assert_retry_later(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!((reply.status, reply.code()), (status, code), "{reply:?}");
    assert!(reply.header("retry-after").is_some(), "{reply:?}");
}

#[tokio::test]
async fn an_exhausted_pool_answers_503_with_retry_after_and_early_rejections_take_no_connection() {
    let app = TestApp::with_config(|c| {
        c.pool_size = 1;
        c.pool_timeout_ms = 300;
        c.lock_timeout_ms = 60_000;
        c.statement_timeout_ms = 60_000;
    })
    .await;
    let student = new_student(&app, "hogwarts").await;
    // Warm the tenant cache: cached answers need no connection.
    app.get("/students").tenant("castelobruxo").send().await;
    app.get("/students").tenant("nosuchschool").send().await;
    let observer = app.privileged().await;
    let lock = lock_student_row(&app, student).await;

    // This request takes the pool's only connection and waits on the lock.
    let holder = rename_as_hogwarts(&app, student);
    let checks = async {
        lock_waiters(&observer, 1).await;
        let starved = app.get("/students").tenant("castelobruxo").send().await;
        assert_retry_later(&starved, StatusCode::SERVICE_UNAVAILABLE, "unavailable");

        let early = [
            app.get("/no-such-route")
                .tenant("castelobruxo")
                .send()
                .await,
            app.get("/students").tenant("not a school!").send().await,
            app.get("/students").tenant("nosuchschool").send().await,
            app.get("/students").host("a.b.localhost").send().await,
            app.post("/students", json!({"name": "x".repeat(70_000)}))
                .tenant("castelobruxo")
                .send()
                .await,
            app.call(axum::http::Method::POST, "/students")
                .tenant("castelobruxo")
                .raw_body("application/json", "{not json")
                .send()
                .await,
            app.call(axum::http::Method::POST, "/students")
                .tenant("castelobruxo")
                .raw_body("text/plain", "name=x")
                .send()
                .await,
            app.post("/students", json!({"name": ""}))
                .tenant("castelobruxo")
                .send()
                .await,
            app.get("/students?limit=99999999999999999999")
                .tenant("castelobruxo")
                .send()
                .await,
            app.get("/admin/tenants")
                .header("authorization", "Bearer wrong-token-0123456789")
                .send()
                .await,
        ];
        let statuses: Vec<u16> = early.iter().map(|r| r.status.as_u16()).collect();
        assert_eq!(
            statuses,
            [404, 400, 404, 400, 413, 400, 415, 422, 400, 401],
            "client mistakes are answered without waiting for the database"
        );
        lock.batch_execute("rollback")
            .await
            .expect("release the row");
    };
    let (held, ()) = tokio::join!(holder, checks);
    assert_eq!(held.status, StatusCode::OK, "{held:?}");
}

#[tokio::test]
async fn a_lock_wait_past_the_lock_timeout_is_cancelled_with_503() {
    let app = TestApp::with_config(|c| {
        c.lock_timeout_ms = 100;
        c.statement_timeout_ms = 60_000;
    })
    .await;
    let student = new_student(&app, "hogwarts").await;
    let lock = lock_student_row(&app, student).await;

    let blocked = rename_as_hogwarts(&app, student);
    // Without a lock timeout this would wait until the lock is released.
    let reply = tokio::time::timeout(Duration::from_secs(30), blocked)
        .await
        .expect("the lock timeout ended the wait");
    assert_retry_later(&reply, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    lock.batch_execute("rollback").await.expect("release");
    let after = app
        .get(&format!("/students/{student}"))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(
        after.body["name"], "Neville",
        "the cancelled update changed nothing"
    );
}

#[tokio::test]
async fn a_schools_statement_timeout_cancels_its_slow_statements_and_only_its_own() {
    let app = TestApp::with_config(|c| c.lock_timeout_ms = 60_000).await;
    let student = new_student(&app, "hogwarts").await;
    let set = app
        .patch(
            "/admin/tenants/hogwarts",
            json!({"statement_timeout_ms": 50}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(
        (set.status, &set.body["statement_timeout_ms"]),
        (StatusCode::OK, &json!(50))
    );
    let lock = lock_student_row(&app, student).await;
    let slow = rename_as_hogwarts(&app, student);
    let reply = tokio::time::timeout(Duration::from_secs(30), slow)
        .await
        .expect("the statement timeout ended the wait");
    assert_retry_later(&reply, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    lock.batch_execute("rollback").await.expect("release");

    // At the database, as the runtime role: the override lives in that school's transaction.
    let runtime = app.runtime_connection().await;
    let timeout_in = |school: uuid::Uuid| {
        let runtime = &runtime;
        async move {
            begin_as_tenant(runtime, school).await;
            let row = runtime
                .query_one("show statement_timeout", &[])
                .await
                .expect("show");
            runtime.batch_execute("commit").await.expect("commit");
            row.get::<_, String>(0)
        }
    };
    let outside = runtime
        .query_one("show statement_timeout", &[])
        .await
        .expect("show")
        .get::<_, String>(0);
    assert_eq!(timeout_in(app.hogwarts.id.as_uuid()).await, "50ms");
    assert_eq!(timeout_in(app.castelobruxo.id.as_uuid()).await, outside);
    let after = runtime
        .query_one("show statement_timeout", &[])
        .await
        .expect("show");
    assert_eq!(after.get::<_, String>(0), outside, "gone after commit");

    let cleared = app
        .patch(
            "/admin/tenants/hogwarts",
            json!({"statement_timeout_ms": null}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(cleared.body["statement_timeout_ms"], json!(null));
    assert_eq!(timeout_in(app.hogwarts.id.as_uuid()).await, outside);
    for bad in [json!(0), json!(600_001), json!("50"), json!(1.5)] {
        let reply = app
            .patch(
                "/admin/tenants/hogwarts",
                json!({"statement_timeout_ms": bad}),
            )
            .admin()
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

#[tokio::test]
async fn a_school_over_its_concurrency_cap_gets_429_while_other_schools_are_served() {
    let app = TestApp::with_config(|c| {
        c.tenant_max_concurrency = Some(1);
        c.pool_timeout_ms = 200;
        c.lock_timeout_ms = 60_000;
    })
    .await;
    let student = new_student(&app, "hogwarts").await;
    let observer = app.privileged().await;
    let lock = lock_student_row(&app, student).await;
    let holder = rename_as_hogwarts(&app, student);
    let checks = async {
        lock_waiters(&observer, 1).await;
        let capped = app.get("/students").tenant("hogwarts").send().await;
        assert_retry_later(&capped, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        let other = app.get("/students").tenant("castelobruxo").send().await;
        assert_eq!(other.status, StatusCode::OK);
        lock.batch_execute("rollback").await.expect("release");
    };
    let (held, ()) = tokio::join!(holder, checks);
    assert_eq!(held.status, StatusCode::OK);
    let freed = app.get("/students").tenant("hogwarts").send().await;
    assert_eq!(freed.status, StatusCode::OK, "the slot is released");
}
