//! The key admin routes' errors: each mistake gets its contract status and code, and a server
//! without a key secret disables keys instead of failing later.

use axum::http::{Method, StatusCode};
use serde_json::json;
use wizreg::config::{AuthMode, Secret};

use crate::auth_api_keys::{api_key_app, bearer, issue_key};
use crate::harness::{TestApp, KEY_SECRET};

#[tokio::test]
async fn key_routes_answer_every_mistake_with_its_contract_error() {
    let app = api_key_app().await;
    let (id, key) = issue_key(&app, "hogwarts").await;
    let no_token = [
        app.call(Method::POST, "/admin/tenants/hogwarts/api-keys")
            .send()
            .await,
        app.get("/admin/tenants/hogwarts/api-keys").send().await,
        app.delete(&format!("/admin/tenants/hogwarts/api-keys/{id}"))
            .header("authorization", &bearer(&key))
            .send()
            .await,
    ];
    for reply in no_token {
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNAUTHORIZED, "unauthorized")
        );
    }
    let unknown_school = [
        app.call(Method::POST, "/admin/tenants/durmstrang/api-keys")
            .admin()
            .send()
            .await,
        app.get("/admin/tenants/durmstrang/api-keys")
            .admin()
            .send()
            .await,
        app.delete(&format!("/admin/tenants/durmstrang/api-keys/{id}"))
            .admin()
            .send()
            .await,
        app.get("/admin/tenants/no%20such/api-keys")
            .admin()
            .send()
            .await,
    ];
    for reply in unknown_school {
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::NOT_FOUND, "unknown_tenant")
        );
    }
    let missing_key = [
        app.delete("/admin/tenants/hogwarts/api-keys/01a216be-1bed-703f-9664-f318153d89c2")
            .admin()
            .send()
            .await,
        app.delete("/admin/tenants/hogwarts/api-keys/not-a-uuid")
            .admin()
            .send()
            .await,
        // Another school's key is not found through this school.
        app.delete(&format!("/admin/tenants/castelobruxo/api-keys/{id}"))
            .admin()
            .send()
            .await,
    ];
    for reply in missing_key {
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::NOT_FOUND, "not_found")
        );
    }
    let still_works = app
        .get("/students")
        .header("authorization", &bearer(&key))
        .send()
        .await;
    assert_eq!(still_works.status, StatusCode::OK);
    let other_list = app
        .get("/admin/tenants/castelobruxo/api-keys")
        .admin()
        .send()
        .await;
    assert_eq!(other_list.body, json!([]));
}

#[tokio::test]
async fn without_a_key_secret_keys_are_disabled_and_api_key_mode_refuses_to_start() {
    let app = TestApp::with_config(|c| c.key_secret = None).await;
    let reply = app
        .call(Method::POST, "/admin/tenants/hogwarts/api-keys")
        .admin()
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    assert!(reply.header("retry-after").is_some(), "{reply:?}");

    let mut config = app.config.clone();
    config.auth = AuthMode::ApiKey;
    let refused = wizreg::serve::app_state(&config, &app.database).await;
    let message = refused.expect_err("no secret, no api-key mode").to_string();
    assert!(message.contains("WIZREG_KEY_SECRET"), "{message}");
    config.key_secret = Some(Secret::new(KEY_SECRET));
    assert!(wizreg::serve::app_state(&config, &app.database)
        .await
        .is_ok());
}

#[tokio::test]
async fn the_openapi_document_describes_key_routes_and_both_credentials() {
    let app = TestApp::new().await;
    let doc = app.get("/openapi.json").send().await.body;
    let keys = &doc["paths"]["/admin/tenants/{tenant}/api-keys"];
    assert!(keys["post"]["responses"]["201"].is_object(), "{keys}");
    assert!(keys["get"]["responses"]["200"].is_object());
    assert!(doc["paths"]["/admin/tenants/{tenant}/api-keys/{key_id}"]["delete"].is_object());
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["scheme"], "bearer");
    assert_eq!(schemes["jwt"]["bearerFormat"], "JWT");
    let students = &doc["paths"]["/students"]["get"]["security"];
    assert_eq!(students, &json!([{"api_key": []}, {"jwt": []}, {}]));
}
