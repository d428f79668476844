//! A slug is never shaped like a UUID: `X-Tenant` and `/admin/tenants/{id-or-slug}` read a
//! hyphenated UUID as an id, so such a slug would name one school there and another by Host.
//! Refused by the parser (API and CLI) and by a database CHECK; a school that already had one
//! is renamed by the migration, keeping its id and data.

use axum::http::StatusCode;
use serde_json::json;
use wizreg::database::Role;

use crate::harness::TestApp;

#[tokio::test]
async fn a_uuid_shaped_slug_is_refused_by_the_api_and_by_the_database() {
    let app = TestApp::new().await;
    // The other school's id as a slug: the most confusing choice there is.
    let shaped = app.castelobruxo.id.to_string();
    let reply = app
        .post(
            "/admin/tenants",
            json!({"slug": shaped, "name": "Impostor"}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        "{reply:?}"
    );
    assert!(
        reply.body["error"]["fields"]["slug"].is_string(),
        "{reply:?}"
    );
    let upper = shaped.to_uppercase();
    let reply = app
        .post("/admin/tenants", json!({"slug": upper, "name": "Impostor"}))
        .admin()
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Code that skips the parser meets the CHECK.
    let platform = app
        .database
        .connect(Role::Platform)
        .await
        .expect("platform");
    let err = platform
        .execute(
            "insert into wizreg.tenant (id, slug, name) values (gen_random_uuid(), $1, 'x')",
            &[&shaped],
        )
        .await
        .expect_err("a UUID-shaped slug was stored");
    let constraint = err.as_db_error().and_then(|db| db.constraint());
    assert_eq!(constraint, Some("tenant_slug_not_uuid"));
}

#[tokio::test]
async fn the_migration_renames_an_existing_uuid_shaped_slug_and_keeps_the_school() {
    let app = TestApp::new().await;
    let owner = app.privileged().await;
    let shaped = "0190f0e6-8d8e-7b4c-9d0e-0a1b2c3d4e5f";
    // A database from before the rule: no constraint, and a school with such a slug.
    owner
        .batch_execute(&format!(
            "alter table wizreg.tenant drop constraint tenant_slug_not_uuid;
             update wizreg.tenant set slug = '{shaped}' where id = '{}';",
            app.hogwarts.id
        ))
        .await
        .expect("an old database");
    let (_, _, migration) = wizreg::migrate::MIGRATIONS
        .iter()
        .find(|(version, _, _)| *version == 6)
        .expect("migration 6");
    owner
        .batch_execute(&format!(
            "begin; set local role wizreg_owner; {migration} commit;"
        ))
        .await
        .expect("the migration applies over an old row");
    let renamed: String = owner
        .query_one(
            "select slug from wizreg.tenant where id = $1",
            &[&app.hogwarts.id.as_uuid()],
        )
        .await
        .expect("the school is still there")
        .get(0);
    assert_eq!(renamed, format!("t-{shaped}"));
    let constraints: i64 = owner
        .query_one(
            "select count(*) from pg_constraint where conname = 'tenant_slug_not_uuid'",
            &[],
        )
        .await
        .expect("catalogue")
        .get(0);
    assert_eq!(constraints, 1);
}
