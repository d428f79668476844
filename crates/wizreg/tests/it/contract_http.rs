//! Details of the HTTP contract that no feature test owns: how the admin token is presented,
//! which answers the OpenAPI document declares, and the optional trailing slash.

use axum::http::{Method, StatusCode};

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
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
}

#[tokio::test]
async fn the_openapi_document_declares_the_refusals_every_tenant_route_can_give() {
    let app = TestApp::new().await;
    let doc = app.get("/openapi.json").send().await.body;
    let paths = doc["paths"].as_object().expect("paths");
    let tenant_paths = paths
        .iter()
        .filter(|(path, _)| path.starts_with("/students") || path.starts_with("/houses"));
    let mut checked = 0;
    for (path, item) in tenant_paths {
        for (method, operation) in item.as_object().expect("path item") {
            let responses = &operation["responses"];
            for status in ["401", "403"] {
                assert_eq!(
                    responses[status]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
            let takes_body = operation.get("requestBody").is_some();
            assert_eq!(
                responses.get("413").is_some(),
                takes_body,
                "{method} {path} 413"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 10, "five operations on students, five on houses");
}

#[tokio::test]
async fn admin_routes_take_an_optional_trailing_slash_like_the_tenant_routes() {
    let app = TestApp::new().await;
    for path in [
        "/admin/tenants/",
        "/admin/tenants/hogwarts/",
        "/admin/tenants/hogwarts/api-keys/",
    ] {
        let reply = app.get(path).admin().send().await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
    }
    let created = app
        .call(Method::POST, "/admin/tenants/hogwarts/api-keys/")
        .admin()
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let revoked = app
        .delete(&format!(
            "/admin/tenants/hogwarts/api-keys/{}/",
            created.id()
        ))
        .admin()
        .send()
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_openapi_document_declares_that_any_admin_route_can_be_unavailable() {
    let app = TestApp::new().await;
    let doc = app.get("/openapi.json").send().await.body;
    let paths = doc["paths"].as_object().expect("paths");
    let mut checked = 0;
    for (path, item) in paths.iter().filter(|(path, _)| path.starts_with("/admin")) {
        for (method, operation) in item.as_object().expect("path item") {
            let responses = &operation["responses"];
            assert!(responses["503"].is_object(), "{method} {path}");
            if operation.get("requestBody").is_some() {
                assert!(responses["413"].is_object(), "{method} {path}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 13);
    let patch = &doc["paths"]["/admin/tenants/{tenant}"]["patch"]["responses"];
    assert!(
        patch["409"].is_object(),
        "a school being deleted cannot be changed"
    );
}

#[tokio::test]
async fn the_openapi_document_declares_location_link_and_retry_after() {
    let app = TestApp::new().await;
    let doc = app.get("/openapi.json").send().await.body;
    for (path, header) in [
        ("/students", "Location"),
        ("/houses", "Location"),
        ("/admin/tenants", "Location"),
    ] {
        let created = &doc["paths"][path]["post"]["responses"]["201"];
        assert!(created["headers"][header].is_object(), "{path}: {created}");
    }
    for path in ["/students", "/houses"] {
        let listed = &doc["paths"][path]["get"]["responses"]["200"];
        assert!(listed["headers"]["Link"].is_object(), "{path}: {listed}");
    }
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            for status in ["429", "503"] {
                if let Some(response) = operation["responses"].get(status) {
                    assert!(
                        response["headers"]["Retry-After"].is_object(),
                        "{method} {path} {status}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 30, "{checked} answers with Retry-After");
}

#[tokio::test]
async fn a_method_a_path_does_not_take_is_405_with_allow_and_a_json_error() {
    let app = TestApp::new().await;
    for (method, path, admin) in [
        (Method::PUT, "/students", false),
        (
            Method::POST,
            "/students/00000000-0000-0000-0000-000000000000",
            false,
        ),
        (Method::PUT, "/admin/tenants", true),
        (Method::POST, "/healthz", false),
    ] {
        let mut call = app.call(method.clone(), path).tenant("hogwarts");
        if admin {
            call = call.admin();
        }
        let reply = call.send().await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::METHOD_NOT_ALLOWED, "invalid_request"),
            "{method} {path}"
        );
        let allow = reply.header("allow").unwrap_or_default().to_owned();
        assert!(
            allow.contains("GET") && !allow.contains(method.as_str()),
            "{method} {path}: Allow: {allow}"
        );
        assert!(reply.header("x-request-id").is_some(), "{method} {path}");
    }
}
