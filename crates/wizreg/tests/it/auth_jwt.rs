//! JWTs with a shared secret (HS256; key pairs are in `auth_jwt_keys`): `exp`, `nbf`, `iss`
//! and `aud` checked with a small clock skew; the tenant claim names the school. Every bad
//! token is `401 unauthorized` with a message that says what is wrong.

use axum::http::StatusCode;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tenancy::TenantId;
use wizreg::config::{AuthMode, Config, Secret};

use crate::auth_api_keys::bearer;
use crate::harness::{Reply, TestApp};

pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef";
pub const RS256_PRIVATE: &str = include_str!("../fixtures/jwt-rs256-private.pem");

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Claims that pass every check of the default configuration.
pub fn valid_claims(tenant: TenantId) -> Value {
    json!({"tenant_id": tenant, "sub": "someone", "exp": now() + 300})
}

pub fn sign(algorithm: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    encode(&Header::new(algorithm), claims, key).expect("sign")
}

pub fn hs256(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
        claims,
    )
}

async fn jwt_app(adjust: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::with_config(|c| {
        c.auth = AuthMode::Jwt;
        c.jwt_secret = Some(Secret::new(JWT_SECRET));
        adjust(c);
    })
    .await
}

pub async fn with_token(app: &TestApp, token: &str) -> Reply {
    app.get("/students")
        .header("authorization", &bearer(token))
        .send()
        .await
}

/// Asserts a 401 whose message mentions `why`, and that the token is not echoed.
pub fn assert_refused(reply: &Reply, why: &str, token: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized"),
        "{why}: {reply:?}"
    );
    let message = reply.body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains(why), "{message:?} should say {why:?}");
    assert!(
        !reply.body.to_string().contains(token),
        "the token is not echoed"
    );
}

#[tokio::test]
async fn a_valid_hs256_token_names_its_school() {
    let app = jwt_app(|_| {}).await;
    let token = hs256(&valid_claims(app.hogwarts.id));
    let created = app
        .post("/students", json!({"name": "Cho"}))
        .header("authorization", &bearer(&token))
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.body["tenant_id"], json!(app.hogwarts.id));
    // Within the clock-skew allowance, a just-expired token still passes.
    let skewed = hs256(&json!({"tenant_id": app.hogwarts.id, "exp": now() - 5}));
    assert_eq!(with_token(&app, &skewed).await.status, StatusCode::OK);
}

#[tokio::test]
async fn expired_premature_tampered_and_malformed_tokens_are_refused() {
    let app = jwt_app(|_| {}).await;
    let hogwarts = app.hogwarts.id;
    let expired = hs256(&json!({"tenant_id": hogwarts, "exp": now() - 3600}));
    assert_refused(&with_token(&app, &expired).await, "expired", &expired);
    let premature =
        hs256(&json!({"tenant_id": hogwarts, "exp": now() + 7200, "nbf": now() + 3600}));
    assert_refused(
        &with_token(&app, &premature).await,
        "not valid yet",
        &premature,
    );
    let no_exp = hs256(&json!({"tenant_id": hogwarts}));
    assert_refused(&with_token(&app, &no_exp).await, "required claim", &no_exp);

    // Hogwarts' signature on Castelobruxo's claims.
    let genuine = hs256(&valid_claims(hogwarts));
    let other = hs256(&valid_claims(app.castelobruxo.id));
    let parts: Vec<&str> = genuine.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        other.split('.').nth(1).expect("payload"),
        parts[2]
    );
    assert_refused(&with_token(&app, &tampered).await, "signature", &tampered);
    let forged = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(b"not-the-server-secret-at-all!!"),
        &valid_claims(hogwarts),
    );
    assert_refused(&with_token(&app, &forged).await, "signature", &forged);

    for garbage in ["x", "a.b.c", "bm90IGpzb24.e30.c2ln"] {
        assert_refused(&with_token(&app, garbage).await, "well-formed", garbage);
    }
    let no_tenant = hs256(&json!({"exp": now() + 300}));
    assert_refused(
        &with_token(&app, &no_tenant).await,
        "tenant_id claim",
        &no_tenant,
    );
    let slug_tenant = hs256(&json!({"tenant_id": "hogwarts", "exp": now() + 300}));
    assert_refused(
        &with_token(&app, &slug_tenant).await,
        "tenant's UUID",
        &slug_tenant,
    );
}

#[tokio::test]
async fn alg_none_and_other_algorithms_are_refused() {
    let app = jwt_app(|_| {}).await;
    let genuine = hs256(&valid_claims(app.hogwarts.id));
    let payload = genuine.split('.').nth(1).expect("payload");
    // base64url of {"alg":"none","typ":"JWT"}
    let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
    for unsigned in [
        format!("{none_header}.{payload}."),
        format!("{none_header}.{payload}"),
    ] {
        assert_refused(
            &with_token(&app, &unsigned).await,
            "supported algorithm",
            &unsigned,
        );
    }
    let hs384 = sign(
        Algorithm::HS384,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
        &valid_claims(app.hogwarts.id),
    );
    assert_refused(&with_token(&app, &hs384).await, "algorithm", &hs384);
    let rs256 = sign(
        Algorithm::RS256,
        &EncodingKey::from_rsa_pem(RS256_PRIVATE.as_bytes()).expect("fixture key"),
        &valid_claims(app.hogwarts.id),
    );
    assert_refused(&with_token(&app, &rs256).await, "algorithm", &rs256);
}

#[tokio::test]
async fn issuer_and_audience_are_required_when_configured() {
    let app = jwt_app(|c| {
        c.jwt_issuer = Some("https://id.example".into());
        c.jwt_audience = Some("wizreg".into());
    })
    .await;
    let base = |extra: Value| {
        let mut claims = valid_claims(app.hogwarts.id);
        for (k, v) in extra.as_object().expect("object") {
            claims[k] = v.clone();
        }
        hs256(&claims)
    };
    let good = base(json!({"iss": "https://id.example", "aud": "wizreg"}));
    assert_eq!(with_token(&app, &good).await.status, StatusCode::OK);
    let wrong_iss = base(json!({"iss": "https://evil.example", "aud": "wizreg"}));
    assert_refused(&with_token(&app, &wrong_iss).await, "issuer", &wrong_iss);
    let wrong_aud = base(json!({"iss": "https://id.example", "aud": "another-api"}));
    assert_refused(&with_token(&app, &wrong_aud).await, "audience", &wrong_aud);
    let missing = base(json!({"aud": "wizreg"}));
    assert_refused(
        &with_token(&app, &missing).await,
        "required claim",
        &missing,
    );
}

#[tokio::test]
async fn the_tenant_claim_name_is_configurable_and_must_name_a_known_active_school() {
    let app = jwt_app(|c| c.jwt_tenant_claim = "school".into()).await;
    let token = hs256(&json!({"school": app.castelobruxo.id, "exp": now() + 300}));
    assert_eq!(with_token(&app, &token).await.status, StatusCode::OK);
    let default_name = hs256(&valid_claims(app.castelobruxo.id));
    assert_refused(
        &with_token(&app, &default_name).await,
        "school claim",
        &default_name,
    );

    let unknown =
        hs256(&json!({"school": "01a216be-1bed-703f-9664-f318153d89c2", "exp": now() + 300}));
    let reply = with_token(&app, &unknown).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::NOT_FOUND, "unknown_tenant")
    );
    app.patch(
        &format!("/admin/tenants/{}", app.castelobruxo.id),
        json!({"status": "suspended"}),
    )
    .admin()
    .send()
    .await;
    let reply = with_token(&app, &token).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::FORBIDDEN, "tenant_suspended")
    );
}

/// A payload written key by key, so a claim can appear twice (a JSON object cannot say so).
struct RepeatedClaims(Vec<(&'static str, Value)>);

impl serde::Serialize for RepeatedClaims {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[tokio::test]
async fn a_token_naming_a_claim_twice_is_refused() {
    let app = jwt_app(|_| {}).await;
    let claims = RepeatedClaims(vec![
        ("tenant_id", json!(app.castelobruxo.id)),
        ("sub", json!("someone")),
        ("exp", json!(now() + 300)),
        ("tenant_id", json!(app.hogwarts.id)),
    ]);
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("sign");
    assert_refused(&with_token(&app, &token).await, "each claim once", &token);
    // The same claims once each are accepted: the repeat is what is refused.
    let once = hs256(&valid_claims(app.hogwarts.id));
    assert_eq!(with_token(&app, &once).await.status, StatusCode::OK);
}
