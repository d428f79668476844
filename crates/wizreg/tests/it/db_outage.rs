//! A PostgreSQL restart under load: requests fail fast with 503 while it is down, readiness
//! says so, the server reconnects by itself, and no request is ever served without its school.
//! The test owns its cluster (not the shared one), since it stops it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tenancy::embedded::{EmbeddedPostgres, SUPERUSER};
use tower::ServiceExt;
use wizreg::database::{Database, Role};

use crate::harness::{
    body_bytes, own_cluster_options, scratch_dir, superuser_on, tenant_request, test_config,
};

/// How long a request may take before the test calls it hung.
const HUNG: Duration = Duration::from_secs(30);

struct Outcome {
    at: Instant,
    status: StatusCode,
    took: Duration,
}

async fn call(router: &Router, request: Request<Body>) -> (StatusCode, Value, Duration) {
    let started = Instant::now();
    let response = tokio::time::timeout(HUNG, router.clone().oneshot(request))
        .await
        .expect("a request hung while the database was down")
        .expect("infallible");
    let status = response.status();
    let bytes = body_bytes(response).await;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body, started.elapsed())
}

/// Writes and reads for one school in a loop, checking every row it sees is its own.
async fn load(
    router: Router,
    slug: &'static str,
    tenant_id: String,
    stop: Arc<AtomicBool>,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
) -> usize {
    let mut foreign_rows = 0;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let create = tenant_request(
            Method::POST,
            "/students",
            slug,
            Some(json!({"name": format!("{slug} {n}")})),
        );
        let (status, body, took) = call(&router, create).await;
        if status == StatusCode::CREATED && body["tenant_id"] != tenant_id.as_str() {
            foreign_rows += 1;
        }
        outcomes.lock().expect("outcomes").push(Outcome {
            at: Instant::now(),
            status,
            took,
        });
        let list = tenant_request(Method::GET, "/students?limit=20", slug, None);
        let (status, body, took) = call(&router, list).await;
        if status == StatusCode::OK {
            let rows = body.as_array().expect("a list");
            foreign_rows += rows
                .iter()
                .filter(|r| r["tenant_id"] != tenant_id.as_str())
                .count();
        }
        outcomes.lock().expect("outcomes").push(Outcome {
            at: Instant::now(),
            status,
            took,
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    foreign_rows
}

async fn readiness(router: &Router) -> StatusCode {
    let ready = Request::get("/readyz")
        .body(Body::empty())
        .expect("request");
    call(router, ready).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_load_gives_fast_503s_and_recovers_without_mixing_schools() {
    let dir = scratch_dir("wizreg-outage-");
    let options = own_cluster_options(dir.path());
    let mut cluster =
        tokio::task::block_in_place(|| EmbeddedPostgres::start(&options)).expect("start");
    let admin = superuser_on(&cluster, "postgres").await;
    admin
        .batch_execute("create database wizreg")
        .await
        .expect("create database");
    drop(admin);
    let config = test_config(Some((
        cluster.url("wizreg_app", "wizreg"),
        cluster.url(SUPERUSER, "wizreg"),
    )));
    let database = Database::open(&config).expect("settings");
    database.migrate().await.expect("migrate");
    let platform = database.connect(Role::Platform).await.expect("platform");
    let mut schools = Vec::new();
    for slug in ["hogwarts", "castelobruxo"] {
        let parsed = tenancy::Slug::parse(slug).expect("slug");
        let record = wizreg::tenants::create(&platform, &parsed, slug)
            .await
            .expect("tenant");
        schools.push((slug, record.id.to_string()));
    }
    drop(platform);
    let router = wizreg::http::router(
        wizreg::serve::app_state(&config, &database)
            .await
            .expect("state"),
    );

    let stop = Arc::new(AtomicBool::new(false));
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = schools
        .iter()
        .cycle()
        .take(4)
        .map(|(slug, id)| {
            tokio::spawn(load(
                router.clone(),
                slug,
                id.clone(),
                stop.clone(),
                outcomes.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(readiness(&router).await, StatusCode::OK);

    let went_down = Instant::now();
    tokio::task::block_in_place(|| cluster.stop());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ready_while_down = readiness(&router).await;
    cluster = tokio::task::block_in_place(|| EmbeddedPostgres::start(&options)).expect("restart");
    let back = Instant::now();
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, Ordering::Relaxed);
    let mut foreign_rows = 0;
    for worker in workers {
        foreign_rows += worker.await.expect("worker");
    }
    let ready_after = readiness(&router).await;

    let outcomes = std::mem::take(&mut *outcomes.lock().expect("outcomes"));
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.status.is_success()).collect();
    let unavailable = failed
        .iter()
        .filter(|o| o.status == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    let slowest_failure = failed.iter().map(|o| o.took).max().unwrap_or_default();
    let recovery = failed
        .iter()
        .map(|o| o.at.saturating_duration_since(back))
        .max()
        .unwrap_or_default();
    let first_success_after_back = outcomes
        .iter()
        .filter(|o| o.at > back && o.status.is_success())
        .map(|o| o.at - back)
        .min()
        .unwrap_or_default();
    let after_back = outcomes.iter().filter(|o| o.at > back + recovery);
    let successes_after = after_back.filter(|o| o.status.is_success()).count();
    println!(
        "database restart under load: down {:?}, {} requests, {unavailable} answered 503 (slowest {slowest_failure:?}), first success {first_success_after_back:?} and last error {recovery:?} after the database was back, then {successes_after} successes",
        back - went_down,
        outcomes.len(),
    );

    assert_eq!(foreign_rows, 0, "a request saw another school's rows");
    let other_failures: Vec<StatusCode> = failed
        .iter()
        .map(|o| o.status)
        .filter(|s| *s != StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(
        other_failures.is_empty(),
        "only 503s while down, got {other_failures:?}"
    );
    assert!(unavailable > 0, "requests during the outage got 503");
    assert_eq!(ready_while_down, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready_after, StatusCode::OK);
    assert!(successes_after > 0, "the server reconnected by itself");
    assert!(
        recovery <= Duration::from_secs(5),
        "errors went on {recovery:?} after the database was back"
    );
    tokio::task::block_in_place(|| cluster.stop());
}
