//! Proving a refusal came before any SQL: a router whose only pooled connection the test holds
//! (so any SQL would wait and 503) and whose tenant cache is warm, requests with raw header
//! bytes, and the checks every attacked answer must pass.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;
use wizreg::config::Config;

use crate::harness::{body_bytes, Backend, TestApp};

/// Sends a request with raw header bytes (non-ASCII and all), returning the status and body.
pub async fn send(
    router: &Router,
    method: Method,
    path: &str,
    headers: &[(&str, &[u8])],
    body: Option<Value>,
) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        match HeaderValue::from_bytes(value) {
            Ok(value) => request = request.header(*name, value),
            // Not representable in HTTP at all (NUL, newline): no server would ever see it.
            Err(_) => return (StatusCode::BAD_REQUEST, String::new()),
        }
    }
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = body_bytes(response).await;
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// The checks every attacked answer must pass.
pub fn assert_refused_cleanly(app: &TestApp, what: &str, status: StatusCode, body: &str) {
    assert!(status.is_client_error(), "{what}: {status} {body:.200}");
    let lowered = body.to_lowercase();
    for leak in [
        "sql",
        "syntax",
        "relation",
        "violates",
        "postgres",
        "pg_",
        "wizreg.",
        "constraint",
        "tokio",
    ] {
        assert!(
            !lowered.contains(leak),
            "{what}: database text '{leak}' in {body:.300}"
        );
    }
    for secret in [
        app.castelobruxo.id.to_string(),
        "castelobruxo pupil".to_owned(),
    ] {
        assert!(
            !body.contains(&secret),
            "{what}: another school's data in {body:.300}"
        );
    }
}

/// An app whose tenant cache is warm for `warm`, then whose only pooled connection is held by
/// the test: from then on a request that needs SQL waits for it and gets a 503 (shown with
/// `cold`, a school not in the cache), so a 4xx proves the input was refused before any SQL.
/// Keep the returned transaction alive while attacking.
pub async fn starved_router(
    app: &TestApp,
    config: &Config,
    warm: &[(&str, &[u8])],
    cold: &[(&str, &[u8])],
) -> (Router, tenancy::TenantTx) {
    let listeners = || async {
        let sql = "select count(*) from pg_stat_activity where datname = current_database()
                   and application_name = $1 and state = 'idle' and query ilike 'listen%'";
        let name = wizreg::tenant_events::APPLICATION_NAME;
        let row = app.privileged().await.query_one(sql, &[&name]).await;
        row.expect("count listeners").get::<_, i64>(0)
    };
    let before = listeners().await;
    let state = wizreg::serve::app_state(config, &app.database)
        .await
        .expect("state");
    let router = wizreg::http::router(state.clone());
    // The new app's tenant-change listener clears the cache once it listens: wait for that,
    // then warm (again, should the clearing land just after a warm-up).
    for _ in 0..500 {
        if listeners().await > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut hostage = None;
    for _ in 0..100 {
        let (status, body) = send(&router, Method::GET, "/students", warm, None).await;
        assert_eq!(status, StatusCode::OK, "warm-up: {body}");
        let held = state
            .tenancy
            .begin(app.hogwarts.id)
            .await
            .expect("the only connection");
        let (status, _) = send(&router, Method::GET, "/students/not-a-uuid", warm, None).await;
        if status == StatusCode::NOT_FOUND {
            hostage = Some(held);
            break;
        }
        drop(held);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let hostage = hostage.expect("the warm school resolves from the cache");
    let (status, _) = send(&router, Method::GET, "/students/not-a-uuid", cold, None).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "SQL is impossible now"
    );
    (router, hostage)
}

pub async fn seeded(adjust: impl FnOnce(&mut Config)) -> (TestApp, Config) {
    seeded_on(Backend::Postgres, adjust).await
}

/// [`seeded`] on `backend`.
pub async fn seeded_on(backend: Backend, adjust: impl FnOnce(&mut Config)) -> (TestApp, Config) {
    let mut captured = None;
    let app = TestApp::with_config_on(backend, |c| {
        c.tenant_cache_ttl_secs = 3600;
        c.api_key_cache_ttl_secs = 3600;
        c.pool_size = 1;
        c.pool_timeout_ms = 300;
        adjust(c);
        captured = Some(c.clone());
    })
    .await;
    let reply = app
        .post("/students", json!({"name": "castelobruxo pupil"}))
        .via(&app.router)
        .header("x-tenant", "castelobruxo")
        .send()
        .await;
    assert!(reply.status.is_success() || reply.status == StatusCode::UNAUTHORIZED);
    (app, captured.expect("config"))
}
