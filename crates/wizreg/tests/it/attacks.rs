//! The attack suite, part 1: a school using another school's ids on every route and method
//! (enumerated from the OpenAPI document, so a new route cannot escape), cross-school foreign
//! keys, and unique-key existence oracles. Catalogue: docs/security.md.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{begin_as_tenant, on_both_backends, snapshot, Reply, TestApp};

/// Castelobruxo's house and student, the targets of every attack.
async fn victims(app: &TestApp) -> (String, String) {
    let house = app
        .post("/houses", json!({"name": "Jaguar"}))
        .tenant("castelobruxo")
        .send()
        .await
        .id();
    let student = app
        .post(
            "/students",
            json!({"name": "Alanza", "email": "alanza@castelo.example", "house_id": house}),
        )
        .tenant("castelobruxo")
        .send()
        .await
        .id();
    (house, student)
}

/// The tenant routes and their methods, from the OpenAPI document.
async fn tenant_operations(app: &TestApp) -> Vec<(Method, String)> {
    let doc = app.get("/openapi.json").send().await.body;
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if path.starts_with("/admin")
            || ["/healthz", "/readyz", "/openapi.json", "/metrics"].contains(&path.as_str())
        {
            continue;
        }
        for method in item.as_object().expect("operations").keys() {
            let method: Method = method.to_uppercase().parse().expect("an HTTP method");
            operations.push((method, path.clone()));
        }
    }
    operations
}

on_both_backends! {
#[tokio::test]
async fn every_tenant_route_and_method_with_another_schools_ids_answers_like_a_missing_id_and_changes_nothing(backend) {
    let app = TestApp::on(backend).await;
    let (house, student) = victims(&app).await;
    let before = snapshot(&app).await;
    let operations = tenant_operations(&app).await;
    assert!(operations.len() >= 10, "{operations:?}");

    for (method, template) in operations {
        let (foreign, missing) = match template.as_str() {
            p if p.starts_with("/students/{") => {
                (student.clone(), uuid::Uuid::now_v7().to_string())
            }
            p if p.starts_with("/houses/{") => (house.clone(), uuid::Uuid::now_v7().to_string()),
            "/students" | "/houses" => (String::new(), String::new()),
            other => panic!("the attack matrix does not know {method} {other}: add it"),
        };
        let body = match (template.as_str(), &method) {
            ("/students", &Method::POST) => Some(json!({"name": "Mole", "house_id": house})),
            ("/houses", &Method::POST) => Some(json!({"name": "Jaguar"})),
            (_, &Method::PATCH) if template.starts_with("/students") => {
                Some(json!({"name": "Stolen", "house_id": house}))
            }
            (_, &Method::PATCH) => Some(json!({"name": "Stolen"})),
            _ => None,
        };
        for suffix in ["", "/"] {
            let send = |id: &str| {
                let path = format!("{}{suffix}", template.replace("{id}", id));
                let mut call = app.call(method.clone(), &path).tenant("hogwarts");
                if let Some(body) = &body {
                    call = call.json(body.clone());
                }
                call.send()
            };
            let attack: Reply = send(&foreign).await;
            assert!(
                !attack.body.to_string().contains(&student),
                "{method} {template}: leaked an id"
            );
            assert!(
                !attack.body.to_string().contains("Alanza"),
                "{method} {template}"
            );
            if template.contains("{id}") {
                let control = send(&missing).await;
                assert_eq!(
                    attack.status,
                    StatusCode::NOT_FOUND,
                    "{method} {template}{suffix}"
                );
                assert_eq!(
                    (attack.status, &attack.body),
                    (control.status, &control.body),
                    "{method} {template}"
                );
            } else if method == Method::GET {
                assert_eq!(attack.body, json!([]), "{method} {template}{suffix}");
            } else if template == "/students" {
                assert_eq!(
                    attack.status,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "a house of another school"
                );
            }
        }
    }
    let after_filter = app
        .get(&format!("/students?after={student}&name=alanza"))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(after_filter.body, json!([]));
    let mut after = snapshot(&app).await;
    // The one house Hogwarts created for itself (named like Castelobruxo's) is its own.
    after.retain(|row| !row.contains(&app.hogwarts.id.to_string()));
    assert_eq!(after, before, "castelobruxo's rows are unchanged");
}
}

/// The parts of a created record that do not vary from one call to the next.
fn shape(reply: &Reply) -> (StatusCode, Vec<String>, Value, Value) {
    let mut keys: Vec<String> = reply
        .body
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    (
        reply.status,
        keys,
        reply.body["tenant_id"].clone(),
        reply.body["house_id"].clone(),
    )
}

on_both_backends! {
#[tokio::test]
async fn an_email_or_house_name_taken_in_another_school_is_accepted_exactly_like_a_fresh_one(backend) {
    let app = TestApp::on(backend).await;
    victims(&app).await;

    let taken = app
        .post(
            "/students",
            json!({"name": "A", "email": "alanza@castelo.example"}),
        )
        .tenant("hogwarts")
        .send()
        .await;
    let fresh = app
        .post(
            "/students",
            json!({"name": "A", "email": "fresh@hogwarts.example"}),
        )
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(taken.status, StatusCode::CREATED);
    assert_eq!(shape(&taken), shape(&fresh));
    assert_eq!(taken.body["email"], "alanza@castelo.example");

    let renamed = app
        .patch(
            &format!("/students/{}", fresh.id()),
            json!({"email": "ALANZA@castelo.example"}),
        )
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(
        renamed.status,
        StatusCode::CONFLICT,
        "taken in the caller's own school now"
    );
    let other = app
        .patch(
            &format!("/students/{}", fresh.id()),
            json!({"email": "other@castelo.example"}),
        )
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(other.status, StatusCode::OK);

    let taken_house = app
        .post("/houses", json!({"name": "Jaguar"}))
        .tenant("hogwarts")
        .send()
        .await;
    let fresh_house = app
        .post("/houses", json!({"name": "Hufflepuff"}))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(shape(&taken_house), shape(&fresh_house));
    assert_eq!(taken_house.status, StatusCode::CREATED);
    // In the caller's own school the same name is a conflict: the key is per school.
    let again = app
        .post("/houses", json!({"name": "Jaguar"}))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(!again
        .body
        .to_string()
        .contains(&app.castelobruxo.id.to_string()));
}
}

on_both_backends! {
#[tokio::test]
async fn a_foreign_key_to_another_schools_house_is_refused_by_the_database_itself(backend) {
    let app = TestApp::on(backend).await;
    let (house, _) = victims(&app).await;
    let runtime = app.runtime_connection().await;
    begin_as_tenant(&runtime, app.hogwarts.id.as_uuid()).await;
    let house: uuid::Uuid = house.parse().expect("uuid");
    let insert = runtime
        .execute(
            "insert into wizreg.student (tenant_id, id, name, house_id) values ($1, $2, 'Mole', $3)",
            &[&app.hogwarts.id.as_uuid(), &uuid::Uuid::now_v7(), &house],
        )
        .await;
    let error = insert.expect_err("a composite key cannot point into another school");
    assert_eq!(
        error.code(),
        Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION)
    );
    runtime.batch_execute("rollback").await.expect("rollback");
}
}
