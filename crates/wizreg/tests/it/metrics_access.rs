//! `/metrics` is not public: anonymous callers on the main listener get a JSON `401` that
//! names no school, the admin token opens it, the operations listener serves it without one,
//! and no school's slug is a label unless the operator opts in. `/healthz` and `/readyz` stay
//! open and name no school.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use crate::harness::{body_bytes, TestApp};
use crate::observability::{metrics_text, sample};

/// A school only these tests serve, so its slug in the process-wide series is theirs.
async fn school_with_traffic(app: &TestApp, slug: &str) {
    let created = app
        .post(
            "/admin/tenants",
            serde_json::json!({"slug": slug, "name": slug}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    for _ in 0..2 {
        assert_eq!(
            app.get("/students").tenant(slug).send().await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn anonymous_metrics_on_the_main_listener_is_a_json_401_naming_no_school() {
    let app = TestApp::new().await;
    school_with_traffic(&app, "anon-metrics-probe").await;

    for auth in [
        None,
        Some("Bearer not-the-admin-token-000000"),
        Some("Basic eDp5"),
    ] {
        let mut call = app.get("/metrics");
        if let Some(value) = auth {
            call = call.header("authorization", value);
        }
        let (status, headers, bytes) = call.send_raw().await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(headers["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/json"));
        let body: Value = serde_json::from_slice(&bytes).expect("a JSON error");
        assert_eq!(body["error"]["code"], "unauthorized", "{auth:?}");
        let text = String::from_utf8_lossy(&bytes);
        for slug in ["anon-metrics-probe", "hogwarts", "castelobruxo", "wizreg_"] {
            assert!(!text.contains(slug), "{slug} in {text}");
        }
    }
}

#[tokio::test]
async fn with_the_admin_token_metrics_work_and_name_no_school_by_default() {
    let app = TestApp::new().await;
    school_with_traffic(&app, "unlabelled-probe").await;

    let text = metrics_text(&app).await;

    assert!(!text.contains("unlabelled-probe"), "{text}");
    assert!(
        sample(
            &text,
            "wizreg_http_requests_total",
            &["route=\"/students\"", "status=\"200\"", "tenant=\"other\""]
        )
        .is_some_and(|n| n >= 2.0),
        "the school's requests are counted without its name: {text}"
    );
}

#[tokio::test]
async fn the_ops_listener_serves_metrics_without_a_token_and_health_names_no_school() {
    let app = TestApp::new().await;
    school_with_traffic(&app, "ops-probe").await;
    let state = wizreg::serve::app_state(&app.config, &app.database)
        .await
        .expect("app state");
    let ops = wizreg::http::ops::router(state);
    let get = |path: &'static str| {
        let ops = ops.clone();
        async move {
            let request = Request::get(path).body(Body::empty()).expect("request");
            let response = ops.oneshot(request).await.expect("infallible");
            let status = response.status();
            (
                status,
                String::from_utf8(body_bytes(response).await.to_vec()).expect("utf-8"),
            )
        }
    };

    let (status, metrics) = get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(metrics.contains("wizreg_http_requests_total"), "{metrics}");
    assert!(!metrics.contains("ops-probe"), "{metrics}");
    for path in ["/healthz", "/readyz"] {
        let (status, body) = get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        for slug in ["ops-probe", "hogwarts", "castelobruxo"] {
            assert!(!body.contains(slug), "{path}: {body}");
        }
        // The main listener answers them without any credential too.
        assert_eq!(app.get(path).send().await.status, StatusCode::OK, "{path}");
    }
    let (status, _) = get("/students").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the ops listener serves nothing else"
    );
}
