//! Observability: `/metrics` series and their bounded labels, request ids, and request logs
//! that carry the request id and school but never a body or a secret.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use crate::harness::TestApp;

async fn metrics_text(app: &TestApp) -> String {
    let request = Request::get("/metrics")
        .body(Body::empty())
        .expect("request");
    let response = app
        .router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().expect("ascii");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

/// The value of the series whose name and labels contain every one of `parts`.
fn sample(text: &str, name: &str, parts: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .find(|line| parts.iter().all(|part| line.contains(part)))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_status_and_tenant_slug() {
    let app = TestApp::new().await;
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

/// Collects log output in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Every log assertion lives in this one test: the thread-local subscriber it installs shares
/// tracing's callsite cache with every other test thread, and one such test at a time keeps
/// that simple.
#[tokio::test]
async fn json_logs_carry_request_id_and_tenant_with_transaction_spans_but_no_body_or_secret() {
    let captured = Captured::default();
    let subscriber = wizreg::logging::subscriber(
        true,
        tracing_subscriber::EnvFilter::new("info,tenancy=debug"),
        captured.clone(),
    );
    // tracing caches, per log callsite and for all threads, whether anyone listens. With a
    // single subscriber registered it asks only the registering thread's, so a callsite first
    // reached by another test's thread would be cached as unheard: a second (silent) one makes
    // it ask every registered subscriber.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    // A current-thread test: everything the requests do is polled on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = TestApp::new().await;
    // And callsites that other threads registered while this was being set up ask again.
    tracing::callsite::rebuild_interest_cache();

    let created = app
        .post(
            "/students",
            json!({"name": "Body-Secret-Marker", "email": "marker@example.org"}),
        )
        .tenant("hogwarts")
        .header("x-request-id", "log-capture-1")
        .header("cookie", "session=Cookie-Secret-Marker")
        .send()
        .await;
    let house = json!({"name": "Ravenclaw"});
    let first_house = app
        .post("/houses", house.clone())
        .tenant("hogwarts")
        .send()
        .await;
    let duplicate = app
        .post("/houses", house)
        .tenant("hogwarts")
        .header("x-request-id", "log-capture-2")
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(first_house.status, StatusCode::CREATED);
    assert_eq!(duplicate.status, StatusCode::CONFLICT);

    let logs = String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("utf-8");
    let record = |message: &str, request_id: &str| -> serde_json::Value {
        let line = logs
            .lines()
            .find(|l| l.contains(&format!("\"message\":\"{message}\"")) && l.contains(request_id))
            .unwrap_or_else(|| panic!("no '{message}' line for {request_id} in: {logs}"));
        serde_json::from_str(line).expect("a JSON log line")
    };
    let request = record("request", "log-capture-1");
    assert_eq!(request["span"]["request_id"], "log-capture-1");
    assert_eq!(request["span"]["tenant"], app.hogwarts.id.to_string());
    assert_eq!(request["span"]["route"], "/students");
    assert_eq!(request["fields"]["status"], 201);
    for secret in [
        "Body-Secret-Marker",
        "marker@example.org",
        "Cookie-Secret-Marker",
    ] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the logs: {logs}"
        );
    }

    let committed = record("tenant transaction ended", "log-capture-1");
    assert_eq!(committed["span"]["name"], "tenant_tx");
    assert_eq!(committed["span"]["tenant"], app.hogwarts.id.to_string());
    assert_eq!(committed["fields"]["outcome"], "committed");
    assert!(committed["fields"]["statements"]
        .as_u64()
        .is_some_and(|n| n >= 1));
    assert_eq!(
        record("tenant transaction ended", "log-capture-2")["fields"]["outcome"],
        "failed"
    );
}
