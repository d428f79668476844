//! Binding: with a credential, the credential decides the school, and `X-Tenant` or the Host
//! subdomain may only agree with it (by slug or by UUID); naming another school is
//! `403 tenant_mismatch`. Checked for API keys and JWTs on all three resolution paths.

use axum::http::StatusCode;
use serde_json::json;
use wizreg::config::{AuthMode, Secret};

use crate::auth_api_keys::{bearer, issue_key};
use crate::auth_jwt::{hs256, valid_claims, JWT_SECRET};
use crate::harness::TestApp;

async fn both_credentials_app() -> TestApp {
    TestApp::with_config(|c| {
        c.auth = AuthMode::ApiKeyOrJwt;
        c.jwt_secret = Some(Secret::new(JWT_SECRET));
    })
    .await
}

/// Sends `GET /students` with a credential and optional X-Tenant and Host: status and code.
async fn status(
    app: &TestApp,
    credential: &str,
    tenant: Option<&str>,
    host: Option<&str>,
) -> (StatusCode, String) {
    let mut call = app
        .get("/students")
        .header("authorization", &bearer(credential));
    if let Some(tenant) = tenant {
        call = call.tenant(tenant);
    }
    if let Some(host) = host {
        call = call.host(host);
    }
    let reply = call.send().await;
    (reply.status, reply.code().to_owned())
}

#[tokio::test]
async fn a_credential_binds_its_school_across_all_three_resolution_paths() {
    let app = both_credentials_app().await;
    let (_, key) = issue_key(&app, "hogwarts").await;
    let token = hs256(&valid_claims(app.hogwarts.id));
    let hogwarts_id = app.hogwarts.id.to_string();
    let castelobruxo_id = app.castelobruxo.id.to_string();
    let ok = (StatusCode::OK, String::new());
    let mismatch = (StatusCode::FORBIDDEN, "tenant_mismatch".to_owned());
    for credential in [key.as_str(), token.as_str()] {
        // 1. The credential alone.
        assert_eq!(status(&app, credential, None, None).await, ok);
        // 2. X-Tenant: the same school by slug or UUID, or another one.
        assert_eq!(status(&app, credential, Some("hogwarts"), None).await, ok);
        assert_eq!(status(&app, credential, Some(&hogwarts_id), None).await, ok);
        assert_eq!(
            status(&app, credential, Some("castelobruxo"), None).await,
            mismatch
        );
        assert_eq!(
            status(&app, credential, Some(&castelobruxo_id), None).await,
            mismatch
        );
        assert_eq!(
            status(&app, credential, Some("durmstrang"), None).await,
            mismatch
        );
        // 3. Host subdomain: the same school, or another one.
        assert_eq!(
            status(&app, credential, None, Some("hogwarts.localhost:3000")).await,
            ok
        );
        assert_eq!(
            status(&app, credential, None, Some("castelobruxo.localhost:3000")).await,
            mismatch
        );
        // Both: each must agree.
        assert_eq!(
            status(
                &app,
                credential,
                Some("hogwarts"),
                Some("castelobruxo.localhost")
            )
            .await,
            mismatch
        );
        assert_eq!(
            status(
                &app,
                credential,
                Some(&hogwarts_id),
                Some("hogwarts.localhost")
            )
            .await,
            ok
        );
    }
}

#[tokio::test]
async fn school_a_key_on_school_b_subdomain_is_forbidden_and_touches_nothing() {
    let app = both_credentials_app().await;
    let (_, hogwarts_key) = issue_key(&app, "hogwarts").await;
    let reply = app
        .post("/students", json!({"name": "Intruder"}))
        .header("authorization", &bearer(&hogwarts_key))
        .host("castelobruxo.localhost:3000")
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "tenant_mismatch")
    );
    let db = app.privileged().await;
    let students: i64 = db
        .query_one("select count(*) from wizreg.student", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(students, 0);
}

#[tokio::test]
async fn in_a_credential_mode_naming_a_school_is_not_enough() {
    let app = both_credentials_app().await;
    let reply = app
        .get("/students")
        .tenant("hogwarts")
        .host("hogwarts.localhost")
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
}

#[tokio::test]
async fn a_valid_credential_of_a_suspended_school_is_refused() {
    let app = both_credentials_app().await;
    let (_, key) = issue_key(&app, "hogwarts").await;
    let token = hs256(&valid_claims(app.hogwarts.id));
    let suspended = app
        .patch(
            &format!("/admin/tenants/{}", app.hogwarts.id),
            json!({"status": "suspended"}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(suspended.status, StatusCode::OK);
    for credential in [&key, &token] {
        let reply = app
            .get("/students")
            .header("authorization", &bearer(credential))
            .send()
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "tenant_suspended")
        );
    }
}
