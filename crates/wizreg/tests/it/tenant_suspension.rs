//! Suspension across servers: a change made through one server (or the CLI, or any platform
//! connection) is heard by every other server sharing the database through LISTEN/NOTIFY, also
//! after its listening session was cut.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::Router;
use serde_json::json;

use crate::harness::{on_both_backends, Backend, TestApp};

/// An app whose tenant cache would hold a stale record for an hour: only the cross-process
/// notification can make another instance see a change in time.
async fn app_with_long_cache(backend: Backend) -> TestApp {
    TestApp::with_config_on(backend, |config| config.tenant_cache_ttl_secs = 3600).await
}

/// Polls `instance` until hogwarts answers `expected`, for at most ten seconds.
pub async fn wait_for_status(app: &TestApp, instance: &Router, expected: StatusCode) -> StatusCode {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = app
            .get("/students")
            .tenant("hogwarts")
            .via(instance)
            .send()
            .await
            .status;
        if status == expected || Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

on_both_backends! {
#[tokio::test]
async fn a_school_suspended_through_one_server_is_refused_by_another_promptly(backend) {
    let app = app_with_long_cache(backend).await;
    let other = app.another_instance().await;
    // The other server has hogwarts cached as active.
    assert_eq!(
        wait_for_status(&app, &other, StatusCode::OK).await,
        StatusCode::OK
    );

    let path = format!("/admin/tenants/{}", app.hogwarts.id);
    let suspended = app
        .patch(&path, json!({"status": "suspended"}))
        .admin()
        .send()
        .await;
    assert_eq!(suspended.status, StatusCode::OK);
    assert_eq!(
        wait_for_status(&app, &other, StatusCode::FORBIDDEN).await,
        StatusCode::FORBIDDEN
    );
    let refused = app
        .get("/students")
        .tenant("hogwarts")
        .via(&other)
        .send()
        .await;
    assert_eq!(refused.code(), "tenant_suspended");

    app.patch(&path, json!({"status": "active"}))
        .admin()
        .send()
        .await;
    assert_eq!(
        wait_for_status(&app, &other, StatusCode::OK).await,
        StatusCode::OK
    );
}
}

on_both_backends! {
#[tokio::test]
async fn a_server_whose_listening_session_dropped_reconnects_and_still_hears_a_suspension(backend) {
    let app = app_with_long_cache(backend).await;
    let other = app.another_instance().await;
    assert_eq!(
        wait_for_status(&app, &other, StatusCode::OK).await,
        StatusCode::OK
    );
    let privileged = app.privileged().await;
    let killed = privileged
        .query(
            "select pg_terminate_backend(pid) from pg_stat_activity
             where application_name = $1 and datname = current_database()",
            &[&wizreg::tenant_events::APPLICATION_NAME],
        )
        .await
        .expect("terminate the listeners");
    assert!(
        !killed.is_empty(),
        "every instance keeps a listening session"
    );

    let path = format!("/admin/tenants/{}", app.hogwarts.id);
    app.patch(&path, json!({"status": "suspended"}))
        .admin()
        .send()
        .await;
    assert_eq!(
        wait_for_status(&app, &other, StatusCode::FORBIDDEN).await,
        StatusCode::FORBIDDEN
    );
}
}
