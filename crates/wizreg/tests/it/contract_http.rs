//! Details of the HTTP contract that no feature test owns: how the admin token is presented,
//! which answers the OpenAPI document declares, and the optional trailing slash.

use axum::http::StatusCode;

use crate::harness::{TestApp, ADMIN_TOKEN};

#[tokio::test]
async fn the_admin_token_is_accepted_with_any_case_of_the_bearer_scheme_and_nothing_else() {
    let app = TestApp::new().await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let reply = app
            .get("/admin/tenants")
            .header("authorization", &format!("{scheme} {ADMIN_TOKEN}"))
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{scheme}");
    }
    let shorter = &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1];
    for authorization in [
        format!("Basic {ADMIN_TOKEN}"),
        format!("Bearer {shorter}"),
        format!("Bearer {ADMIN_TOKEN}x"),
        ADMIN_TOKEN.to_owned(),
    ] {
        let reply = app
            .get("/admin/tenants")
            .header("authorization", &authorization)
            .send()
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNAUTHORIZED, "unauthorized"),
            "{authorization}"
        );
    }
}
