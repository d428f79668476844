//! Observability: `/metrics` series and their bounded labels, and request ids (the logs are in
//! `request_logs.rs`).

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::TestApp;

/// The exposition, as the administrator sees it.
pub async fn metrics_text(app: &TestApp) -> String {
    let (status, headers, bytes) = app.get("/metrics").admin().send_raw().await;
    assert_eq!(status, StatusCode::OK);
    let content_type = headers["content-type"].to_str().expect("ascii");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    String::from_utf8(bytes).expect("utf-8")
}

/// The value of the series whose name and labels contain every one of `parts`.
pub fn sample(text: &str, name: &str, parts: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .find(|line| parts.iter().all(|part| line.contains(part)))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_status_and_tenant_slug_when_opted_in() {
    let app = TestApp::with_config(|config| config.metrics_tenant_labels = 20).await;
    // The series are process-wide and other tests use hogwarts: a school only this test uses
    // makes the counts exact.
    const SCHOOL: &str = "metrics-probe";
    let school = app
        .post(
            "/admin/tenants",
            json!({"slug": SCHOOL, "name": "Metrics Probe"}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(school.status, StatusCode::CREATED, "{:?}", school.body);
    let created = app
        .post("/students/", json!({"name": "Harry Potter"}))
        .tenant(SCHOOL)
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let path = format!("/students/{}", created.id());
    for _ in 0..3 {
        assert_eq!(
            app.get(&path).tenant(SCHOOL).send().await.status,
            StatusCode::OK
        );
    }
    let unknown = app
        .get("/students")
        .tenant("no-such-school-xyz")
        .send()
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let text = metrics_text(&app).await;

    let by_template = [
        "route=\"/students/{id}\"",
        "method=\"GET\"",
        "status=\"200\"",
        "tenant=\"metrics-probe\"",
    ];
    assert_eq!(
        sample(&text, "wizreg_http_requests_total", &by_template),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "wizreg_http_request_duration_seconds_count",
            &by_template
        ),
        Some(3.0)
    );
    assert!(sample(
        &text,
        "wizreg_http_request_duration_seconds_bucket",
        &by_template
    )
    .is_some());
    assert!(
        sample(
            &text,
            "wizreg_http_requests_total",
            &[
                "route=\"/students\"",
                "method=\"POST\"",
                "status=\"201\"",
                "tenant=\"metrics-probe\""
            ]
        )
        .is_some(),
        "the trailing-slash route is folded into the plain one: {text}"
    );
    assert!(
        sample(
            &text,
            "wizreg_http_requests_total",
            &["status=\"404\"", "tenant=\"none\""]
        )
        .is_some(),
        "{text}"
    );
    assert!(
        !text.contains("no-such-school-xyz"),
        "an unknown school never becomes a label"
    );
    assert!(
        !text.contains(&created.id()),
        "raw paths never become labels"
    );
}

#[tokio::test]
async fn metrics_expose_pool_gauges_and_database_errors_by_sqlstate_class() {
    let app = TestApp::new().await;
    let house = json!({"name": "Gryffindor"});
    let first = app
        .post("/houses", house.clone())
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let duplicate = app.post("/houses", house).tenant("hogwarts").send().await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);

    let text = metrics_text(&app).await;

    assert!(
        sample(
            &text,
            "wizreg_db_errors_total",
            &["class=\"23\"", "kind=\"unique_violation\""]
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    for (name, parts) in [
        ("wizreg_db_pool_connections", &["state=\"in_use\""][..]),
        ("wizreg_db_pool_connections", &["state=\"idle\""][..]),
        ("wizreg_db_pool_max_connections", &[][..]),
        ("wizreg_db_pool_waiting", &[][..]),
        ("wizreg_db_pool_acquire_timeouts_total", &[][..]),
        ("wizreg_limit_rejections_total", &["limit=\"rate\""][..]),
        (
            "wizreg_limit_rejections_total",
            &["limit=\"concurrency\""][..],
        ),
    ] {
        assert!(
            sample(&text, name, parts).is_some(),
            "{name} {parts:?} missing: {text}"
        );
    }
    assert!(
        sample(&text, "wizreg_db_pool_connections", &["state=\"idle\""]).is_some_and(|n| n >= 1.0),
        "the connections used above are idle in the pool now"
    );
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_and_a_missing_or_unsafe_one_is_replaced() {
    let app = TestApp::new().await;

    let given = app
        .get("/students")
        .tenant("hogwarts")
        .header("x-request-id", "trace-42.a_b")
        .send()
        .await;
    let missing = app.get("/students").tenant("hogwarts").send().await;
    let unsafe_id = app
        .get("/nowhere")
        .header("x-request-id", &"x".repeat(500))
        .send()
        .await;

    assert_eq!(given.header("x-request-id"), Some("trace-42.a_b"));
    let generated = missing.header("x-request-id").expect("a generated id");
    assert_eq!(generated.len(), 32);
    assert!(generated.bytes().all(|b| b.is_ascii_hexdigit()));
    let replaced = unsafe_id.header("x-request-id").expect("a replacement id");
    assert_eq!(replaced.len(), 32, "an overlong id is not echoed");
}
