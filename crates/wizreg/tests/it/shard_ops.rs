//! Operating schools across Citus nodes: where a school's shard group lives, isolating a
//! school to a shard group of its own, and moving it to another worker, through the admin API
//! and the CLI. A school isolated or moved still serves its own rows only, reads keep working
//! during a move, and the audit still finds every shard right afterwards. On one PostgreSQL
//! the same routes answer `409 conflict`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::audit::audit;
use crate::harness::{body_bytes, tenant_request, Backend, TestApp};

/// Adds `count` students to `school` through the API and returns their ids.
async fn students(app: &TestApp, school: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..count {
        let created = app
            .post(
                "/students",
                json!({"name": format!("{school} student {n}")}),
            )
            .tenant(school)
            .send()
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
        ids.push(created.id());
    }
    ids.sort();
    ids
}

/// The ids `school` lists, after checking every row is the school's own.
async fn listed(app: &TestApp, school: &str, tenant_id: &str) -> Vec<String> {
    let reply = app.get("/students?limit=1000").tenant(school).send().await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let rows = reply.body.as_array().expect("an array").clone();
    assert!(rows.iter().all(|r| r["tenant_id"] == tenant_id), "{rows:?}");
    let mut ids: Vec<String> = rows
        .iter()
        .map(|r| r["id"].as_str().expect("an id").to_owned())
        .collect();
    ids.sort();
    ids
}

fn nodes(placement: &Value) -> Vec<String> {
    placement["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n.as_str().expect("host:port").to_owned())
        .collect()
}

/// Every worker registered in the test database, as `host:port`.
async fn workers(app: &TestApp) -> Vec<String> {
    let rows = app
        .privileged()
        .await
        .query(
            "select nodename || ':' || nodeport from pg_dist_node
             where noderole = 'primary' and shouldhaveshards order by 1",
            &[],
        )
        .await
        .expect("workers");
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test]
async fn placement_names_the_worker_and_shard_holding_a_school_and_every_colocated_table() {
    let app = TestApp::on(Backend::Citus).await;
    let placement = app
        .get("/admin/tenants/hogwarts/placement")
        .admin()
        .send()
        .await;
    assert_eq!(placement.status, StatusCode::OK, "{placement:?}");
    let body = &placement.body;
    assert_eq!(body["tenant_id"], app.hogwarts.id.to_string());
    let expected: i64 = app
        .privileged()
        .await
        .query_one(
            "select get_shard_id_for_distribution_column('wizreg.student', $1::uuid)",
            &[&app.hogwarts.id.as_uuid()],
        )
        .await
        .expect("shard id")
        .get(0);
    assert_eq!(body["shard_id"], expected);
    let holding = nodes(body);
    assert_eq!(holding.len(), 1);
    assert!(workers(&app).await.contains(&holding[0]), "{holding:?}");
    let shards = body["shards"].as_array().expect("shards");
    let tables: Vec<&str> = shards
        .iter()
        .map(|s| s["table"].as_str().expect("a table"))
        .collect();
    for table in [
        "wizreg.house",
        "wizreg.student",
        "wizreg.api_key",
        "wizreg.idempotency_key",
    ] {
        assert!(tables.contains(&table), "{tables:?}");
    }
    assert!(
        shards.iter().all(|s| nodes(s) == holding),
        "co-located: {shards:?}"
    );
}

#[tokio::test]
async fn on_one_postgresql_placement_isolate_and_move_answer_409_not_500() {
    let app = TestApp::new().await;
    for reply in [
        app.get("/admin/tenants/hogwarts/placement")
            .admin()
            .send()
            .await,
        app.call(Method::POST, "/admin/tenants/hogwarts/isolate")
            .admin()
            .send()
            .await,
        app.post(
            "/admin/tenants/hogwarts/move",
            json!({"node": "localhost:5432"}),
        )
        .admin()
        .send()
        .await,
    ] {
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::CONFLICT, "conflict"),
            "{reply:?}"
        );
    }
}

#[tokio::test]
async fn an_isolated_school_has_a_shard_of_its_own_and_still_serves_its_own_rows_only() {
    let app = TestApp::on(Backend::Citus).await;
    let hogwarts = students(&app, "hogwarts", 5).await;
    let castelobruxo = students(&app, "castelobruxo", 3).await;

    let isolated = app
        .call(Method::POST, "/admin/tenants/hogwarts/isolate")
        .admin()
        .send()
        .await;
    assert_eq!(isolated.status, StatusCode::OK, "{isolated:?}");
    assert_eq!(isolated.body["changed"], true);
    let placement = &isolated.body["placement"];
    assert_eq!(placement["isolated"], true);
    assert_eq!(placement["schools_in_shard"], 1);

    let (h, c) = (app.hogwarts.id.to_string(), app.castelobruxo.id.to_string());
    assert_eq!(listed(&app, "hogwarts", &h).await, hogwarts);
    assert_eq!(listed(&app, "castelobruxo", &c).await, castelobruxo);
    // The new shards got the policies and FORCE too.
    let report = audit(&app).await;
    assert!(report.is_clean(), "{:?}", report.findings);

    let again = app
        .call(Method::POST, "/admin/tenants/hogwarts/isolate")
        .admin()
        .send()
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        again.body["changed"], false,
        "already isolated: nothing to do"
    );
}

#[tokio::test]
async fn a_moved_school_serves_its_own_rows_from_the_other_worker_and_reads_keep_working_during_the_move(
) {
    let app = TestApp::on(Backend::Citus).await;
    let hogwarts = students(&app, "hogwarts", 20).await;
    let castelobruxo = students(&app, "castelobruxo", 3).await;
    let (h, c) = (app.hogwarts.id.to_string(), app.castelobruxo.id.to_string());
    let before = app
        .get("/admin/tenants/hogwarts/placement")
        .admin()
        .send()
        .await;
    let from = nodes(&before.body)[0].clone();
    let to = workers(&app)
        .await
        .into_iter()
        .find(|w| *w != from)
        .expect("a second worker");

    // Reads of the school, one after another, for as long as the move runs.
    let moving = Arc::new(AtomicBool::new(true));
    let reader = {
        let (router, moving, h) = (app.router.clone(), moving.clone(), h.clone());
        tokio::spawn(async move {
            let mut answers = Vec::new();
            while moving.load(Ordering::Relaxed) {
                let request = tenant_request(Method::GET, "/students?limit=1000", "hogwarts", None);
                let response = router.clone().oneshot(request).await.expect("infallible");
                let status = response.status();
                let body: Value =
                    serde_json::from_slice(&body_bytes(response).await).unwrap_or(Value::Null);
                let own = body.as_array().is_some_and(|rows| {
                    rows.len() == 20 && rows.iter().all(|r| r["tenant_id"] == h.as_str())
                });
                answers.push((status, own));
            }
            answers
        })
    };
    let moved = app
        .post("/admin/tenants/hogwarts/move", json!({"node": to}))
        .admin()
        .send()
        .await;
    moving.store(false, Ordering::Relaxed);
    let answers = reader.await.expect("reader");
    assert_eq!(moved.status, StatusCode::OK, "{moved:?}");
    assert_eq!(moved.body["changed"], true);
    assert_eq!(nodes(&moved.body["placement"]), vec![to.clone()]);

    assert!(!answers.is_empty(), "reads ran during the move");
    assert!(
        answers
            .iter()
            .all(|(status, own)| *status == StatusCode::OK && *own),
        "every read during the move answered 200 with the school's own 20 rows: {answers:?}"
    );
    assert_eq!(listed(&app, "hogwarts", &h).await, hogwarts);
    assert_eq!(listed(&app, "castelobruxo", &c).await, castelobruxo);
    // Writes work on the new worker.
    students(&app, "hogwarts", 1).await;
    assert!(audit(&app).await.is_clean());

    let again = app
        .post("/admin/tenants/hogwarts/move", json!({"node": to}))
        .admin()
        .send()
        .await;
    assert_eq!(
        (again.status, &again.body["changed"]),
        (StatusCode::OK, &json!(false))
    );
}

#[tokio::test]
async fn a_move_to_a_node_that_is_not_a_worker_or_not_host_port_is_422_naming_the_field() {
    let app = TestApp::on(Backend::Citus).await;
    for node in [
        json!("no-such-host:5432"),
        json!("not an address"),
        json!(5432),
        json!(null),
    ] {
        let reply = app
            .post("/admin/tenants/hogwarts/move", json!({"node": node}))
            .admin()
            .send()
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{node}: {reply:?}"
        );
        assert!(
            reply.body["error"]["fields"]["node"].is_string(),
            "{reply:?}"
        );
    }
    let unknown = app
        .get("/admin/tenants/durmstrang/placement")
        .admin()
        .send()
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_cli_shows_isolates_and_moves_a_school() {
    let app = TestApp::on(Backend::Citus).await;
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_wizreg"))
            .args(args)
            .envs(app.database_env())
            .output()
            .expect("run wizreg");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{args:?}: {stdout}{stderr}");
        stdout
    };
    let shown = run(&["tenant", "placement", "hogwarts"]);
    let first: Vec<&str> = shown.lines().next().expect("a line").split('\t').collect();
    assert_eq!(first[0], "hogwarts");
    assert_eq!(first[1], app.hogwarts.id.to_string());
    assert!(shown.contains("wizreg.house\tshard "), "{shown}");

    let isolated = run(&["tenant", "isolate", "hogwarts"]);
    assert!(
        isolated
            .lines()
            .next()
            .expect("a line")
            .ends_with("a shard of its own"),
        "{isolated}"
    );

    let from = first[3].to_owned();
    let to = workers(&app)
        .await
        .into_iter()
        .find(|w| *w != from)
        .expect("another worker");
    let moved = run(&["tenant", "move", "hogwarts", "--node", &to]);
    let now: Vec<&str> = moved.lines().next().expect("a line").split('\t').collect();
    assert_eq!(now[3], to, "{moved}");
}

#[tokio::test]
async fn isolate_and_move_refuse_an_administrator_that_is_only_a_member_of_the_owner() {
    // Citus copies shard rows as the connected user; with FORCE ROW LEVEL SECURITY a
    // non-superuser copies none of them, and the move would "succeed" with the rows gone.
    let app = TestApp::on(Backend::Citus).await;
    let hogwarts = students(&app, "hogwarts", 3).await;
    let role = format!("shards_{}", app.dbname);
    app.privileged()
        .await
        .batch_execute(&format!("create role {role} login in role wizreg_owner"))
        .await
        .expect("create the role");
    let (owner, connection) = tokio_postgres::Config::new()
        .host_path(app.backend.socket())
        .port(5432)
        .user(&role)
        .dbname(&app.dbname)
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect as the owner's member");
    tokio::spawn(connection);
    let from = app
        .get("/admin/tenants/hogwarts/placement")
        .admin()
        .send()
        .await;
    let from = nodes(&from.body)[0].clone();
    let to = workers(&app)
        .await
        .into_iter()
        .find(|w| *w != from)
        .expect("another worker");
    let to: wizreg::shards::NodeAddr = to.parse().expect("host:port");
    let isolated = wizreg::shards::isolate(&owner, app.hogwarts.id).await;
    assert!(
        matches!(isolated, Err(wizreg::shards::ShardError::NeedsSuperuser)),
        "{isolated:?}"
    );
    let moved = wizreg::shards::move_to(&owner, app.hogwarts.id, &to).await;
    assert!(
        matches!(moved, Err(wizreg::shards::ShardError::NeedsSuperuser)),
        "{moved:?}"
    );
    // Reading where the school is needs no such right.
    assert!(wizreg::shards::placement(&owner, app.hogwarts.id)
        .await
        .is_ok());
    assert_eq!(
        listed(&app, "hogwarts", &app.hogwarts.id.to_string()).await,
        hogwarts
    );
}
