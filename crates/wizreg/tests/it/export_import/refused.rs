//! Imports that must be refused whole: a bad line anywhere, every kind of bad file (each named
//! with its line and reason), and each error status of the export and import routes.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{contents, export, import, seed_hogwarts, NDJSON};
use crate::harness::TestApp;

#[tokio::test]
async fn a_bad_line_in_the_middle_rejects_the_whole_import_and_leaves_the_school_empty() {
    let app = TestApp::new().await;
    seed_hogwarts(&app).await;
    let exported = String::from_utf8(export(&app, "hogwarts").await).expect("UTF-8");
    let mut lines: Vec<String> = exported.lines().map(str::to_owned).collect();
    // Line 5 (the second student) gets a field no record has.
    lines[4] = lines[4].replacen('{', "{\"wand\":\"holly\",", 1);
    let body = lines.join("\n") + "\n";
    let target = app.castelobruxo.id;

    let refused = import(&app, &target.to_string(), body).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    assert_eq!(refused.body["error"]["fields"]["line"], "5");
    assert!(
        refused.body["error"]["fields"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("wand"),
        "{refused:?}"
    );
    assert!(
        contents(&app, target.as_uuid()).await.is_empty(),
        "nothing was imported"
    );
}

/// Imports `body` into an empty castelobruxo and returns the answer, checking nothing stayed.
async fn refused_import(app: &TestApp, body: String) -> crate::harness::Reply {
    let reply = import(app, "castelobruxo", body).await;
    assert!(contents(app, app.castelobruxo.id.as_uuid())
        .await
        .is_empty());
    reply
}

#[tokio::test]
async fn every_kind_of_bad_file_is_refused_with_its_line_and_reason() {
    let app = TestApp::new().await;
    seed_hogwarts(&app).await;
    let exported = String::from_utf8(export(&app, "hogwarts").await).expect("UTF-8");
    let lines: Vec<&str> = exported.lines().collect();
    let join = |lines: &[&str]| lines.join("\n") + "\n";
    // 0 tenant, 1-2 houses, 3-6 students (5: Luna, in no house), 7 end.
    const EMPTY_END: &str = r#"{"type":"end","houses":0,"students":0}"#;
    let cases: Vec<(String, &str, &str)> = vec![
        (
            join(&[lines[0], lines[1], lines[3], lines[3], lines[7]]),
            "4",
            "repeats the id",
        ),
        (join(&[lines[0], lines[3]]), "2", "house_id names no house"),
        (join(&lines[..7]), "8", "truncated"),
        (join(&[lines[1]]), "1", "starts with its tenant record"),
        (join(&[lines[0], lines[5], lines[1]]), "3", "export order"),
        (join(&[lines[0], "not json"]), "2", "expected"),
        (join(&[lines[0], ""]), "2", "empty"),
        (
            join(&[lines[0], r#"{"type":"end","houses":5,"students":0}"#]),
            "2",
            "counts",
        ),
        (
            join(&[lines[0], EMPTY_END, EMPTY_END]),
            "3",
            "nothing may follow",
        ),
        (
            join(&[lines[0].replace("\"format\":1", "\"format\":2").as_str()]),
            "1",
            "format 2",
        ),
        (
            join(&[lines[0], &lines[1].replace("Gryffindor", "")]),
            "2",
            "name",
        ),
    ];
    for (body, line, reason) in cases {
        let refused = refused_import(&app, body.clone()).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}\n{refused:?}"
        );
        assert_eq!(
            refused.body["error"]["fields"]["line"], line,
            "{body}\n{refused:?}"
        );
        let why = refused.body["error"]["fields"]["reason"]
            .as_str()
            .unwrap_or("");
        assert!(why.contains(reason), "{why:?} should say {reason:?}");
    }
    let long = format!("{}\n{}\n", lines[0], "x".repeat(70_000));
    let too_long = refused_import(&app, long).await;
    assert_eq!(
        (
            too_long.status,
            too_long.body["error"]["fields"]["line"].clone()
        ),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("2"))
    );
}

#[tokio::test]
async fn export_and_import_answer_each_error_status() {
    // Room for the tenant record, not for a house after it.
    let app = TestApp::with_config(|config| config.import_max_bytes = 200).await;
    seed_hogwarts(&app).await;
    let exported = export(&app, "hogwarts").await;

    let anonymous = app.get("/admin/tenants/hogwarts/export").send().await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let anonymous = app
        .call(Method::POST, "/admin/tenants/castelobruxo/import")
        .raw_body(NDJSON, exported.clone())
        .send()
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let unknown = app
        .get("/admin/tenants/durmstrang/export")
        .admin()
        .send()
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "unknown_tenant")
    );
    let unknown = import(&app, "durmstrang", exported.clone()).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "unknown_tenant")
    );

    let not_empty = import(&app, "hogwarts", exported.clone()).await;
    assert_eq!(
        (not_empty.status, not_empty.code()),
        (StatusCode::CONFLICT, "conflict")
    );
    let wrong_type = app
        .call(Method::POST, "/admin/tenants/castelobruxo/import")
        .admin()
        .raw_body("application/json", exported.clone())
        .send()
        .await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let too_large = import(&app, "castelobruxo", exported.clone()).await;
    assert_eq!(
        (too_large.status, too_large.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    assert!(contents(&app, app.castelobruxo.id.as_uuid())
        .await
        .is_empty());
}
