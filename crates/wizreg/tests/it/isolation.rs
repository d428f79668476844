//! Isolation between schools, proved through the API and directly at the database as the
//! runtime role (a superuser or the owner would bypass RLS and prove nothing).

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::{begin_as_tenant, on_both_backends, snapshot, TestApp};

on_both_backends! {
#[tokio::test]
async fn a_school_using_another_schools_ids_gets_404_on_every_route_and_changes_nothing(backend) {
    let app = TestApp::on(backend).await;
    let house = app
        .post("/houses", json!({"name": "Gryffindor"}))
        .tenant("castelobruxo")
        .send()
        .await
        .id();
    let student = app
        .post("/students", json!({"name": "Alanza", "house_id": house}))
        .tenant("castelobruxo")
        .send()
        .await
        .id();
    let before = snapshot(&app).await;

    let attempts = [
        (Method::GET, format!("/students/{student}"), None),
        (
            Method::PATCH,
            format!("/students/{student}"),
            Some(json!({"name": "Stolen"})),
        ),
        (Method::DELETE, format!("/students/{student}"), None),
        (Method::GET, format!("/houses/{house}"), None),
        (
            Method::PATCH,
            format!("/houses/{house}"),
            Some(json!({"name": "Stolen"})),
        ),
        (Method::DELETE, format!("/houses/{house}"), None),
    ];
    for (method, path, body) in attempts {
        let mut call = app.call(method.clone(), &path).tenant("hogwarts");
        if let Some(body) = body {
            call = call.json(body);
        }
        let reply = call.send().await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{method} {path}"
        );
    }
    let missing = app
        .get(&format!("/students/{}", uuid::Uuid::now_v7()))
        .tenant("hogwarts")
        .send()
        .await;
    let foreign = app
        .get(&format!("/students/{student}"))
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(
        (missing.status, &missing.body),
        (foreign.status, &foreign.body),
        "indistinguishable from missing"
    );

    for path in [
        "/students",
        "/houses",
        &format!("/students?after={student}"),
    ] {
        let list = app.get(path).tenant("hogwarts").send().await;
        assert_eq!(list.body, json!([]), "{path}");
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "castelobruxo's rows are unchanged"
    );
}
}

on_both_backends! {
#[tokio::test]
async fn a_forged_tenant_id_in_a_body_is_rejected_and_nothing_lands_elsewhere(backend) {
    let app = TestApp::on(backend).await;
    let forged = json!({"name": "Mole", "tenant_id": app.castelobruxo.id});
    let reply = app
        .post("/students", forged)
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body["error"]["fields"]["tenant_id"].is_string());

    let mine = app
        .post("/students", json!({"name": "Harry"}))
        .tenant("hogwarts")
        .send()
        .await
        .id();
    let patch = app
        .patch(
            &format!("/students/{mine}"),
            json!({"tenant_id": app.castelobruxo.id}),
        )
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(patch.status, StatusCode::UNPROCESSABLE_ENTITY);
    let house = app
        .post(
            "/houses",
            json!({"name": "H", "tenant_id": app.castelobruxo.id}),
        )
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(house.status, StatusCode::UNPROCESSABLE_ENTITY);

    let privileged = app.privileged().await;
    let theirs: i64 = privileged
        .query_one(
            "select count(*) from wizreg.student where tenant_id = $1",
            &[&app.castelobruxo.id.as_uuid()],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(theirs, 0);
}
}

on_both_backends! {
#[tokio::test]
async fn a_house_of_another_school_is_a_422_like_a_missing_one_and_creates_nothing(backend) {
    let app = TestApp::on(backend).await;
    let their_house = app
        .post("/houses", json!({"name": "Jaguar"}))
        .tenant("castelobruxo")
        .send()
        .await
        .id();
    let foreign = app
        .post(
            "/students",
            json!({"name": "Harry", "house_id": their_house}),
        )
        .tenant("hogwarts")
        .send()
        .await;
    let missing = app
        .post(
            "/students",
            json!({"name": "Harry", "house_id": uuid::Uuid::now_v7()}),
        )
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(foreign.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        (&foreign.status, &foreign.body),
        (&missing.status, &missing.body)
    );

    let mine = app
        .post("/students", json!({"name": "Ron"}))
        .tenant("hogwarts")
        .send()
        .await
        .id();
    let patch = app
        .patch(
            &format!("/students/{mine}"),
            json!({"house_id": their_house}),
        )
        .tenant("hogwarts")
        .send()
        .await;
    assert_eq!(patch.status, StatusCode::UNPROCESSABLE_ENTITY);

    let privileged = app.privileged().await;
    let count: i64 = privileged
        .query_one(
            "select count(*) from wizreg.student where house_id is not null",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 0);
}
}

on_both_backends! {
#[tokio::test]
async fn the_runtime_role_with_no_tenant_set_sees_nothing_and_writes_nothing(backend) {
    let app = TestApp::on(backend).await;
    app.post("/students", json!({"name": "Harry"}))
        .tenant("hogwarts")
        .send()
        .await;
    app.post("/houses", json!({"name": "Gryffindor"}))
        .tenant("hogwarts")
        .send()
        .await;

    let runtime = app.runtime_connection().await;
    let whoami: String = runtime
        .query_one("select current_user::text", &[])
        .await
        .expect("whoami")
        .get(0);
    assert_eq!(whoami, "wizreg_app");
    for table in ["wizreg.student", "wizreg.house"] {
        let count: i64 = runtime
            .query_one(&format!("select count(*) from {table}"), &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(count, 0, "{table} reads as empty without a tenant");
    }
    let insert = runtime
        .execute(
            "insert into wizreg.student (id, name) values (gen_random_uuid(), 'Ghost')",
            &[],
        )
        .await;
    assert!(insert.is_err(), "no tenant: the insert has no tenant_id");
    let forged = runtime
        .execute(
            "insert into wizreg.student (tenant_id, id, name) values ($1, gen_random_uuid(), 'Ghost')",
            &[&app.hogwarts.id.as_uuid()],
        )
        .await;
    assert!(
        forged.is_err(),
        "no tenant: WITH CHECK refuses any tenant_id"
    );
    let updated = runtime
        .execute("update wizreg.student set name = 'x'", &[])
        .await
        .expect("update runs");
    assert_eq!(updated, 0);

    // After a tenant transaction on the same connection, the setting is gone again.
    begin_as_tenant(&runtime, app.hogwarts.id.as_uuid()).await;
    let inside: i64 = runtime
        .query_one("select count(*) from wizreg.student", &[])
        .await
        .expect("count")
        .get(0);
    runtime.batch_execute("commit").await.expect("commit");
    let after: i64 = runtime
        .query_one("select count(*) from wizreg.student", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!((inside, after), (1, 0));
}
}

on_both_backends! {
#[tokio::test]
async fn the_runtime_role_cannot_truncate_or_make_temp_tables(backend) {
    let app = TestApp::on(backend).await;
    let runtime = app.runtime_connection().await;
    assert!(runtime
        .batch_execute("truncate wizreg.student")
        .await
        .is_err());
    assert!(runtime
        .batch_execute("create temp table t (x int)")
        .await
        .is_err());
    assert!(runtime
        .batch_execute("create table wizreg.t (x int)")
        .await
        .is_err());
    let row = runtime
        .query_one(
            "select rolsuper, rolbypassrls from pg_roles where rolname = current_user",
            &[],
        )
        .await
        .expect("role");
    assert_eq!(
        (row.get::<_, bool>(0), row.get::<_, bool>(1)),
        (false, false)
    );
}
}
