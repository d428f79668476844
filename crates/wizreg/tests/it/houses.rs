//! Houses: CRUD, per-school name uniqueness, and what deleting a house does to its students.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::{on_both_backends, TestApp};

on_both_backends! {
#[tokio::test]
async fn a_house_can_be_created_listed_renamed_and_deleted(backend) {
    let app = TestApp::on(backend).await;
    let created = app
        .post("/houses/", json!({"name": "Hufflepuff"}))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.id();
    assert_eq!(
        created.header("location"),
        Some(format!("/houses/{id}").as_str())
    );

    let list = app.get("/houses").tenant("hogwarts").send().await;
    assert_eq!(list.body.as_array().map(Vec::len), Some(1));

    let renamed = app
        .patch(&format!("/houses/{id}"), json!({"name": "Ravenclaw"}))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(
        (renamed.status, &renamed.body["name"]),
        (StatusCode::OK, &json!("Ravenclaw"))
    );
    let blank = app
        .patch(&format!("/houses/{id}"), json!({"name": " "}))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);

    let student = app
        .post("/students", json!({"name": "Luna", "house_id": id}))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(
        app.delete(&format!("/houses/{id}"))
            .tenant("hogwarts")
            .send()
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let orphan = app
        .get(&format!("/students/{}", student.id()))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(
        orphan.body["house_id"],
        json!(null),
        "students stay, without a house"
    );
    assert_eq!(
        app.get(&format!("/houses/{id}"))
            .tenant("hogwarts")
            .send()
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
}

on_both_backends! {
#[tokio::test]
async fn house_names_are_unique_within_a_school_only(backend) {
    let app = TestApp::on(backend).await;
    let body = json!({"name": "Gryffindor"});
    assert_eq!(
        app.post("/houses", body.clone())
            .tenant("hogwarts")
            .send()
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.post("/houses", body.clone())
            .tenant("castelobruxo")
            .send()
            .await
            .status,
        StatusCode::CREATED
    );
    let duplicate = app.post("/houses", body).tenant("hogwarts").send().await;
    assert_eq!(
        (duplicate.status, duplicate.code()),
        (StatusCode::CONFLICT, "conflict")
    );
}
}

on_both_backends! {
#[tokio::test]
async fn houses_page_by_keyset(backend) {
    let app = TestApp::on(backend).await;
    for name in ["A", "B", "C"] {
        app.post("/houses", json!({"name": name}))
            .tenant("hogwarts")
            .send()
            .await;
    }
    let first = app.get("/houses?limit=2").tenant("hogwarts").send().await;
    assert_eq!(first.body.as_array().map(Vec::len), Some(2));
    let link = first.header("link").expect("a next link").to_owned();
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or("")
        .to_owned();
    let second = app.get(&next).tenant("hogwarts").send().await;
    assert_eq!(second.body[0]["name"], "C");
    assert!(second.header("link").is_none(), "no page after the last");
}
}
