//! Every tenant query the product sends routes to one shard on Citus.
//!
//! The proof does not trust a list: a query observer in the tenancy layer records each
//! statement as the tenant transactions send it (SQL and real parameters), the test drives the
//! real router through every route of the OpenAPI document (a new route that is not driven
//! fails the test), and then each recorded statement is `EXPLAIN`ed on the Citus coordinator
//! with its own parameters, inside its tenant's transaction, as the runtime role. Every
//! distributed step of every plan must be `Task Count: 1`; a query that fans out to all shards
//! fails the test, and a control query shows that the check would see one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, OnceLock};

use axum::http::{Method, StatusCode};
use serde_json::json;
use tenancy::{set_query_observer, SentQuery};
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use crate::export_import::NDJSON;
use crate::harness::{Backend, Call, TestApp};

/// Every statement seen in this process, by SQL text (the first sending kept).
fn seen() -> &'static Mutex<BTreeMap<&'static str, SentQuery>> {
    static SEEN: OnceLock<Mutex<BTreeMap<&'static str, SentQuery>>> = OnceLock::new();
    SEEN.get_or_init(|| {
        set_query_observer(|query| {
            seen()
                .lock()
                .expect("seen")
                .entry(query.sql)
                .or_insert(query);
        });
        Mutex::default()
    })
}

/// The plan of `query`, run as it was sent: with its own parameters, inside its tenant's
/// transaction, as the runtime role.
async fn plan(client: &Client, query: &SentQuery) -> Vec<String> {
    client.batch_execute("begin").await.expect("begin");
    if let Some(tenant) = query.tenant {
        client
            .execute("select wizreg.enter_tenant($1)", &[&tenant.as_uuid()])
            .await
            .expect("enter the tenant");
    }
    let types: Vec<_> = query.params.iter().map(|p| p.sql_type.clone()).collect();
    let explain = client
        .prepare_typed(&format!("explain {}", query.sql), &types)
        .await
        .unwrap_or_else(|e| panic!("explain {}: {e}", query.sql));
    let params: Vec<&(dyn ToSql + Sync)> = query
        .params
        .iter()
        .map(|p| p as &(dyn ToSql + Sync))
        .collect();
    let plan = client
        .query(&explain, &params)
        .await
        .unwrap_or_else(|e| panic!("explain {}: {e}", query.sql));
    client.batch_execute("rollback").await.expect("rollback");
    plan.iter().map(|row| row.get(0)).collect()
}

/// The task count of every distributed step of a plan.
fn task_counts(plan: &[String]) -> Vec<u32> {
    plan.iter()
        .filter_map(|line| {
            line.trim()
                .strip_prefix("Task Count: ")
                .map(|n| n.parse().expect("a count"))
        })
        .collect()
}

/// Drives every route once (twice where a replay or a second page matters), with an API key,
/// so the key lookup that precedes knowing the tenant is among the queries recorded.
async fn drive_every_route(app: &TestApp) -> BTreeSet<(String, String)> {
    let mut driven = BTreeSet::new();
    let mut hit = |method: &str, template: &str| {
        driven.insert((method.to_owned(), template.to_owned()));
    };
    for path in ["/healthz", "/readyz", "/openapi.json", "/metrics"] {
        app.get(path).admin().send_raw().await;
        hit("get", path);
    }
    let created = app
        .post(
            "/admin/tenants",
            json!({"slug": "durmstrang", "name": "Durmstrang"}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    hit("post", "/admin/tenants");
    let school = created.id();
    assert_eq!(
        app.get("/admin/tenants").admin().send().await.status,
        StatusCode::OK
    );
    hit("get", "/admin/tenants");
    let one = format!("/admin/tenants/{school}");
    assert_eq!(app.get(&one).admin().send().await.status, StatusCode::OK);
    hit("get", "/admin/tenants/{tenant}");
    for patch in [
        json!({"status": "suspended"}),
        json!({"status": "active", "name": "Durmstrang Institute"}),
        json!({"statement_timeout_ms": 4000}),
    ] {
        let reply = app.patch(&one, patch).admin().send().await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    }
    hit("patch", "/admin/tenants/{tenant}");

    let keys = format!("/admin/tenants/{school}/api-keys");
    let key = app.call(Method::POST, &keys).admin().send().await;
    assert_eq!(key.status, StatusCode::CREATED, "{key:?}");
    hit("post", "/admin/tenants/{tenant}/api-keys");
    assert_eq!(app.get(&keys).admin().send().await.status, StatusCode::OK);
    hit("get", "/admin/tenants/{tenant}/api-keys");
    let bearer = format!("Bearer {}", key.body["key"].as_str().expect("key"));
    fn with_key<'a>(call: Call<'a>, bearer: &str) -> Call<'a> {
        call.header("authorization", bearer)
    }
    let as_school = |call| with_key(call, &bearer);

    let house = as_school(app.post("/houses", json!({"name": "Ravenclaw"})))
        .send()
        .await;
    assert_eq!(house.status, StatusCode::CREATED, "{house:?}");
    hit("post", "/houses");
    let house_path = format!("/houses/{}", house.id());
    for (method, path) in [("get", "/houses"), ("get", "/houses/{id}")] {
        let concrete = path.replace("{id}", &house.id());
        assert_eq!(
            as_school(app.get(&concrete)).send().await.status,
            StatusCode::OK
        );
        hit(method, path);
    }
    let renamed = as_school(app.patch(&house_path, json!({"name": "Hufflepuff"})))
        .send()
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{renamed:?}");
    hit("patch", "/houses/{id}");

    let mut students = Vec::new();
    for (n, name) in ["Viktor Krum", "Igor Karkaroff", "Poliakoff"]
        .iter()
        .enumerate()
    {
        let body = json!({"name": name, "email": format!("s{n}@durmstrang.example"), "house_id": house.id()});
        let mut call = as_school(app.post("/students", body));
        if n == 0 {
            call = call.header("idempotency-key", "routing-proof");
        }
        let created = call.send().await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
        students.push(created.id());
    }
    let replay = as_school(app.post(
        "/students",
        json!({"name": "Viktor Krum", "email": "s0@durmstrang.example", "house_id": house.id()}),
    ))
    .header("idempotency-key", "routing-proof")
    .send()
    .await;
    assert_eq!(
        replay.header("idempotent-replayed"),
        Some("true"),
        "{replay:?}"
    );
    hit("post", "/students");
    for query in [
        "",
        "?limit=1",
        &format!("?limit=1&after={}", students[0]),
        "?name=krum",
    ] {
        let list = as_school(app.get(&format!("/students{query}")))
            .send()
            .await;
        assert_eq!(list.status, StatusCode::OK, "{list:?}");
    }
    hit("get", "/students");
    let student_path = format!("/students/{}", students[0]);
    assert_eq!(
        as_school(app.get(&student_path)).send().await.status,
        StatusCode::OK
    );
    hit("get", "/students/{id}");
    let patched = as_school(app.patch(&student_path, json!({"name": "Viktor K.", "email": null})))
        .send()
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{patched:?}");
    hit("patch", "/students/{id}");
    let gone = as_school(app.delete(&format!("/students/{}", students[1])))
        .send()
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    hit("delete", "/students/{id}");
    let gone = as_school(app.delete(&house_path)).send().await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{gone:?}");
    hit("delete", "/houses/{id}");

    let (status, _, ndjson) = app
        .get(&format!("/admin/tenants/{school}/export"))
        .admin()
        .send_raw()
        .await;
    assert_eq!(status, StatusCode::OK);
    hit("get", "/admin/tenants/{tenant}/export");
    let copy = app
        .post(
            "/admin/tenants",
            json!({"slug": "durmstrang-copy", "name": "Copy"}),
        )
        .admin()
        .send()
        .await
        .id();
    let imported = app
        .call(Method::POST, &format!("/admin/tenants/{copy}/import"))
        .admin()
        .raw_body(NDJSON, ndjson)
        .send()
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{imported:?}");
    hit("post", "/admin/tenants/{tenant}/import");

    let revoked = app
        .delete(&format!("{keys}/{}", key.id()))
        .admin()
        .send()
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{revoked:?}");
    hit("delete", "/admin/tenants/{tenant}/api-keys/{key_id}");
    let deleted = app.delete(&one).admin().send().await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{deleted:?}");
    hit("delete", "/admin/tenants/{tenant}");
    driven
}

/// Every (method, path) of the OpenAPI document, with `{…}` parameter names as documented.
async fn documented_routes(app: &TestApp) -> BTreeSet<(String, String)> {
    let doc = app.get("/openapi.json").send().await.body;
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().cloned().unwrap_or_default();
            item.iter()
                .filter(|(m, _)| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                // The shard operations split and move a school across nodes on purpose, on the
                // owner's session of their own, not in a tenant transaction: `shard_ops` covers them.
                .filter(|(_, operation)| operation["tags"][0] != "shards")
                .map(|(m, _)| m)
                .map(|m| (m.clone(), normalise(path)))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `/admin/tenants/{id}/api-keys/{key}` and the like, spelled as this test spells them.
fn normalise(path: &str) -> String {
    let path = path.trim_end_matches('/');
    path.split('/')
        .enumerate()
        .map(|(i, part)| match (part.starts_with('{'), i) {
            (true, 3) if path.starts_with("/admin/tenants") => "{tenant}".to_owned(),
            (true, _) if path.contains("api-keys") => "{key_id}".to_owned(),
            (true, _) => "{id}".to_owned(),
            (false, _) => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_the_product_sends_routes_to_one_shard_on_citus() {
    seen(); // installs the observer before anything runs
    let app = TestApp::with_config_on(Backend::Citus, |config| {
        config.auth = wizreg::config::AuthMode::ApiKey;
    })
    .await;

    let driven = drive_every_route(&app).await;
    let undriven: Vec<_> = documented_routes(&app)
        .await
        .difference(&driven)
        .cloned()
        .collect();
    assert!(
        undriven.is_empty(),
        "routes this proof does not drive yet: {undriven:?}"
    );

    let queries: Vec<SentQuery> = seen().lock().expect("seen").values().cloned().collect();
    let client = app.runtime_connection().await;
    let (mut routed, mut bulk, mut local) = (0, Vec::new(), Vec::new());
    for query in &queries {
        let plan = plan(&client, query).await;
        let counts = task_counts(&plan);
        assert!(
            counts.iter().all(|&n| n == 1),
            "fans out to {counts:?} tasks: {}\n{}",
            query.sql,
            plan.join("\n")
        );
        if !counts.is_empty() {
            routed += 1;
        } else if plan
            .iter()
            .any(|line| line.contains("INSERT/SELECT method: pull to coordinator"))
        {
            // A bulk insert of rows computed on the coordinator from parameters (no table
            // read): each row goes to the shard of its tenant_id, which is `$1` for all of
            // them (the policy's WITH CHECK refuses any other).
            assert!(
                query.sql.contains("select $1, * from unnest("),
                "{}",
                query.sql
            );
            bulk.push(query.sql);
        } else {
            assert!(
                !plan.iter().any(|line| line.contains("Citus")),
                "{}",
                plan.join("\n")
            );
            local.push(query.sql);
        }
    }
    println!(
        "routing proof: {} distinct statements EXPLAINed on Citus: {routed} single-shard, {} bulk inserts of one tenant's rows {bulk:?}, {} touching no distributed table {local:?}",
        queries.len(),
        bulk.len(),
        local.len()
    );
    assert!(
        queries
            .iter()
            .any(|q| q.sql.contains("select hash from wizreg.api_key")),
        "the API key lookup was among them"
    );
    assert!(routed >= 20, "only {routed} routed statements were seen");

    // The check sees a query that fans out: the policy alone does not route.
    let fan_out = SentQuery {
        tenant: Some(app.hogwarts.id),
        sql: "select count(*) from wizreg.student",
        params: Vec::new(),
    };
    let counts = task_counts(&plan(&client, &fan_out).await);
    assert!(counts.iter().any(|&n| n > 1), "{counts:?}");
}
