//! Citus clusters of the test's own: a worker that goes away fails only its own schools, fast
//! (503 + Retry-After), and they recover by themselves when it returns; and a populated
//! single-node deployment becomes a distributed one by restarting it with workers.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use axum::Router;
use tenancy::embedded::{socket_url, EmbeddedCitus, SUPERUSER};
use tower::ServiceExt;
use wizreg::database::{Database, Role};

use crate::harness::{
    processes_using, scratch_dir, tenant_request, test_config, test_node_settings,
};
use crate::lifecycle::{temp_dir, Server};

const DB: &str = "wizreg_failures";

/// The worker (0-based) holding `tenant`'s shard of the student table.
async fn worker_of(database: &Database, cluster: &EmbeddedCitus, tenant: uuid::Uuid) -> usize {
    let admin = database.connect(Role::Admin).await.expect("admin");
    let node: String = admin
        .query_one(
            "select p.nodename from pg_dist_shard_placement p
             where p.shardid = get_shard_id_for_distribution_column('wizreg.student', $1::uuid)",
            &[&tenant],
        )
        .await
        .expect("placement")
        .get(0);
    cluster
        .workers()
        .iter()
        .position(|w| w.socket_dir().display().to_string() == node)
        .expect("a worker holds it")
}

async fn list_status(router: &Router, slug: &str) -> (StatusCode, Option<String>) {
    let request = tenant_request(Method::GET, "/students", slug, None);
    let response = router.clone().oneshot(request).await.expect("infallible");
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (response.status(), retry_after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_down_fails_its_schools_fast_serves_the_others_and_they_recover_by_themselves() {
    let dir = scratch_dir("wizreg-citus-down-");
    let options = crate::harness::own_cluster_options(dir.path());
    let mut cluster = tokio::task::block_in_place(|| {
        EmbeddedCitus::start_with(&options, 2, &test_node_settings())
    })
    .expect("start a Citus cluster");
    cluster.prepare_database(DB).await.expect("prepare");
    let socket = cluster.coordinator().socket_dir().to_owned();
    let config = test_config(Some((
        socket_url(&socket, "wizreg_app", DB),
        socket_url(&socket, SUPERUSER, DB),
    )));
    let database = Database::open(&config).expect("settings");
    database.migrate().await.expect("migrate");
    let platform = database.connect(Role::Platform).await.expect("platform");
    // Schools until both workers hold one.
    let mut by_worker: [Option<String>; 2] = [None, None];
    for n in 0.. {
        let slug = tenancy::Slug::parse(&format!("school-{n}")).expect("slug");
        let school = wizreg::tenants::create(&platform, &slug, "School")
            .await
            .expect("create");
        let worker = worker_of(&database, &cluster, school.id.as_uuid()).await;
        by_worker[worker].get_or_insert(slug.as_str().to_owned());
        if by_worker.iter().all(Option::is_some) {
            break;
        }
    }
    let [on_first, on_second] = by_worker.map(|s| s.expect("found"));
    let state = wizreg::serve::app_state(&config, &database)
        .await
        .expect("state");
    let router = wizreg::http::router(state);
    assert_eq!(list_status(&router, &on_first).await.0, StatusCode::OK);
    assert_eq!(list_status(&router, &on_second).await.0, StatusCode::OK);

    tokio::task::block_in_place(|| cluster.stop_worker(0));
    let started = Instant::now();
    let (status, retry_after) = list_status(&router, &on_first).await;
    let answered_in = started.elapsed();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after.is_some(), "503 carries Retry-After");
    assert!(
        answered_in < Duration::from_secs(5),
        "fails fast: {answered_in:?}"
    );
    assert_eq!(
        list_status(&router, &on_second).await.0,
        StatusCode::OK,
        "the other worker's schools are served"
    );

    tokio::task::block_in_place(|| cluster.restart_worker(0)).expect("restart the worker");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if list_status(&router, &on_first).await.0 == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "the school did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("worker down: its school answered 503 in {answered_in:?}; recovered after restart");
    drop(platform);
    tokio::task::block_in_place(|| drop(cluster));
    assert_eq!(processes_using(dir.path()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_populated_single_node_deployment_restarted_with_workers_is_distributed_with_its_data() {
    let (dir, data_dir) = temp_dir("wizreg-to-citus-");
    let single = Server::start_with(&data_dir, &[]).await;
    let mut names = Vec::new();
    for n in 0..20 {
        let name = format!("Pupil {n}");
        let body = format!(r#"{{"name": "{name}"}}"#);
        let created = single.request("POST", "/students", Some(&body)).await;
        assert_eq!(created.map(|r| r.0), Some(201));
        names.push(name);
    }
    nix::sys::signal::kill(single.pid(), nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    assert!(single.wait_exit().await);

    let citus = Server::start_with(&data_dir, &[("WIZREG_CITUS_WORKERS", "2")]).await;
    let (status, list) = citus
        .request("GET", "/students?limit=1000", None)
        .await
        .expect("list");
    assert_eq!(status, 200);
    let listed: Vec<String> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(listed, names, "every student is still there, in order");
    let created = citus
        .request("POST", "/students", Some(r#"{"name": "After"}"#))
        .await;
    assert_eq!(created.map(|r| r.0), Some(201));

    // The rows live on the workers' shards, not in the coordinator's own table.
    let admin_url = socket_url(&data_dir.join("run"), SUPERUSER, "wizreg");
    let (admin, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .expect("coordinator");
    tokio::spawn(connection);
    let on_shards: i64 = admin
        .query_one("select count(*) from wizreg.student", &[])
        .await
        .expect("count")
        .get(0);
    // The coordinator's own table (the shell every query goes through) holds nothing.
    let left_local: i64 = admin
        .query_one("select pg_relation_size('wizreg.student')", &[])
        .await
        .expect("local size")
        .get(0);
    assert_eq!(on_shards, 21);
    assert_eq!(
        left_local, 0,
        "no copy of the data is left behind on the coordinator"
    );
    drop(admin);
    nix::sys::signal::kill(citus.pid(), nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    assert!(citus.wait_exit().await);
    assert_eq!(processes_using(dir.path()), 0);
}
