//! How a request names its school, and what it hears when it names none, an unknown one, or
//! a malformed one. None of these reach the database with a bad value.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::TestApp;

#[tokio::test]
async fn a_request_without_a_school_is_told_to_name_one() {
    let app = TestApp::new().await;
    let reply = app.get("/students").host("localhost:3000").send().await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "tenant_required")
    );
    let reply = app.get("/students").host("127.0.0.1:3000").send().await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "tenant_required")
    );
}

#[tokio::test]
async fn an_unknown_school_is_a_404_not_a_500() {
    let app = TestApp::new().await;
    let reply = app
        .get("/students")
        .host("durmstrang.localhost:3000")
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::NOT_FOUND, "unknown_tenant")
    );
    let reply = app
        .get("/students")
        .tenant("01a216be-1bed-703f-9664-f318153d89c2")
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::NOT_FOUND, "unknown_tenant")
    );
}

#[tokio::test]
async fn the_tenant_header_takes_a_slug_or_a_uuid_and_outranks_the_host() {
    let app = TestApp::new().await;
    let created = app
        .post("/students", json!({"name": "Luna"}))
        .tenant("HOGWARTS")
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["tenant_id"], json!(app.hogwarts.id));

    let by_id = app
        .get("/students")
        .tenant(&app.hogwarts.id.to_string())
        .send()
        .await;
    assert_eq!(by_id.body.as_array().map(Vec::len), Some(1));

    let header_wins = app
        .get("/students")
        .tenant("hogwarts")
        .host("castelobruxo.localhost")
        .send()
        .await;
    assert_eq!(header_wins.body.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn malformed_school_names_are_refused_before_any_sql() {
    let app = TestApp::new().await;
    for bad in [
        "'; drop table wizreg.student; --",
        "a b",
        "hog\\warts",
        &"x".repeat(10_000),
        "-x-",
        "é",
    ] {
        let reply = app.get("/students").tenant(bad).send().await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(reply.code(), "invalid_request");
    }
    for bad in ["a.b.localhost", "under_score.localhost", "x.localhost:port"] {
        let reply = app.get("/students").host(bad).send().await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad:?}");
    }
}

#[tokio::test]
async fn health_readiness_and_openapi_answer() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/healthz").send().await.status, StatusCode::OK);
    assert_eq!(app.get("/readyz").send().await.status, StatusCode::OK);
    let doc = app.get("/openapi.json").send().await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"]
        .as_str()
        .unwrap_or("")
        .starts_with("3.1"));
    for path in [
        "/students",
        "/students/{id}",
        "/houses",
        "/houses/{id}",
        "/healthz",
        "/readyz",
    ] {
        assert!(
            doc.body["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    let unknown = app.get("/nowhere").send().await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn two_x_tenant_or_two_host_headers_are_a_400() {
    let app = TestApp::new().await;
    for (first, second) in [("castelobruxo", "hogwarts"), ("hogwarts", "hogwarts")] {
        let reply = app
            .get("/students")
            .tenant(first)
            .tenant(second)
            .send()
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "X-Tenant {first}, {second}: {reply:?}"
        );
        let reply = app
            .get("/students")
            .host(&format!("{first}.localhost:3000"))
            .host(&format!("{second}.localhost:3000"))
            .send()
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "Host {first}, {second}: {reply:?}"
        );
    }
    // One of each is fine: they agree.
    let reply = app
        .get("/students")
        .tenant("hogwarts")
        .host("hogwarts.localhost:3000")
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}
