//! The attack suite, part 4: what a runtime-role session can do at the database. With no
//! tenant set it sees and writes nothing in any tenant table the catalogue lists; TRUNCATE,
//! COPY FROM and temporary tables are refused; and session state that the role *can* create
//! (a session-level tenant, an advisory lock, an open transaction) never reaches the next
//! request, because the pool's checkout verification discards such a connection.

use std::sync::atomic::Ordering;

use futures_util::SinkExt;
use serde_json::json;
use tenancy::pool::build_pool;
use tenancy::{PgPool, PoolOptions};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;
use wizreg::database::Role;

use crate::harness::{begin_as_tenant, TestApp};

/// Both schools with a house and a student each.
async fn seeded() -> TestApp {
    let app = TestApp::new().await;
    for school in ["hogwarts", "castelobruxo"] {
        let house = app
            .post("/houses", json!({"name": "H"}))
            .tenant(school)
            .send()
            .await
            .id();
        app.post("/students", json!({"name": "S", "house_id": house}))
            .tenant(school)
            .send()
            .await;
    }
    app
}

/// Rows of `table` the session can see; a missing grant counts as seeing nothing.
async fn visible(client: &Client, table: &str) -> i64 {
    match client
        .query_one(&format!("select count(*) from {table}"), &[])
        .await
    {
        Ok(row) => row.get(0),
        Err(err) if err.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => 0,
        Err(err) => panic!("{table}: {err}"),
    }
}

/// Rows a statement changed; a missing grant counts as changing nothing.
async fn changed(client: &Client, sql: &str) -> u64 {
    match client.execute(sql, &[]).await {
        Ok(n) => n,
        Err(err) if err.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => 0,
        Err(err) => panic!("{sql}: {err}"),
    }
}

async fn assert_sees_and_changes_nothing(client: &Client, tables: &[String], when: &str) {
    for table in tables {
        assert_eq!(
            visible(client, table).await,
            0,
            "{when}: {table} is visible"
        );
        let update = format!("update {table} set tenant_id = tenant_id");
        assert_eq!(
            changed(client, &update).await,
            0,
            "{when}: {table} updatable"
        );
        assert_eq!(
            changed(client, &format!("delete from {table}")).await,
            0,
            "{when}: {table} deletable"
        );
    }
}

#[tokio::test]
async fn a_runtime_session_without_a_tenant_sees_and_changes_nothing_in_every_catalogued_tenant_table(
) {
    let app = seeded().await;
    let tables = crate::audit::audit(&app).await.inspected.tenant_tables;
    assert!(tables.len() >= 2, "{tables:?}");
    let privileged = app.privileged().await;
    for table in ["wizreg.student", "wizreg.house"] {
        assert_eq!(
            visible(&privileged, table).await,
            2,
            "the data the test hides exists"
        );
    }
    let runtime = app.runtime_connection().await;
    assert_sees_and_changes_nothing(&runtime, &tables, "fresh session").await;

    for ending in ["commit", "rollback", "error"] {
        begin_as_tenant(&runtime, app.hogwarts.id.as_uuid()).await;
        assert_eq!(
            visible(&runtime, "wizreg.student").await,
            1,
            "inside Hogwarts' transaction"
        );
        match ending {
            "error" => {
                assert!(runtime.batch_execute("select 1/0").await.is_err());
                runtime.batch_execute("rollback").await.expect("rollback");
            }
            other => runtime.batch_execute(other).await.expect("end"),
        }
        assert_sees_and_changes_nothing(&runtime, &tables, &format!("reused after {ending}")).await;
    }
    for table in ["wizreg.student", "wizreg.house"] {
        assert_eq!(visible(&privileged, table).await, 2, "{table} untouched");
    }
}

#[tokio::test]
async fn truncate_temporary_tables_and_copy_from_are_refused_to_the_runtime_role() {
    let app = seeded().await;
    let tables = crate::audit::audit(&app).await.inspected.tenant_tables;
    let runtime = app.runtime_connection().await;
    for table in &tables {
        let err = runtime
            .batch_execute(&format!("truncate {table}"))
            .await
            .expect_err("truncate");
        assert_eq!(
            err.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{table}"
        );
    }
    for sql in [
        "create temp table t (x int)",
        "create table pg_temp.t (x int)",
        "begin; create temp table t (x int) on commit drop",
    ] {
        let err = runtime.batch_execute(sql).await.expect_err(sql);
        assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}");
        let _ = runtime.batch_execute("rollback").await;
    }

    // COPY FROM inside Hogwarts' transaction, with rows claiming to be Castelobruxo's.
    begin_as_tenant(&runtime, app.hogwarts.id.as_uuid()).await;
    let copied = async {
        let sink = runtime
            .copy_in("copy wizreg.student (tenant_id, id, name) from stdin")
            .await?;
        let row = format!("{}\t{}\tMole\n", app.castelobruxo.id, uuid::Uuid::now_v7());
        futures_util::pin_mut!(sink);
        sink.send(bytes::Bytes::from(row)).await?;
        sink.finish().await
    }
    .await;
    let refused = copied.expect_err("COPY FROM into a table with RLS is refused");
    assert_eq!(
        refused.code(),
        Some(&SqlState::FEATURE_NOT_SUPPORTED),
        "{refused:?}"
    );
    drop(runtime);
    let count: i64 = app
        .privileged()
        .await
        .query_one("select count(*) from wizreg.student", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 2, "nothing was copied in");
}

#[tokio::test]
async fn copy_to_as_the_runtime_role_returns_only_the_current_schools_rows() {
    let app = seeded().await;
    let runtime = app.runtime_connection().await;
    let copy_out = |sql: &'static str| {
        let runtime = &runtime;
        async move {
            let stream = runtime.copy_out(sql).await.expect("copy out");
            futures_util::pin_mut!(stream);
            let mut text = Vec::new();
            while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
                text.extend_from_slice(&chunk.expect("chunk"));
            }
            String::from_utf8(text).expect("utf-8")
        }
    };
    assert_eq!(
        copy_out("copy (select tenant_id from wizreg.student) to stdout").await,
        ""
    );
    begin_as_tenant(&runtime, app.hogwarts.id.as_uuid()).await;
    let inside = copy_out("copy (select tenant_id from wizreg.student) to stdout").await;
    runtime.batch_execute("commit").await.expect("commit");
    assert_eq!(inside, format!("{}\n", app.hogwarts.id));
}

/// A one-connection runtime pool that verifies every checkout, as `WIZREG_VERIFY_CHECKOUT` does.
fn verified_pool(app: &TestApp) -> PgPool {
    let options = PoolOptions {
        max_size: 1,
        verify_on_checkout: Some(wizreg::audit::TENANT_SETTING),
        ..PoolOptions::default()
    };
    build_pool(app.database.config(Role::App), options)
}

#[tokio::test]
async fn a_session_level_tenant_lock_or_open_transaction_is_caught_at_checkout_and_never_reused() {
    let app = seeded().await;
    let pool = verified_pool(&app);
    let castelobruxo = app.castelobruxo.id;
    for (state, sql) in [
        (
            "a session-level tenant",
            format!("set wizreg.current_tenant = '{castelobruxo}'"),
        ),
        (
            "a session advisory lock",
            "select pg_advisory_lock(42)".to_owned(),
        ),
        ("an open transaction", "begin".to_owned()),
    ] {
        let conn = pool.get().await.expect("connection");
        // The runtime role may do all three: the SQL is allowed, which is why the pool checks.
        conn.client().batch_execute(&sql).await.expect(&sql);
        let pid: i32 = conn
            .client()
            .query_one("select pg_backend_pid()", &[])
            .await
            .expect("pid")
            .get(0);
        drop(conn);

        let before = pool
            .manager()
            .checkout_stats()
            .violations
            .load(Ordering::Relaxed);
        let next = pool.get().await.expect("a clean connection");
        let next_pid: i32 = next
            .client()
            .query_one("select pg_backend_pid()", &[])
            .await
            .expect("pid")
            .get(0);
        assert_ne!(pid, next_pid, "{state}: the tainted session was discarded");
        let row = next
            .client()
            .query_one("select coalesce(current_setting('wizreg.current_tenant', true), ''), (select count(*) from wizreg.student)", &[])
            .await
            .expect("check");
        assert_eq!(
            (row.get::<_, String>(0), row.get::<_, i64>(1)),
            (String::new(), 0),
            "{state}"
        );
        assert_eq!(
            pool.manager()
                .checkout_stats()
                .violations
                .load(Ordering::Relaxed),
            before + 1,
            "counted once"
        );
        drop(next);
    }
    assert_eq!(
        pool.manager()
            .checkout_stats()
            .violations
            .load(Ordering::Relaxed),
        3
    );
}

#[tokio::test]
async fn a_session_level_tenant_is_overridden_inside_every_tenant_transaction() {
    let app = seeded().await;
    let runtime = app.runtime_connection().await;
    let castelobruxo = app.castelobruxo.id;
    runtime
        .batch_execute(&format!("set wizreg.current_tenant = '{castelobruxo}'"))
        .await
        .expect("set");
    begin_as_tenant(&runtime, app.hogwarts.id.as_uuid()).await;
    let rows = runtime
        .query("select tenant_id from wizreg.student", &[])
        .await
        .expect("select");
    runtime.batch_execute("commit").await.expect("commit");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].get::<_, uuid::Uuid>(0),
        app.hogwarts.id.as_uuid(),
        "SET LOCAL wins"
    );
}

#[tokio::test]
async fn a_stored_tenant_default_is_refused_to_the_runtime_role_and_caught_when_an_operator_adds_one(
) {
    let app = seeded().await;
    let store = format!(
        "alter role wizreg_app in database {} set wizreg.current_tenant = '{}'",
        app.dbname, app.castelobruxo.id
    );
    let refused = app
        .runtime_connection()
        .await
        .batch_execute(&store)
        .await
        .expect_err("the runtime role cannot store a default for a custom setting");
    assert_eq!(refused.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));

    // A superuser can: then the audit reports it and a verified pool refuses the new sessions
    // that would start with Castelobruxo's rows visible.
    app.privileged()
        .await
        .batch_execute(&store)
        .await
        .expect("store");
    assert!(crate::audit::audit(&app)
        .await
        .has(tenancy::audit::FindingKind::TenantSettingDefault));
    let pool = verified_pool(&app);
    assert!(
        pool.get().await.is_err(),
        "a session that starts with a tenant is refused"
    );
    let violations = &pool.manager().checkout_stats().violations;
    assert_eq!(violations.load(Ordering::Relaxed), 1);
}
