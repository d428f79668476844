//! The attack suite, part 3: injection strings and other schools' ids in credentials (the JWT
//! tenant claim and API keys), refused before any SQL (see `attacks_input/` for how that is
//! proved) and never answered with another school's data.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use wizreg::config::{AuthMode, Secret};

use crate::attacks_input::{assert_refused_cleanly, injections, seeded, send, starved_router};
use crate::auth_jwt::{hs256, JWT_SECRET};

fn jwt(claim: Value) -> String {
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 300;
    format!(
        "Bearer {}",
        hs256(&json!({"tenant_id": claim, "sub": "x", "exp": exp}))
    )
}

#[tokio::test]
async fn injection_strings_in_the_jwt_tenant_claim_are_refused_before_any_sql() {
    let (app, config) = seeded(|c| {
        c.auth = AuthMode::Jwt;
        c.jwt_secret = Some(Secret::new(JWT_SECRET));
    })
    .await;
    let good = jwt(json!(app.hogwarts.id));
    let cold = jwt(json!(app.castelobruxo.id));
    let warm: &[(&str, &[u8])] = &[("authorization", good.as_bytes())];
    let (router, _hostage) =
        starved_router(&app, &config, warm, &[("authorization", cold.as_bytes())]).await;
    let mut claims: Vec<Value> = injections().into_iter().map(Value::from).collect();
    let castelo = app.castelobruxo.id.to_string();
    claims.extend([
        json!(null),
        json!(1),
        json!([castelo]),
        json!({ "id": castelo }),
        json!(format!("{}'", castelo.to_uppercase())),
    ]);
    for claim in claims {
        let token = jwt(claim.clone());
        let headers: &[(&str, &[u8])] = &[("authorization", token.as_bytes())];
        let (status, body) = send(&router, Method::GET, "/students", headers, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{claim:.60}: {body}");
        assert_refused_cleanly(
            &app,
            &format!("claim {:.60}", claim.to_string()),
            status,
            &body,
        );
    }
    // The credential decides: naming another school beside it is refused, before any SQL.
    let mismatch: &[(&str, &[u8])] = &[
        ("authorization", good.as_bytes()),
        ("x-tenant", b"castelobruxo"),
    ];
    let (status, body) = send(&router, Method::GET, "/students", mismatch, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test]
async fn injection_strings_as_api_keys_are_refused_before_any_sql() {
    let (app, config) = seeded(|c| c.auth = AuthMode::ApiKey).await;
    let (_, key) = crate::auth_api_keys::issue_key(&app, "hogwarts").await;
    let (_, other) = crate::auth_api_keys::issue_key(&app, "castelobruxo").await;
    let good = format!("Bearer {key}");
    let cold = format!("Bearer {other}");
    let warm: &[(&str, &[u8])] = &[("authorization", good.as_bytes())];
    let (router, _hostage) =
        starved_router(&app, &config, warm, &[("authorization", cold.as_bytes())]).await;
    let castelo = app.castelobruxo.id.as_uuid().simple().to_string();
    let mut keys = injections();
    keys.extend([
        format!("wzk_{castelo}_'; --"),
        format!("wzk_{castelo}"),
        "wzk_".to_owned(),
        format!("{key}'"),
    ]);
    for bad in keys {
        let header = format!("Bearer {bad}");
        let headers: &[(&str, &[u8])] = &[("authorization", header.as_bytes())];
        let (status, body) = send(&router, Method::GET, "/students", headers, None).await;
        assert_refused_cleanly(&app, &format!("api key {bad:.40?}"), status, &body);
    }
}
