//! The example service (`examples/projects.rs`), driven through its router in-process against
//! the template schema: what its README promises an adopter.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tenancy::PoolOptions;
use tower::ServiceExt;

use crate::harness::TestDb;

// Formatted as an example (with `examples/rustfmt.toml`), not as a test.
#[allow(dead_code, reason = "the example's main is not run here, only its router")]
#[path = "../../examples/projects.rs"]
#[rustfmt::skip]
mod projects;

/// Sends one request and returns the status and the JSON (or text) answer.
async fn send(
    app: &axum::Router,
    method: &str,
    path: &str,
    tenant: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(tenant) = tenant {
        request = request.header("x-tenant", tenant);
    }
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("request");
    let response = app.clone().oneshot(request).await.expect("answer");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

#[tokio::test]
async fn the_example_service_keeps_each_tenants_projects_apart() {
    let db = TestDb::new().await;
    let acme = db.account("acme").await;
    db.account("globex").await;
    let app = projects::router(db.tenancy(PoolOptions::default()));

    let (created, launch) = send(
        &app,
        "POST",
        "/projects",
        Some("acme"),
        Some(json!({"name": "Launch"})),
    )
    .await;
    let id = launch["id"].as_str().expect("an id").to_owned();
    send(
        &app,
        "POST",
        "/projects",
        Some("globex"),
        Some(json!({"name": "Dome"})),
    )
    .await;
    let (_, acme_list) = send(&app, "GET", "/projects", Some(&acme.to_string()), None).await;
    let (_, globex_list) = send(&app, "GET", "/projects", Some("globex"), None).await;
    let project = format!("/projects/{id}");
    let (globex_reads, _) = send(&app, "GET", &project, Some("globex"), None).await;
    let (globex_renames, _) = send(
        &app,
        "PATCH",
        &project,
        Some("globex"),
        Some(json!({"name": "Mine"})),
    )
    .await;
    let (globex_deletes, _) = send(&app, "DELETE", &project, Some("globex"), None).await;
    let (acme_renames, renamed) = send(
        &app,
        "PATCH",
        &project,
        Some("acme"),
        Some(json!({"name": "Lift-off"})),
    )
    .await;
    let (acme_deletes, _) = send(&app, "DELETE", &project, Some("acme"), None).await;

    assert_eq!(created, StatusCode::CREATED);
    assert_eq!(
        acme_list,
        json!([{"id": id, "name": "Launch"}]),
        "by id, acme sees its own"
    );
    assert_eq!(globex_list.as_array().map(Vec::len), Some(1));
    assert_eq!(globex_list[0]["name"], "Dome");
    assert_eq!(
        globex_reads,
        StatusCode::NOT_FOUND,
        "another tenant's project is not there"
    );
    assert_eq!(globex_renames, StatusCode::NOT_FOUND);
    assert_eq!(globex_deletes, StatusCode::NOT_FOUND);
    assert_eq!(
        (acme_renames, &renamed["name"]),
        (StatusCode::OK, &json!("Lift-off"))
    );
    assert_eq!(acme_deletes, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_example_service_refuses_requests_without_a_known_tenant_and_duplicates() {
    let db = TestDb::new().await;
    db.account("acme").await;
    let app = projects::router(db.tenancy(PoolOptions::default()));

    let (no_tenant, _) = send(&app, "GET", "/projects", None, None).await;
    let (malformed, _) = send(&app, "GET", "/projects", Some("not a slug"), None).await;
    let (unknown, _) = send(&app, "GET", "/projects", Some("initech"), None).await;
    send(
        &app,
        "POST",
        "/projects",
        Some("acme"),
        Some(json!({"name": "Launch"})),
    )
    .await;
    let (duplicate, _) = send(
        &app,
        "POST",
        "/projects",
        Some("acme"),
        Some(json!({"name": "Launch"})),
    )
    .await;

    assert_eq!(no_tenant, StatusCode::BAD_REQUEST);
    assert_eq!(malformed, StatusCode::BAD_REQUEST);
    assert_eq!(unknown, StatusCode::NOT_FOUND);
    assert_eq!(duplicate, StatusCode::CONFLICT);
}
