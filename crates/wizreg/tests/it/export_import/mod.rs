//! Export and import over the admin API: a school moved to another deployment comes out
//! byte-identical, a bad file imports nothing, and random schools survive the round trip.

mod refused;

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

#[tokio::test]
async fn an_import_sent_as_plain_bytes_is_taken_like_ndjson() {
    // What generated clients send for a binary body: `application/octet-stream`.
    let app = TestApp::new().await;
    seed_hogwarts(&app).await;
    let exported = export(&app, "hogwarts").await;
    let imported = app
        .call(Method::POST, "/admin/tenants/castelobruxo/import")
        .admin()
        .raw_body("application/octet-stream", exported)
        .send()
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{imported:?}");
    assert_eq!(imported.body, json!({"houses": 2, "students": 4}));
    assert_eq!(
        contents(&app, app.castelobruxo.id.as_uuid()).await,
        contents(&app, app.hogwarts.id.as_uuid()).await
    );
}
