//! Request logs: JSON lines carrying the request id and school, tenant transaction spans, and
//! never a body or a secret.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::TestApp;

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

    // A request its client gives up on (the row it renames is locked) gets a 499 line.
    let student = created.id();
    let lock = crate::limits::lock_student_row(&app, student.parse().expect("uuid")).await;
    let observer = app.privileged().await;
    let dropped = app
        .patch(&format!("/students/{student}"), json!({"name": "Dropped"}))
        .tenant("hogwarts")
        .header("x-request-id", "log-capture-3")
        .send();
    tokio::select! {
        reply = dropped => panic!("answered while its row was locked: {reply:?}"),
        () = crate::limits::lock_waiters(&observer, 1) => {}
    }
    lock.batch_execute("rollback")
        .await
        .expect("release the row");
    // With WIZREG_REQUEST_LOG=errors a successful request leaves no line.
    wizreg::logging::RequestLog::Errors.install();
    let quiet = app
        .get("/students")
        .tenant("hogwarts")
        .header("x-request-id", "log-capture-4")
        .send()
        .await;
    wizreg::logging::RequestLog::All.install();
    assert_eq!(quiet.status, StatusCode::OK);

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

    let closed = record("client closed request", "log-capture-3");
    assert_eq!(closed["fields"]["status"], 499);
    assert_eq!(closed["span"]["route"], "/students/{id}");
    assert_eq!(closed["span"]["tenant"], app.hogwarts.id.to_string());
    assert!(
        !logs.contains("log-capture-4"),
        "errors-only logging wrote a line for a 200: {logs}"
    );

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
