//! The classic walk-through from the write-up Wizreg grew from, verbatim in spirit: two
//! schools named by Host subdomain, and two lists that come back apart.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::{on_both_backends, TestApp};

on_both_backends! {
#[tokio::test]
async fn the_classic_walkthrough_keeps_each_schools_students_apart(backend) {
    let app = TestApp::on(backend).await;

    for (host, name) in [
        ("hogwarts.localhost:3000", "Harry Potter"),
        ("hogwarts.localhost:3000", "Hermine Granger"),
        ("castelobruxo.localhost:3000", "Alanza Alves"),
    ] {
        let reply = app
            .post("/students/", json!({"name": name}))
            .host(host)
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    }

    let hogwarts = app
        .get("/students/")
        .host("hogwarts.localhost:3000")
        .send()
        .await;
    let castelobruxo = app
        .get("/students/")
        .host("castelobruxo.localhost:3000")
        .send()
        .await;

    let names = |list: &serde_json::Value| -> Vec<String> {
        list.as_array()
            .expect("a JSON array")
            .iter()
            .map(|s| s["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(names(&hogwarts.body), ["Harry Potter", "Hermine Granger"]);
    assert_eq!(names(&castelobruxo.body), ["Alanza Alves"]);
    for student in hogwarts.body.as_array().expect("array") {
        assert_eq!(student["tenant_id"], json!(app.hogwarts.id));
    }
    assert_eq!(
        castelobruxo.body[0]["tenant_id"],
        json!(app.castelobruxo.id)
    );
}
}
