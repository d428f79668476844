//! `Idempotency-Key` on POST: replays, mismatches, concurrent duplicates and expiry, checked
//! against what the database holds.

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::{on_both_backends, Backend, TestApp};

async fn count(app: &TestApp, table: &str) -> i64 {
    app.privileged()
        .await
        .query_one(&format!("select count(*) from wizreg.{table}"), &[])
        .await
        .expect("count")
        .get(0)
}

on_both_backends! {
#[tokio::test]
async fn a_retry_with_the_same_key_and_body_gets_the_first_answer_and_creates_nothing(backend) {
    let app = TestApp::on(backend).await;
    let send = || {
        app.post(
            "/students",
            json!({"name": "Harry", "email": "harry@hogwarts.example"}),
        )
        .tenant("hogwarts")
        .header("idempotency-key", "enrol-harry-1")
        .send()
    };
    let first = send().await;
    let retry = send().await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(retry.status, StatusCode::CREATED);
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.header("location"), first.header("location"));
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(count(&app, "student").await, 1);

    // The same body with its keys in another order is the same request.
    let reordered = app
        .call(axum::http::Method::POST, "/students/")
        .tenant("hogwarts")
        .header("idempotency-key", "enrol-harry-1")
        .raw_body(
            "application/json",
            r#"{ "email": "harry@hogwarts.example",  "name": "Harry" }"#,
        )
        .send()
        .await;
    assert_eq!(reordered.body, first.body);
}
}

on_both_backends! {
#[tokio::test]
async fn a_duplicate_while_the_first_holds_the_key_and_its_row_is_409_and_creates_nothing(backend) {
    // The running request has taken the key and inserted its house; the duplicate's own insert
    // waits on that house's unique name until the first request ends, then is rolled back.
    let app = TestApp::on(backend).await;
    let running = hold_key(&app, "found-hufflepuff").await;
    let mut running = running;
    running
        .run(tenancy::Query::new(
            "insert into wizreg.house (tenant_id, id, name) values ($1, gen_random_uuid(), 'Hufflepuff')",
        ))
        .await
        .expect("the first request's house");
    let request = app
        .post("/houses", json!({"name": "Hufflepuff"}))
        .tenant("hogwarts")
        .header("idempotency-key", "found-hufflepuff")
        .send();
    tokio::pin!(request);
    // The first request ends only once the duplicate waits behind its house row (or the
    // duplicate answered without waiting, which must be the same 409).
    let privileged = app.privileged().await;
    let duplicate = tokio::select! {
        reply = &mut request => reply,
        () = lock_waiter(&privileged, backend) => {
            running.commit().await.expect("the first request commits");
            request.await
        }
    };
    assert_eq!(
        (duplicate.status, duplicate.code()),
        (StatusCode::CONFLICT, "conflict")
    );
    assert_eq!(count(&app, "house").await, 1);
    assert_eq!(count(&app, "idempotency_key").await, 0);
}
}

/// A tenant transaction holding `key` for hogwarts, the way a running request does: it ran
/// the product's own claim (so on Citus the key is held wherever the product holds it).
async fn hold_key(app: &TestApp, key: &str) -> tenancy::TenantTx {
    let tenancy = app.database.command_tenancy();
    let mut running = tenancy.begin(app.hogwarts.id).await.expect("a connection");
    let key = wizreg::idempotency::IdempotencyKey::parse(key.as_bytes()).expect("a key");
    let claim = wizreg::idempotency::claim(&key, std::time::Duration::from_secs(60));
    assert_eq!(
        running.run(claim).await.expect("claim"),
        wizreg::idempotency::Claim::Fresh
    );
    running
}

/// Returns once a session of this test's database waits on a lock (on any node, on Citus).
async fn lock_waiter(client: &tokio_postgres::Client, backend: Backend) {
    let waiting = match backend {
        Backend::Postgres => {
            "select count(*) from pg_stat_activity
                   where datname = current_database() and wait_event_type = 'Lock'"
        }
        Backend::Citus => {
            "select count(*) from citus_stat_activity
                   where datname = current_database() and wait_event_type = 'Lock'"
        }
    };
    while client
        .query_one(waiting, &[])
        .await
        .expect("waiters")
        .get::<_, i64>(0)
        == 0
    {
        tokio::task::yield_now().await;
    }
}

on_both_backends! {
#[tokio::test]
async fn a_house_replay_gets_the_first_house_another_body_is_422_and_keys_belong_to_one_school(backend) {
    let app = TestApp::on(backend).await;
    let key = ("idempotency-key", "house-1");
    let send = || {
        app.post("/houses", json!({"name": "Gryffindor"}))
            .tenant("hogwarts")
            .header(key.0, key.1)
            .send()
    };
    let first = send().await;
    assert_eq!(first.status, StatusCode::CREATED);
    // The replay's own insert fails on the taken name; the stored answer, not that error, wins.
    let replay = send().await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        (&replay.body, replay.header("location")),
        (&first.body, first.header("location"))
    );
    let other_body = app
        .post("/houses", json!({"name": "Slytherin"}))
        .tenant("hogwarts")
        .header(key.0, key.1)
        .send()
        .await;
    assert_eq!(
        (other_body.status, other_body.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    assert!(other_body.body["error"]["fields"]["Idempotency-Key"].is_string());
    let other_route = app
        .post("/students", json!({"name": "Gryffindor"}))
        .tenant("hogwarts")
        .header(key.0, key.1)
        .send()
        .await;
    assert_eq!(other_route.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Another school's identical key and body is its own request.
    let elsewhere = app
        .post("/houses", json!({"name": "Gryffindor"}))
        .tenant("castelobruxo")
        .header(key.0, key.1)
        .send()
        .await;
    assert_eq!(elsewhere.status, StatusCode::CREATED);
    assert_ne!(elsewhere.body["id"], first.body["id"]);
    assert_eq!(count(&app, "house").await, 2);
}
}

on_both_backends! {
#[tokio::test]
async fn malformed_keys_are_400_and_failed_creates_leave_no_key_behind(backend) {
    let app = TestApp::on(backend).await;
    for bad in ["", "with space", &"k".repeat(256)] {
        let reply = app
            .post("/houses", json!({"name": "Hufflepuff"}))
            .tenant("hogwarts")
            .header("idempotency-key", bad)
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad:?}");
    }
    app.post("/houses", json!({"name": "Hufflepuff"}))
        .tenant("hogwarts")
        .send()
        .await;
    let duplicate = app
        .post("/houses", json!({"name": "Hufflepuff"}))
        .tenant("hogwarts")
        .header("idempotency-key", "dup")
        .send()
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(count(&app, "idempotency_key").await, 0);
    // The key is free again: after the clash is fixed, the same key creates.
    app.delete(&format!("/houses/{}", first_house(&app).await))
        .tenant("hogwarts")
        .send()
        .await;
    let retried = app
        .post("/houses", json!({"name": "Hufflepuff"}))
        .tenant("hogwarts")
        .header("idempotency-key", "dup")
        .send()
        .await;
    assert_eq!(retried.status, StatusCode::CREATED);
}
}

async fn first_house(app: &TestApp) -> String {
    let list = app.get("/houses").tenant("hogwarts").send().await;
    list.body[0]["id"].as_str().expect("a house").to_owned()
}

on_both_backends! {
#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_record(backend) {
    let app = TestApp::on(backend).await;
    let send = || {
        app.post("/students", json!({"name": "Ron"}))
            .tenant("hogwarts")
            .header("idempotency-key", "enrol-ron")
            .send()
    };
    let replies = futures_util::future::join_all((0..8).map(|_| send())).await;
    let created: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    for reply in &replies {
        assert!(
            matches!(reply.status, StatusCode::CREATED | StatusCode::CONFLICT),
            "{reply:?}"
        );
    }
    assert!(!created.is_empty());
    assert!(
        created.iter().all(|r| r.body == created[0].body),
        "every 201 is the same record"
    );
    assert_eq!(count(&app, "student").await, 1);
    println!(
        "8 concurrent POSTs with one key: {} x 201 (one created, the rest replays), {} x 409",
        created.len(),
        replies.len() - created.len()
    );
}
}

on_both_backends! {
#[tokio::test]
async fn a_request_holding_the_key_makes_a_duplicate_409_at_once(backend) {
    let app = TestApp::on(backend).await;
    let running = hold_key(&app, "enrol-luna").await;
    let duplicate = app
        .post("/students", json!({"name": "Luna"}))
        .tenant("hogwarts")
        .header("idempotency-key", "enrol-luna")
        .send()
        .await;
    assert_eq!(
        (duplicate.status, duplicate.code()),
        (StatusCode::CONFLICT, "conflict")
    );
    running.rollback().await.expect("end");
    let after = app
        .post("/students", json!({"name": "Luna"}))
        .tenant("hogwarts")
        .header("idempotency-key", "enrol-luna")
        .send()
        .await;
    assert_eq!(after.status, StatusCode::CREATED);
}
}

on_both_backends! {
#[tokio::test]
async fn an_expired_key_is_forgotten_and_purged(backend) {
    let app = TestApp::with_config_on(backend, |c| c.idempotency_ttl_secs = 60).await;
    let send = |name: &'static str| {
        app.post("/houses", json!({"name": name}))
            .tenant("hogwarts")
            .header("idempotency-key", "reused")
            .send()
    };
    assert_eq!(send("Ravenclaw").await.status, StatusCode::CREATED);
    app.privileged()
        .await
        .execute(
            "update wizreg.idempotency_key set created_at = now() - interval '61 seconds'",
            &[],
        )
        .await
        .expect("age the key");
    let reused = send("Hufflepuff").await;
    assert_eq!(reused.status, StatusCode::CREATED, "{reused:?}");
    assert_eq!(reused.header("idempotent-replayed"), None);
    let stored: Vec<String> = app
        .privileged()
        .await
        .query("select response_body from wizreg.idempotency_key", &[])
        .await
        .expect("keys")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored.len(), 1, "the expired row was replaced");
    assert!(stored[0].contains("Hufflepuff"));
}
}
