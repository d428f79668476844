//! Students: create, read, update, delete, list with keyset pagination, and validation.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::TestApp;

#[tokio::test]
async fn a_student_can_be_created_read_updated_and_deleted() {
    let app = TestApp::new().await;
    let house = app
        .post("/houses", json!({"name": "Gryffindor"}))
        .tenant("hogwarts")
        .send()
        .await;
    let created = app
        .post("/students", json!({"name": "Harry Potter", "email": "Harry@Hogwarts.example", "house_id": house.id()}))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.id();
    assert_eq!(
        created.header("location"),
        Some(format!("/students/{id}").as_str())
    );
    assert_eq!(created.body["email"], "harry@hogwarts.example");
    assert_eq!(created.body["house_id"], json!(house.id()));

    let fetched = app
        .get(&format!("/students/{id}"))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(
        (fetched.status, &fetched.body),
        (StatusCode::OK, &created.body)
    );

    let patched = app
        .patch(
            &format!("/students/{id}/"),
            json!({"name": "Harry J. Potter", "house_id": null}),
        )
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["name"], "Harry J. Potter");
    assert_eq!(patched.body["house_id"], json!(null));
    assert_eq!(
        patched.body["email"], "harry@hogwarts.example",
        "absent fields stay"
    );

    let deleted = app
        .delete(&format!("/students/{id}"))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app
        .get(&format!("/students/{id}"))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(
        (gone.status, gone.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let again = app
        .delete(&format!("/students/{id}"))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn lists_page_by_keyset_with_a_link_to_the_next_page() {
    let app = TestApp::new().await;
    for i in 0..5 {
        let reply = app
            .post("/students", json!({"name": format!("Student {i}")}))
            .tenant("hogwarts")
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut next = Some("/students?limit=2".to_owned());
    while let Some(path) = next.take() {
        let page = app.get(&path).tenant("hogwarts").send().await;
        assert_eq!(page.status, StatusCode::OK);
        seen.extend(
            page.body
                .as_array()
                .expect("array")
                .iter()
                .map(|s| s["name"].as_str().unwrap_or("").to_owned()),
        );
        next = page.header("link").map(|link| {
            assert!(link.ends_with("rel=\"next\""), "{link}");
            link.trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or("")
                .to_owned()
        });
        // The cursor header names the same next page: the last id of this one.
        let last_id = page
            .body
            .as_array()
            .and_then(|a| a.last())
            .map(|s| &s["id"]);
        match (&next, page.header("x-next-cursor")) {
            (Some(link), Some(cursor)) => {
                assert_eq!(Some(&json!(cursor)), last_id);
                assert!(link.contains(&format!("after={cursor}")), "{link}");
            }
            (None, None) => {}
            other => panic!("Link and X-Next-Cursor disagree: {other:?}"),
        }
    }
    let expected: Vec<String> = (0..5).map(|i| format!("Student {i}")).collect();
    assert_eq!(seen, expected, "oldest first, each once");
}

#[tokio::test]
async fn a_client_pages_by_passing_x_next_cursor_as_after() {
    let app = TestApp::new().await;
    for name in ["Gryffindor", "Hufflepuff", "Ravenclaw"] {
        let reply = app
            .post("/houses", json!({"name": name}))
            .tenant("hogwarts")
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut path = "/houses?limit=2".to_owned();
    loop {
        let page = app.get(&path).tenant("hogwarts").send().await;
        assert_eq!(page.status, StatusCode::OK);
        for house in page.body.as_array().expect("array") {
            seen.push(house["name"].as_str().unwrap_or("").to_owned());
        }
        match page.header("x-next-cursor") {
            Some(cursor) => path = format!("/houses?limit=2&after={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["Gryffindor", "Hufflepuff", "Ravenclaw"]);
}

#[tokio::test]
async fn the_name_filter_is_a_case_insensitive_substring() {
    let app = TestApp::new().await;
    for name in [
        "Harry Potter",
        "Hermione Granger",
        "Ron Weasley",
        "100% _wild_",
    ] {
        app.post("/students", json!({"name": name}))
            .tenant("hogwarts")
            .send()
            .await;
    }
    let found = app
        .get("/students?name=HAR")
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(found.body.as_array().map(Vec::len), Some(1));
    let literal = app
        .get("/students?name=%25%20_")
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(
        literal.body.as_array().map(Vec::len),
        Some(1),
        "% and _ are not wildcards"
    );
}

#[tokio::test]
async fn bad_list_parameters_are_400_with_the_parameter_named() {
    let app = TestApp::new().await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=x", "limit"),
        ("after=nope", "after"),
    ] {
        let reply = app
            .get(&format!("/students?{query}"))
            .tenant("hogwarts")
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            reply.body["error"]["fields"][field].is_string(),
            "{query}: {:?}",
            reply.body
        );
    }
}

#[tokio::test]
async fn invalid_students_are_422_with_every_bad_field_named() {
    let app = TestApp::new().await;
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({}), "name"),
        (json!({"name": null}), "name"),
        (json!({"name": 5}), "name"),
        (json!({"name": "Neville", "email": "not-an-email"}), "email"),
        (json!({"name": "Neville", "house_id": "nope"}), "house_id"),
        (json!({"name": "Neville", "nickname": "Nev"}), "nickname"),
    ];
    for (body, field) in cases {
        let reply = app
            .post("/students", body.clone())
            .tenant("hogwarts")
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.code(), "validation_failed");
        assert!(
            reply.body["error"]["fields"][field].is_string(),
            "{body}: {:?}",
            reply.body
        );
    }
    let both = app
        .post("/students", json!({"name": "", "email": "x"}))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(
        both.body["error"]["fields"].as_object().map(|f| f.len()),
        Some(2)
    );
    let privileged = app.privileged().await;
    let count: i64 = privileged
        .query_one("select count(*) from wizreg.student", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 0, "nothing invalid was stored");
}

#[tokio::test]
async fn malformed_bodies_and_ids_are_client_errors() {
    let app = TestApp::new().await;
    let broken = app
        .call(axum::http::Method::POST, "/students")
        .raw_body("application/json", "{\"name\": ")
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(
        (broken.status, broken.code()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let array = app
        .post("/students", json!(["Harry"]))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(array.status, StatusCode::BAD_REQUEST);
    let text = app
        .call(axum::http::Method::POST, "/students")
        .raw_body("text/plain", "name=Harry")
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = app
        .post("/students", json!({"name": "x".repeat(100_000)}))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(
        (huge.status, huge.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    for path in ["/students/not-a-uuid", "/students/123", "/students/%00"] {
        let reply = app.get(path).tenant("hogwarts").send().await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let nul = app
        .post("/students", json!({"name": "a\u{0}b"}))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(nul.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn emails_are_unique_within_a_school_only() {
    let app = TestApp::new().await;
    let body = json!({"name": "Cedric", "email": "cedric@example.org"});
    assert_eq!(
        app.post("/students", body.clone())
            .tenant("hogwarts")
            .send()
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.post("/students", body.clone())
            .tenant("castelobruxo")
            .send()
            .await
            .status,
        StatusCode::CREATED
    );
    let duplicate = app
        .post(
            "/students",
            json!({"name": "Other", "email": "CEDRIC@example.org"}),
        )
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(
        (duplicate.status, duplicate.code()),
        (StatusCode::CONFLICT, "conflict")
    );
}
