//! Offboarding: deleting a school leaves nothing of it behind, in any tenant table, however it
//! was interrupted.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::json;
use tokio_postgres::Client;
use wizreg::offboard::{self, Offboarded, TENANT_TABLES};

use crate::harness::{on_both_backends, TestApp};
use crate::tenant_suspension::wait_for_status;

/// Every table of every schema with a `tenant_id` column, from the catalogue, so a table added
/// later is checked without anyone remembering to add it here.
async fn tenant_tables(privileged: &Client) -> BTreeSet<String> {
    privileged
        .query(
            "select format('%I.%I', n.nspname, c.relname)
             from pg_attribute a join pg_class c on c.oid = a.attrelid
             join pg_namespace n on n.oid = c.relnamespace
             where a.attname = 'tenant_id' and not a.attisdropped and c.relkind in ('r', 'p')
               and n.nspname not in ('pg_catalog', 'information_schema')",
            &[],
        )
        .await
        .expect("catalogue")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Rows of `tenant` in each tenant table (superuser: RLS does not hide them).
async fn rows_per_table(privileged: &Client, tenant: uuid::Uuid) -> Vec<(String, i64)> {
    let mut counts = Vec::new();
    for table in tenant_tables(privileged).await {
        let sql = format!("select count(*) from {table} where tenant_id = $1");
        let row = privileged.query_one(&sql, &[&tenant]).await.expect("count");
        counts.push((table, row.get(0)));
    }
    counts
}

on_both_backends! {
#[tokio::test]
async fn the_offboarding_list_names_every_tenant_table_in_the_catalogue(backend) {
    let app = TestApp::on(backend).await;
    let in_catalogue = tenant_tables(&app.privileged().await).await;
    let deleted_in_batches: BTreeSet<String> = TENANT_TABLES
        .iter()
        .map(|table| format!("wizreg.{}", table.name))
        .collect();
    assert_eq!(deleted_in_batches, in_catalogue);
}
}

on_both_backends! {
#[tokio::test]
async fn deleting_a_school_removes_every_row_in_every_tenant_table_and_frees_its_slug(backend) {
    let app = TestApp::on(backend).await;
    let house = app
        .post("/houses", json!({"name": "Gryffindor"}))
        .tenant("hogwarts")
        .send()
        .await;
    for (name, email) in [
        ("Harry", json!("harry@hogwarts.example")),
        ("Ron", json!(null)),
    ] {
        let student = app
            .post(
                "/students",
                json!({"name": name, "email": email, "house_id": house.id()}),
            )
            .tenant("hogwarts")
            .header("idempotency-key", name)
            .send()
            .await;
        assert_eq!(student.status, StatusCode::CREATED);
    }
    let key = app
        .post(
            &format!("/admin/tenants/{}/api-keys", app.hogwarts.id),
            json!({}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{key:?}");
    app.post("/students", json!({"name": "Alanza"}))
        .tenant("castelobruxo")
        .send()
        .await;
    let privileged = app.privileged().await;
    let hogwarts = app.hogwarts.id.as_uuid();
    let before = rows_per_table(&privileged, hogwarts).await;
    assert!(
        before.iter().all(|(_, rows)| *rows > 0),
        "the school has rows in every tenant table before: {before:?}"
    );
    let castelobruxo_before = rows_per_table(&privileged, app.castelobruxo.id.as_uuid()).await;

    let deleted = app
        .delete(&format!("/admin/tenants/{hogwarts}"))
        .admin()
        .send()
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{deleted:?}");

    let after = rows_per_table(&privileged, hogwarts).await;
    assert!(
        after.iter().all(|(_, rows)| *rows == 0),
        "left behind: {after:?}"
    );
    let tenant_rows = privileged
        .query("select 1 from wizreg.tenant where id = $1", &[&hogwarts])
        .await
        .expect("tenant row");
    assert!(tenant_rows.is_empty());
    assert_eq!(
        rows_per_table(&privileged, app.castelobruxo.id.as_uuid()).await,
        castelobruxo_before,
        "another school is untouched"
    );
    let gone = app.get("/students").tenant("hogwarts").send().await;
    assert_eq!(
        (gone.status, gone.code()),
        (StatusCode::NOT_FOUND, "unknown_tenant")
    );
    let again = app
        .delete(&format!("/admin/tenants/{hogwarts}"))
        .admin()
        .send()
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::NOT_FOUND, "unknown_tenant")
    );

    let reused = app
        .post(
            "/admin/tenants",
            json!({"slug": "hogwarts", "name": "Hogwarts"}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(reused.status, StatusCode::CREATED);
    let fresh = app.get("/students").tenant("hogwarts").send().await;
    assert_eq!(
        (fresh.status, fresh.body.clone()),
        (StatusCode::OK, json!([]))
    );
}
}

on_both_backends! {
#[tokio::test]
async fn deleting_needs_the_admin_token_and_an_existing_school(backend) {
    let app = TestApp::on(backend).await;
    let path = format!("/admin/tenants/{}", app.hogwarts.id);
    let anonymous = app.delete(&path).send().await;
    assert_eq!(
        (anonymous.status, anonymous.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let missing = app.delete("/admin/tenants/durmstrang").admin().send().await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::NOT_FOUND, "unknown_tenant")
    );
    let malformed = app
        .delete("/admin/tenants/not%20a%20slug")
        .admin()
        .send()
        .await;
    assert_eq!(malformed.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/students").tenant("hogwarts").send().await.status,
        StatusCode::OK
    );
}
}

on_both_backends! {
#[tokio::test]
async fn a_large_school_is_deleted_in_several_batches(backend) {
    let app = TestApp::on(backend).await;
    let privileged = app.privileged().await;
    let rows = offboard::BATCH_ROWS + 5;
    privileged
        .execute(
            "insert into wizreg.student (tenant_id, id, name)
             select $1, gen_random_uuid(), 'Student ' || n from generate_series(1, $2::bigint) n",
            &[&app.hogwarts.id.as_uuid(), &rows],
        )
        .await
        .expect("seed");
    let state = wizreg::serve::app_state(&app.config, &app.database)
        .await
        .expect("state");
    let platform = app
        .database
        .connect(wizreg::database::Role::Platform)
        .await
        .expect("platform");
    let mut reports = Vec::new();
    let outcome = offboard::delete_tenant(&platform, &state.tenancy, app.hogwarts.id, |n| {
        reports.push(n)
    })
    .await
    .expect("delete");
    assert_eq!(outcome, Offboarded::Deleted { rows: rows as u64 });
    assert!(
        reports.contains(&(offboard::BATCH_ROWS as u64)),
        "a first full batch: {reports:?}"
    );
    assert_eq!(reports.last(), Some(&(rows as u64)));
    let left = privileged
        .query_one(
            "select count(*) from wizreg.student where tenant_id = $1",
            &[&app.hogwarts.id.as_uuid()],
        )
        .await
        .expect("count");
    assert_eq!(left.get::<_, i64>(0), 0);
}
}

on_both_backends! {
#[tokio::test]
async fn a_half_deleted_school_serves_nothing_cannot_be_resumed_and_a_second_delete_finishes_it(backend) {
    let app = TestApp::on(backend).await;
    app.post("/students", json!({"name": "Harry"}))
        .tenant("hogwarts")
        .send()
        .await;
    let platform = app
        .database
        .connect(wizreg::database::Role::Platform)
        .await
        .expect("platform");
    // An offboarding that stopped right after its first step.
    assert!(
        wizreg::tenants::start_offboarding(&platform, app.hogwarts.id)
            .await
            .expect("mark")
    );

    // Marked by another process (the platform connection): heard through the notification.
    assert_eq!(
        wait_for_status(&app, &app.router, StatusCode::FORBIDDEN).await,
        StatusCode::FORBIDDEN
    );
    let path = format!("/admin/tenants/{}", app.hogwarts.id);
    let resume = app
        .patch(&path, json!({"status": "active"}))
        .admin()
        .send()
        .await;
    assert_eq!(
        (resume.status, resume.code()),
        (StatusCode::CONFLICT, "conflict")
    );
    let export = app.get(&format!("{path}/export")).admin().send().await;
    assert_eq!(export.status, StatusCode::CONFLICT);
    let import = app
        .call(axum::http::Method::POST, &format!("{path}/import"))
        .admin()
        .raw_body("application/x-ndjson", "")
        .send()
        .await;
    assert_eq!(import.status, StatusCode::CONFLICT);

    assert_eq!(
        app.delete(&path).admin().send().await.status,
        StatusCode::NO_CONTENT
    );
    let privileged = app.privileged().await;
    let left = rows_per_table(&privileged, app.hogwarts.id.as_uuid()).await;
    assert!(
        left.iter().all(|(_, rows)| *rows == 0),
        "left behind: {left:?}"
    );
}
}
