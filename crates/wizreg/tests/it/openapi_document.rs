//! The OpenAPI document as generated clients need it, for every operation, including routes
//! added later: a unique operationId, a summary, a description and a declared tag; the
//! credentials of its kind of route; every refusal its extractors and layers can give, with
//! the headers those answers carry; strict input schemas; a typed error body.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::harness::TestApp;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every `(path, method, operation)` of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                all.push((path.clone(), method.to_owned(), operation.clone()));
            }
        }
    }
    all
}

fn is_public(path: &str) -> bool {
    ["/healthz", "/readyz", "/openapi.json", "/metrics"].contains(&path)
}

/// The component schema a `$ref` names.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

async fn document() -> Value {
    TestApp::new().await.get("/openapi.json").send().await.body
}

#[tokio::test]
async fn every_operation_has_a_unique_id_a_summary_a_description_and_a_declared_tag() {
    let doc = document().await;
    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|tag| {
            assert!(tag["description"].is_string(), "{tag}");
            tag["name"].as_str().expect("name")
        })
        .collect();
    let mut ids = BTreeSet::new();
    let all = operations(&doc);
    for (path, method, operation) in &all {
        let id = operation["operationId"].as_str().unwrap_or_default();
        assert!(
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{method} {path}: operationId {id:?} is not snake_case"
        );
        assert!(
            ids.insert(id.to_owned()),
            "{method} {path}: {id} is not unique"
        );
        for field in ["summary", "description"] {
            let text = operation[field].as_str().unwrap_or_default();
            assert!(!text.trim().is_empty(), "{method} {path}: no {field}");
        }
        let op_tags = operation["tags"].as_array().expect("tags");
        assert_eq!(op_tags.len(), 1, "{method} {path}: one tag");
        assert!(
            tags.contains(op_tags[0].as_str().unwrap_or_default()),
            "{method} {path}: tag {} not declared",
            op_tags[0]
        );
    }
    assert!(all.len() >= 24, "{} operations", all.len());
    assert!(doc["servers"][0]["url"].is_string(), "a server");
}

#[tokio::test]
async fn every_operation_declares_its_credentials_and_every_refusal_it_can_give() {
    let doc = document().await;
    for (path, method, operation) in operations(&doc) {
        let here = format!("{method} {path}");
        let security = operation["security"].as_array().expect("security");
        let responses = operation["responses"].as_object().expect("responses");
        let mut expected = vec!["405", "431", "500", "503"];
        let admin_token = [serde_json::json!({"admin_token": []})];
        if path.starts_with("/admin") || security.as_slice() == admin_token {
            assert_eq!(security.as_slice(), admin_token, "{here}");
            expected.push("401");
        } else if is_public(&path) {
            assert!(security.is_empty(), "{here}: public, security: []");
        } else {
            let schemes: Vec<&Value> = security.iter().collect();
            assert_eq!(schemes.len(), 3, "{here}: API key, JWT, or none (open)");
            expected.extend(["400", "401", "403", "404", "429"]);
        }
        if operation.get("requestBody").is_some() {
            expected.extend(["413", "415"]);
        }
        if operation["requestBody"]["content"]
            .get("application/json")
            .is_some()
        {
            expected.extend(["400", "422"]);
        }
        for status in expected {
            assert!(responses.contains_key(status), "{here}: no {status}");
        }
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{here}: no success"
        );
        for (status, response) in responses {
            let headers = &response["headers"];
            assert!(headers["X-Request-Id"].is_object(), "{here} {status}");
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{here} {status}"
                );
            }
            let needs = match status.as_str() {
                "401" => Some("WWW-Authenticate"),
                "405" => Some("Allow"),
                "429" | "503" => Some("Retry-After"),
                _ => None,
            };
            if let Some(header) = needs {
                assert!(headers[header].is_object(), "{here} {status}: {header}");
            }
        }
    }
}

#[tokio::test]
async fn input_schemas_refuse_unknown_fields_and_patches_require_nothing() {
    let doc = document().await;
    let mut checked = 0;
    for (path, method, operation) in operations(&doc) {
        let Some(media) = operation["requestBody"]["content"].get("application/json") else {
            continue;
        };
        let schema = resolve(&doc, &media["schema"]);
        assert_eq!(
            schema["additionalProperties"],
            Value::Bool(false),
            "{method} {path}"
        );
        if method == "patch" {
            assert!(
                schema.get("required").is_none(),
                "{method} {path}: {schema}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 6, "{checked} JSON bodies");
    let schemas = &doc["components"]["schemas"];
    let slug = &schemas["NewTenant"]["properties"]["slug"];
    assert_eq!(slug["pattern"], "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$");
    assert!(slug["not"]["pattern"].is_string(), "never UUID-shaped");
    assert_eq!(
        schemas["NewStudent"]["properties"]["email"]["format"],
        "email"
    );
    for (path, limit) in [("/students", "limit"), ("/houses", "limit")] {
        let params = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        let limit = params.iter().find(|p| p["name"] == limit).expect("limit");
        assert_eq!(
            (&limit["schema"]["minimum"], &limit["schema"]["maximum"]),
            (&1.into(), &1000.into())
        );
    }
}

#[tokio::test]
async fn the_error_body_is_typed_with_the_contract_codes() {
    let doc = document().await;
    let schemas = &doc["components"]["schemas"];
    let codes: BTreeSet<&str> = schemas["ErrorCode"]["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let contract: BTreeSet<&str> = [
        "tenant_required",
        "invalid_request",
        "unauthorized",
        "tenant_mismatch",
        "tenant_suspended",
        "unknown_tenant",
        "not_found",
        "conflict",
        "payload_too_large",
        "validation_failed",
        "rate_limited",
        "unavailable",
        "internal",
    ]
    .into();
    assert_eq!(codes, contract);
    let detail = &schemas["ErrorDetail"]["properties"];
    assert_eq!(detail["code"]["$ref"], "#/components/schemas/ErrorCode");
    assert_eq!(detail["fields"]["$ref"], "#/components/schemas/FieldErrors");
}

#[tokio::test]
async fn the_ndjson_routes_are_binary_and_lists_document_their_cursor() {
    let doc = document().await;
    let import = &doc["paths"]["/admin/tenants/{tenant}/import"]["post"]["requestBody"]["content"];
    for media in ["application/x-ndjson", "application/octet-stream"] {
        assert_eq!(
            resolve(&doc, &import[media]["schema"])["format"],
            "binary",
            "{media}"
        );
    }
    let export = &doc["paths"]["/admin/tenants/{tenant}/export"]["get"]["responses"]["200"];
    assert_eq!(
        resolve(&doc, &export["content"]["application/x-ndjson"]["schema"])["format"],
        "binary"
    );
    assert!(export["headers"]["Content-Disposition"].is_object());
    for path in ["/students", "/houses"] {
        let headers = &doc["paths"][path]["get"]["responses"]["200"]["headers"];
        assert!(headers["X-Next-Cursor"].is_object(), "{path}");
        let created = &doc["paths"][path]["post"]["responses"]["201"]["headers"];
        assert!(created["Idempotent-Replayed"].is_object(), "{path}");
    }
}
