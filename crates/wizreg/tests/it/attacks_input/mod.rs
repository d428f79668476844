//! The attack suite, part 2: injection strings in every tenant input (X-Tenant, Host, the
//! admin slug, path ids and query parameters; credentials are in `attacks_credentials.rs`). Malformed
//! ones must be refused before any SQL: they are sent to a router whose connection pools are
//! closed (any SQL would be a 503) after its tenant cache was warmed, and must still get their
//! 4xx. None may return another school's data or database error text.

mod before_sql;
pub use before_sql::{assert_refused_cleanly, seeded, seeded_on, send, starved_router};

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{on_both_backends, ADMIN_TOKEN};

/// Strings an attacker tries in every field that names a school or a record.
pub fn injections() -> Vec<String> {
    let mut list: Vec<String> = [
        "'",
        "' or '1'='1",
        "'; drop table wizreg.student; --",
        ";",
        "\\",
        "\\'; select pg_sleep(1); --",
        "hog\0warts",
        "not-a-uuid",
        "00000000-0000-0000-0000-00000000000g",
        "HOGWARTS",
        "hogwärts",
        "hоgwarts", // a Cyrillic 'о'
        "ü.localhost",
        "%",
        "castelobruxo,hogwarts",
        "castelobruxo hogwarts",
        "",
        " ",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    list.push("a".repeat(10_000));
    list
}

/// Percent-encodes everything but unreserved characters, for paths and query strings.
fn encoded(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn is_slug(raw: &str) -> bool {
    tenancy::Slug::parse(raw).is_ok()
}

const HOGWARTS: &[(&str, &[u8])] = &[("x-tenant", b"hogwarts")];
const CASTELOBRUXO: &[(&str, &[u8])] = &[("x-tenant", b"castelobruxo")];

#[tokio::test]
async fn malformed_school_names_in_x_tenant_and_host_get_a_4xx_before_any_sql() {
    let (app, config) = seeded(|_| {}).await;
    let (router, _hostage) = starved_router(&app, &config, HOGWARTS, CASTELOBRUXO).await;
    let mut refused = 0;
    for bad in injections()
        .iter()
        .filter(|b| !is_slug(b) && !b.trim().is_empty())
    {
        let (status, body) = send(
            &router,
            Method::GET,
            "/students",
            &[("x-tenant", bad.as_bytes())],
            None,
        )
        .await;
        assert_refused_cleanly(&app, &format!("X-Tenant {bad:.40?}"), status, &body);
        if bad.to_lowercase() != "hogwarts" {
            // Host names are case-insensitive: HOGWARTS.localhost is Hogwarts itself.
            let host = format!("{bad}.localhost");
            let (status, body) = send(
                &router,
                Method::GET,
                "/students",
                &[("host", host.as_bytes())],
                None,
            )
            .await;
            assert_refused_cleanly(&app, &format!("Host {bad:.40?}"), status, &body);
        }
        refused += 1;
    }
    assert!(refused >= 12, "{refused}");
}

on_both_backends! {
#[tokio::test]
async fn well_formed_but_unknown_school_names_are_a_404_with_no_other_schools_data(backend) {
    let (app, _) = seeded_on(backend, |_| {}).await;
    for name in injections().iter().filter(|b| is_slug(b)) {
        let reply = app.get("/students").tenant(name).send().await;
        if name.to_lowercase() == "hogwarts" {
            // Slugs are case-insensitive: this is Hogwarts naming itself.
            assert_eq!(reply.status, StatusCode::OK);
            continue;
        }
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::NOT_FOUND, "unknown_tenant"),
            "{name}"
        );
        let reply = app
            .get("/students")
            .host(&format!("{name}.localhost"))
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{name}");
    }
    // An empty X-Tenant names no school at all.
    let reply = app.get("/students").tenant("").send().await;
    assert!(reply.status.is_client_error());
}
}

#[tokio::test]
async fn injection_strings_in_path_ids_and_paging_parameters_get_a_4xx_before_any_sql() {
    let (app, config) = seeded(|_| {}).await;
    let (router, _hostage) = starved_router(&app, &config, HOGWARTS, CASTELOBRUXO).await;
    for bad in injections() {
        for resource in ["students", "houses"] {
            for method in [Method::GET, Method::PATCH, Method::DELETE] {
                let path = format!("/{resource}/{}", encoded(&bad));
                let body = (method == Method::PATCH).then(|| json!({"name": "x"}));
                let (status, text) = send(&router, method.clone(), &path, HOGWARTS, body).await;
                if !bad.is_empty() {
                    assert_refused_cleanly(
                        &app,
                        &format!("{method} path id {bad:.40?}"),
                        status,
                        &text,
                    );
                }
            }
        }
        for query in ["after", "limit"] {
            let path = format!("/students?{query}={}", encoded(&bad));
            let (status, body) = send(&router, Method::GET, &path, HOGWARTS, None).await;
            if !bad.is_empty() {
                assert_refused_cleanly(&app, &format!("?{query}={bad:.40?}"), status, &body);
            }
        }
    }
}

on_both_backends! {
#[tokio::test]
async fn injection_strings_in_the_name_filter_are_bound_values_that_match_only_the_callers_rows(backend) {
    let (app, _) = seeded_on(backend, |_| {}).await;
    app.post("/students", json!({"name": "Harry"}))
        .tenant("hogwarts")
        .send()
        .await;
    for bad in injections() {
        let path = format!("/students?name={}", encoded(&bad));
        let (status, body) = send(&app.router, Method::GET, &path, HOGWARTS, None).await;
        if status.is_success() {
            let rows: Value = serde_json::from_str(&body).expect("json");
            for row in rows.as_array().expect("array") {
                assert_eq!(
                    row["tenant_id"],
                    app.hogwarts.id.to_string(),
                    "name={bad:.40?}"
                );
            }
        } else {
            assert_refused_cleanly(&app, &format!("name={bad:.40?}"), status, &body);
        }
    }
}
}

#[tokio::test]
async fn injection_strings_as_admin_slugs_are_refused_before_any_sql_and_create_nothing() {
    let (app, config) = seeded(|_| {}).await;
    // The same app, but its platform (admin) database is unreachable: SQL there is a 503.
    let mut unreachable = config.clone();
    unreachable.admin_database_url = Some(tenancy::embedded::socket_url(
        std::path::Path::new("/nonexistent"),
        "postgres",
        "nowhere",
    ));
    let database = wizreg::database::Database::open(&unreachable).expect("settings");
    let state = wizreg::serve::app_state(&unreachable, &database)
        .await
        .expect("state");
    let router = wizreg::http::router(state);
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let admin: &[(&str, &[u8])] = &[("authorization", auth.as_bytes())];
    let valid = json!({"slug": "fine-slug", "name": "x"});
    let (status, _) = send(&router, Method::POST, "/admin/tenants", admin, Some(valid)).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a valid slug needs SQL"
    );
    for bad in injections().iter().filter(|b| !is_slug(b)) {
        let body = json!({"slug": bad, "name": "x"});
        let (status, text) = send(&router, Method::POST, "/admin/tenants", admin, Some(body)).await;
        assert_refused_cleanly(&app, &format!("slug {bad:.40?}"), status, &text);
    }
    let tenants: i64 = app
        .privileged()
        .await
        .query_one("select count(*) from wizreg.tenant", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(tenants, 2);
}
