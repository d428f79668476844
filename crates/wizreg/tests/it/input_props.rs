//! Property tests through the real router: random JSON bodies, raw bytes, query strings and
//! path ids for every input parser. Any input gets a success or a 4xx with a JSON error —
//! never a 500, never a panic (the harness also insists every body is JSON).

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Map, Value};

use crate::harness::{Call, TestApp};

const CASES: usize = 60;

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop_oneof![
            Just("name"), Just("email"), Just("house_id"), Just("tenant_id"), Just("status"),
            Just("slug"), Just("statement_timeout_ms"), Just("id"),
        ].prop_map(str::to_owned),
        1 => "\\PC{0,12}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,250}".prop_map(Value::from),
        "[a-z0-9-]{0,70}".prop_map(Value::from),
        any::<u128>().prop_map(|n| Value::from(uuid::Uuid::from_u128(n).to_string())),
        "[a-z]{1,8}@[a-z]{1,8}\\.[a-z]{2,3}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(field_name(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Mostly objects with the routes' own field names, sometimes any JSON value at all.
fn body() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => proptest::collection::btree_map(field_name(), json_value(), 0..5)
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        1 => json_value(),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let pair = (
        prop_oneof![
            Just("limit".to_owned()),
            Just("after".to_owned()),
            Just("name".to_owned()),
            "\\PC{0,8}"
        ],
        prop_oneof!["\\PC{0,40}", "-?[0-9]{1,30}", Just(String::new())],
    );
    prop_oneof![
        proptest::collection::vec(pair, 0..4)
            .prop_map(|pairs| serde_urlencoded::to_string(pairs).unwrap_or_default()),
        "[A-Za-z0-9=&%+._~-]{0,60}",
    ]
}

fn path_segment() -> impl Strategy<Value = String> {
    "[A-Za-z0-9%._~-]{1,60}"
}

/// Draws `CASES` values of `strategy`.
fn samples<S: Strategy>(strategy: S) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..CASES)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("strategy generates")
                .current()
        })
        .collect()
}

/// Checks one answer: a success or a 4xx, with a JSON body (or none).
fn tally(statuses: &mut BTreeMap<u16, usize>, what: &str, input: &str, reply: Raw) {
    let (status, _, body) = reply;
    assert!(
        status.is_success() || status.is_client_error(),
        "{what} with {input} → {status} {}",
        String::from_utf8_lossy(&body)
    );
    assert!(
        body.is_empty() || serde_json::from_slice::<Value>(&body).is_ok(),
        "{what} with {input} → {status}, not JSON: {}",
        String::from_utf8_lossy(&body)
    );
    *statuses.entry(status.as_u16()).or_default() += 1;
}

type Raw = (StatusCode, axum::http::HeaderMap, Vec<u8>);

/// The call as the platform administrator (admin routes) or as Hogwarts (tenant routes).
fn signed(call: Call<'_>, admin: bool) -> Call<'_> {
    if admin {
        call.admin()
    } else {
        call.tenant("hogwarts")
    }
}

#[tokio::test]
async fn random_input_to_every_parser_gets_a_success_or_a_4xx() {
    let app = TestApp::new().await;
    let student = app
        .post("/students", json!({"name": "Target"}))
        .tenant("hogwarts")
        .send()
        .await
        .id();
    let house = app
        .post("/houses", json!({"name": "Target"}))
        .tenant("hogwarts")
        .send()
        .await
        .id();
    let scratch = app
        .post(
            "/admin/tenants",
            json!({"slug": "scratch", "name": "Scratch"}),
        )
        .admin()
        .send()
        .await
        .id();
    let mut statuses = BTreeMap::new();

    let body_routes = [
        (Method::POST, "/students".to_owned(), false),
        (Method::PATCH, format!("/students/{student}"), false),
        (Method::POST, "/houses".to_owned(), false),
        (Method::PATCH, format!("/houses/{house}"), false),
        (Method::POST, "/admin/tenants".to_owned(), true),
        (Method::PATCH, format!("/admin/tenants/{scratch}"), true),
    ];
    for (method, path, admin) in &body_routes {
        for body in samples(body()) {
            let call = app.call(method.clone(), path).json(body.clone());
            let reply = signed(call, *admin).send_raw().await;
            tally(
                &mut statuses,
                &format!("{method} {path}"),
                &body.to_string(),
                reply,
            );
        }
    }
    for raw in samples(proptest::collection::vec(any::<u8>(), 0..200)) {
        let reply = app
            .call(Method::POST, "/students")
            .tenant("hogwarts")
            .raw_body("application/json", raw.clone())
            .send_raw()
            .await;
        tally(
            &mut statuses,
            "POST /students",
            &format!("bytes {raw:?}"),
            reply,
        );
    }
    for query in samples(query()) {
        for route in ["/students", "/houses"] {
            let reply = app
                .get(&format!("{route}?{query}"))
                .tenant("hogwarts")
                .send_raw()
                .await;
            tally(&mut statuses, route, &query, reply);
        }
    }
    for segment in samples(path_segment()) {
        for method in [Method::GET, Method::DELETE] {
            for route in ["/students", "/houses", "/admin/tenants"] {
                let call = app.call(method.clone(), &format!("{route}/{segment}"));
                let reply = signed(call, route.starts_with("/admin")).send_raw().await;
                tally(
                    &mut statuses,
                    &format!("{method} {route}/…"),
                    &segment,
                    reply,
                );
            }
        }
    }
    let total: usize = statuses.values().sum();
    println!("{total} random requests, by status: {statuses:?}");
    assert!(
        statuses.keys().any(|s| *s < 300),
        "some random input was valid"
    );
    assert!(statuses.contains_key(&StatusCode::UNPROCESSABLE_ENTITY.as_u16()));
}
