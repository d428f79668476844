//! `/admin/tenants`: creating, listing, renaming and suspending schools at runtime.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::TestApp;

#[tokio::test]
async fn the_admin_api_needs_the_admin_token() {
    let app = TestApp::new().await;
    let anonymous = app.get("/admin/tenants").send().await;
    assert_eq!(
        (anonymous.status, anonymous.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let wrong = app
        .get("/admin/tenants")
        .header("authorization", "Bearer nope")
        .send()
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let right = app.get("/admin/tenants").admin().send().await;
    assert_eq!(right.status, StatusCode::OK);
    assert_eq!(right.body.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_school_created_at_runtime_is_served_at_once() {
    let app = TestApp::new().await;
    // Cache a miss first: creation must not be hidden by it.
    assert_eq!(
        app.get("/students")
            .tenant("beauxbatons")
            .send()
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let created = app
        .post(
            "/admin/tenants",
            json!({"slug": "Beauxbatons", "name": "Académie de Magie Beauxbâtons"}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.body["slug"], "beauxbatons", "slugs are case-folded");
    assert_eq!(created.body["status"], "active");
    let students = app.get("/students").tenant("beauxbatons").send().await;
    assert_eq!(students.status, StatusCode::OK);

    let duplicate = app
        .post(
            "/admin/tenants",
            json!({"slug": "beauxbatons", "name": "Again"}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(
        (duplicate.status, duplicate.code()),
        (StatusCode::CONFLICT, "conflict")
    );
    let bad = app
        .post("/admin/tenants", json!({"slug": "no spaces", "name": "x"}))
        .admin()
        .send()
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body["error"]["fields"]["slug"].is_string());

    let by_slug = app.get("/admin/tenants/beauxbatons").admin().send().await;
    let by_id = app
        .get(&format!("/admin/tenants/{}", created.id()))
        .admin()
        .send()
        .await;
    assert_eq!(
        (by_slug.status, &by_slug.body),
        (StatusCode::OK, &by_id.body)
    );
    let missing = app.get("/admin/tenants/durmstrang").admin().send().await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::NOT_FOUND, "unknown_tenant")
    );
}

#[tokio::test]
async fn a_suspended_school_is_refused_at_once_and_can_be_resumed() {
    let app = TestApp::new().await;
    assert_eq!(
        app.get("/students").tenant("hogwarts").send().await.status,
        StatusCode::OK
    );
    let id = app.hogwarts.id;
    let suspended = app
        .patch(
            &format!("/admin/tenants/{id}"),
            json!({"status": "suspended"}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(
        (suspended.status, &suspended.body["status"]),
        (StatusCode::OK, &json!("suspended"))
    );
    let refused = app.get("/students").tenant("hogwarts").send().await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "tenant_suspended")
    );
    assert_eq!(
        app.get("/students")
            .tenant("castelobruxo")
            .send()
            .await
            .status,
        StatusCode::OK
    );

    let resumed = app
        .patch(
            &format!("/admin/tenants/{id}"),
            json!({"status": "active", "name": "Hogwarts"}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(resumed.body["name"], "Hogwarts");
    assert_eq!(
        app.get("/students").tenant("hogwarts").send().await.status,
        StatusCode::OK
    );
    let bad = app
        .patch(
            &format!("/admin/tenants/{id}"),
            json!({"status": "deleted"}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_patch_that_fails_part_way_changes_nothing() {
    let app = TestApp::new().await;
    // The second part (the statement timeout) fails after the first (status and name) ran.
    app.privileged()
        .await
        .batch_execute(
            "create function public.refuse_timeout_change() returns trigger language plpgsql as $$
             begin
               if new.statement_timeout_ms is distinct from old.statement_timeout_ms then
                 raise exception 'refused for the test';
               end if;
               return new;
             end $$;
             create trigger refuse_timeout_change before update on wizreg.tenant
               for each row execute function public.refuse_timeout_change();",
        )
        .await
        .expect("trigger");
    let reply = app
        .patch(
            "/admin/tenants/hogwarts",
            json!({"status": "suspended", "name": "Renamed", "statement_timeout_ms": 1000}),
        )
        .admin()
        .send()
        .await;
    assert!(!reply.status.is_success(), "{reply:?}");
    let school = app.get("/admin/tenants/hogwarts").admin().send().await;
    assert_eq!(
        school.body["status"], "active",
        "half a PATCH was kept: {school:?}"
    );
    assert_eq!(school.body["name"], app.hogwarts.name.as_str());
    assert_eq!(
        app.get("/students").tenant("hogwarts").send().await.status,
        StatusCode::OK
    );
}
