//! The attack suite, part 4: what a runtime-role session can do at the database. With no
//! tenant set it sees and writes nothing in any tenant table the catalogue lists; TRUNCATE,
//! COPY FROM and temporary tables are refused; and session state that the role *can* create
//! (a session-level tenant, an advisory lock, an open transaction) never reaches the next
//! request, because the pool's checkout verification discards such a connection.

mod checkout;

use futures_util::SinkExt;
use serde_json::json;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use crate::harness::{begin_as_tenant, on_both_backends, Backend, TestApp};

/// Both schools with a house and a student each.
async fn seeded(backend: Backend) -> TestApp {
    let app = TestApp::on(backend).await;
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

on_both_backends! {
#[tokio::test]
async fn a_runtime_session_without_a_tenant_sees_and_changes_nothing_in_every_catalogued_tenant_table(backend) {
    let app = seeded(backend).await;
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
}

on_both_backends! {
#[tokio::test]
async fn truncate_temporary_tables_and_copy_from_are_refused_to_the_runtime_role(backend) {
    let app = seeded(backend).await;
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
}

on_both_backends! {
#[tokio::test]
async fn copy_to_as_the_runtime_role_returns_only_the_current_schools_rows(backend) {
    let app = seeded(backend).await;
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
}
