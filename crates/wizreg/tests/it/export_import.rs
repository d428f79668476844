//! Export and import over the admin API: a school moved to another deployment comes out
//! byte-identical, a bad file imports nothing, and random schools survive the round trip.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::TestApp;

pub const NDJSON: &str = "application/x-ndjson";

/// Two houses, students with and without house and email, some renamed after creation (so
/// `updated_at` differs from `created_at`).
async fn seed_hogwarts(app: &TestApp) {
    let gryffindor = app
        .post("/houses", json!({"name": "Gryffindor"}))
        .tenant("hogwarts")
        .send()
        .await
        .id();
    app.post("/houses", json!({"name": "Slytherin \"the green\""}))
        .tenant("hogwarts")
        .send()
        .await;
    for (name, email, house) in [
        (
            "Harry Potter",
            json!("harry@hogwarts.example"),
            json!(gryffindor),
        ),
        ("Hermine Granger", json!(null), json!(gryffindor)),
        ("Luna Lovegood", json!("luna@hogwarts.example"), json!(null)),
        ("Ünïcødé ☃", json!(null), json!(null)),
    ] {
        let created = app
            .post(
                "/students",
                json!({"name": name, "email": email, "house_id": house}),
            )
            .tenant("hogwarts")
            .send()
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
        if name.starts_with("Luna") {
            app.patch(
                &format!("/students/{}", created.id()),
                json!({"name": "Luna L."}),
            )
            .tenant("hogwarts")
            .send()
            .await;
        }
    }
}

pub async fn export(app: &TestApp, tenant: &str) -> Vec<u8> {
    let (status, headers, body) = app
        .get(&format!("/admin/tenants/{tenant}/export"))
        .admin()
        .send_raw()
        .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some(NDJSON)
    );
    body
}

pub async fn import(
    app: &TestApp,
    tenant: &str,
    body: impl Into<Vec<u8>>,
) -> crate::harness::Reply {
    app.call(Method::POST, &format!("/admin/tenants/{tenant}/import"))
        .admin()
        .raw_body(NDJSON, body)
        .send()
        .await
}

/// The tenant record of an export, parsed.
fn tenant_record(export: &[u8]) -> Value {
    let first = export.split(|b| *b == b'\n').next().expect("a first line");
    serde_json::from_slice(first).expect("JSON")
}

/// Rows of one school's houses and students, tenant column left out, for comparing schools.
pub async fn contents(app: &TestApp, tenant: uuid::Uuid) -> Vec<String> {
    let privileged = app.privileged().await;
    let mut rows = Vec::new();
    for sql in [
        "select format('%s|%s|%s|%s', id, name, created_at, updated_at) from wizreg.house where tenant_id = $1 order by id",
        "select format('%s|%s|%s|%s|%s|%s', id, name, email, house_id, created_at, updated_at) from wizreg.student where tenant_id = $1 order by id",
    ] {
        for row in privileged.query(sql, &[&tenant]).await.expect("contents") {
            rows.push(row.get(0));
        }
    }
    rows
}

#[tokio::test]
async fn a_school_imported_into_another_deployment_exports_byte_identically() {
    let source = TestApp::new().await;
    seed_hogwarts(&source).await;
    let exported = export(&source, "hogwarts").await;
    let text = String::from_utf8(exported.clone()).expect("UTF-8");
    assert!(
        text.ends_with("{\"type\":\"end\",\"houses\":2,\"students\":4}\n"),
        "{text}"
    );

    // Another deployment: its own database, where the school is created under its old id.
    let target = TestApp::new().await;
    let record = tenant_record(&exported);
    let created = target
        .post(
            "/admin/tenants",
            json!({"id": record["id"], "slug": "hogwarts-moved", "name": record["name"]}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    // Under another slug: everything but the tenant record's slug is byte-identical.
    let imported = import(&target, "hogwarts-moved", exported.clone()).await;
    assert_eq!(imported.status, StatusCode::OK, "{imported:?}");
    assert_eq!(imported.body, json!({"houses": 2, "students": 4}));

    let again = export(&target, "hogwarts-moved").await;
    let (first_line, rest) = split_first_line(&again);
    let (source_first, source_rest) = split_first_line(&exported);
    assert_eq!(
        rest, source_rest,
        "every house and student line is byte-identical"
    );
    let mut moved: Value = serde_json::from_slice(first_line).expect("tenant");
    moved["slug"] = json!("hogwarts");
    assert_eq!(
        moved,
        serde_json::from_slice::<Value>(source_first).expect("tenant")
    );

    // Under the same slug as well, the whole export is byte-identical.
    let third = TestApp::new().await;
    third
        .delete(&format!("/admin/tenants/{}", third.hogwarts.id))
        .admin()
        .send()
        .await;
    third
        .post(
            "/admin/tenants",
            json!({"id": record["id"], "slug": "hogwarts", "name": record["name"]}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(
        import(&third, "hogwarts", exported.clone()).await.status,
        StatusCode::OK
    );
    assert_eq!(export(&third, "hogwarts").await, exported);
}

fn split_first_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    let cut = bytes.iter().position(|b| *b == b'\n').expect("a line");
    (&bytes[..cut], &bytes[cut + 1..])
}

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

#[tokio::test]
async fn an_export_larger_than_a_request_body_limit_streams_out_and_imports_back() {
    let app = TestApp::new().await;
    let privileged = app.privileged().await;
    privileged
        .execute(
            "insert into wizreg.student (tenant_id, id, name, email)
             select $1, gen_random_uuid(), 'Student ' || n, 'student' || n || '@example.org'
             from generate_series(1, 3000) n",
            &[&app.hogwarts.id.as_uuid()],
        )
        .await
        .expect("seed");
    let exported = export(&app, "hogwarts").await;
    assert!(
        exported.len() > 4 * 64 * 1024,
        "several chunks out, and far over the 64 KiB JSON body limit in: {} bytes",
        exported.len()
    );
    let imported = import(&app, "castelobruxo", exported).await;
    assert_eq!(imported.status, StatusCode::OK, "{imported:?}");
    assert_eq!(imported.body, json!({"houses": 0, "students": 3000}));
    assert_eq!(
        contents(&app, app.castelobruxo.id.as_uuid()).await,
        contents(&app, app.hogwarts.id.as_uuid()).await
    );
}
