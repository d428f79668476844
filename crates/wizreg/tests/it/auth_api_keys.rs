//! API keys: issued, listed and revoked through `/admin/tenants/{tenant}/api-keys`, stored only
//! as a keyed hash, and accepted only for their own school until revoked.

use axum::http::{Method, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use wizreg::config::AuthMode;

use crate::harness::{Reply, TestApp, KEY_SECRET};

/// An app that takes API keys only.
pub async fn api_key_app() -> TestApp {
    TestApp::with_config(|c| c.auth = AuthMode::ApiKey).await
}

/// Revokes Hogwarts' key `id` as the platform administrator.
pub async fn revoke_hogwarts_key(app: &TestApp, id: &str) -> Reply {
    app.delete(&format!("/admin/tenants/hogwarts/api-keys/{id}"))
        .admin()
        .send()
        .await
}

/// Issues a key for `tenant` (slug or UUID) through the admin API: `(key id, key)`.
pub async fn issue_key(app: &TestApp, tenant: &str) -> (String, String) {
    let reply = app
        .call(Method::POST, &format!("/admin/tenants/{tenant}/api-keys"))
        .admin()
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let key = reply.body["key"].as_str().expect("a key").to_owned();
    (reply.id(), key)
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn an_issued_key_is_shown_once_and_only_its_keyed_hash_is_stored() {
    let app = api_key_app().await;
    let reply = app
        .call(Method::POST, "/admin/tenants/hogwarts/api-keys")
        .admin()
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["tenant_id"], json!(app.hogwarts.id));
    let key = reply.body["key"].as_str().expect("key");
    let secret = key.rsplit('_').next().expect("secret part");
    assert!(key.starts_with("wzk_"), "{key}");
    assert_eq!(secret.len(), 64, "256 bits in hex");
    assert_eq!(reply.body["last_chars"], json!(&key[key.len() - 4..]));

    let db = app.privileged().await;
    let rows = db
        .query(
            "select row_to_json(k)::text, hash from wizreg.api_key k",
            &[],
        )
        .await
        .expect("read keys");
    assert_eq!(rows.len(), 1);
    let (stored_row, hash): (String, Vec<u8>) = (rows[0].get(0), rows[0].get(1));
    assert!(!stored_row.contains(secret), "the secret is never stored");
    let mut expected = Hmac::<Sha256>::new_from_slice(KEY_SECRET.as_bytes()).expect("hmac");
    expected.update(key.as_bytes());
    assert_eq!(hash, expected.finalize().into_bytes().to_vec());

    let listed = app
        .get("/admin/tenants/hogwarts/api-keys")
        .admin()
        .send()
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let listed = listed.body.as_array().expect("array").clone();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], reply.body["id"]);
    assert_eq!(listed[0]["revoked_at"], Value::Null);
    assert!(
        !listed[0].to_string().contains(secret),
        "lists never show the secret"
    );
}

#[tokio::test]
async fn a_key_decides_the_school_on_its_own() {
    let app = api_key_app().await;
    let (_, key) = issue_key(&app, &app.hogwarts.id.to_string()).await;
    let created = app
        .post("/students", json!({"name": "Neville"}))
        .header("authorization", &bearer(&key))
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.body["tenant_id"], json!(app.hogwarts.id));
    let listed = app
        .get("/students")
        .header("authorization", &bearer(&key))
        .send()
        .await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn without_a_valid_key_a_school_route_is_unauthorized() {
    let app = api_key_app().await;
    let (_, key) = issue_key(&app, "hogwarts").await;
    let forged = format!(
        "{}{}",
        &key[..key.len() - 1],
        if key.ends_with('0') { '1' } else { '0' }
    );
    let other_tenant = key.replacen(
        &app.hogwarts.id.as_uuid().simple().to_string(),
        &app.castelobruxo.id.as_uuid().simple().to_string(),
        1,
    );
    for authorization in [
        None,
        Some("Basic aGFycnk6cG90dGVy".to_owned()),
        Some(bearer("wzk_nonsense")),
        Some(bearer(&forged)),
        Some(bearer(&other_tenant)),
        Some(bearer("eyJhbGciOiJIUzI1NiJ9.e30.c2ln")),
    ] {
        let mut call = app.get("/students").tenant("hogwarts");
        if let Some(value) = &authorization {
            call = call.header("authorization", value);
        }
        let reply = call.send().await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNAUTHORIZED, "unauthorized"),
            "{authorization:?}"
        );
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        assert!(
            !reply.body.to_string().contains(&key[20..]),
            "no key text echoed"
        );
    }
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once() {
    let app = api_key_app().await;
    let (id, key) = issue_key(&app, "hogwarts").await;
    let works = app
        .get("/students")
        .header("authorization", &bearer(&key))
        .send()
        .await;
    assert_eq!(works.status, StatusCode::OK, "and is now cached");

    let revoked = revoke_hogwarts_key(&app, &id).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let refused = app
        .get("/students")
        .header("authorization", &bearer(&key))
        .send()
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let listed = app
        .get("/admin/tenants/hogwarts/api-keys")
        .admin()
        .send()
        .await;
    assert!(listed.body[0]["revoked_at"].is_string());
    let again = revoke_hogwarts_key(&app, &id).await;
    assert_eq!(
        again.status,
        StatusCode::NO_CONTENT,
        "revoking twice is harmless"
    );
}

#[tokio::test]
async fn api_keys_are_invisible_outside_their_schools_transaction() {
    let app = api_key_app().await;
    issue_key(&app, "hogwarts").await;
    issue_key(&app, "castelobruxo").await;
    let mut runtime = app.runtime_connection().await;
    let outside: i64 = runtime
        .query_one("select count(*) from wizreg.api_key", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(outside, 0, "no tenant set: no rows");
    let tx = runtime.transaction().await.expect("begin");
    tx.execute(
        "select wizreg.enter_tenant($1)",
        &[&app.hogwarts.id.as_uuid()],
    )
    .await
    .expect("enter");
    let tenants: Vec<uuid::Uuid> = tx
        .query("select tenant_id from wizreg.api_key", &[])
        .await
        .expect("read")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tenants, vec![app.hogwarts.id.as_uuid()]);
}

#[tokio::test]
async fn a_deleted_schools_keys_stop_working_at_once() {
    let app = api_key_app().await;
    let (_, key) = issue_key(&app, "hogwarts").await;
    let with_key = || {
        app.get("/students")
            .header("authorization", &bearer(&key))
            .send()
    };
    assert_eq!(with_key().await.status, StatusCode::OK, "and is now cached");
    let deleted = app
        .delete(&format!("/admin/tenants/{}", app.hogwarts.id))
        .admin()
        .send()
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{deleted:?}");
    let refused = with_key().await;
    // 404 while the key's lookup is still cached (the school is gone), 401 once it is not
    // (the key is gone with it): never served.
    assert!(
        [
            (StatusCode::NOT_FOUND, "unknown_tenant"),
            (StatusCode::UNAUTHORIZED, "unauthorized")
        ]
        .contains(&(refused.status, refused.code())),
        "{refused:?}"
    );
}
