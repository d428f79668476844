//! `WIZREG_CITUS_WORKERS=2`: the real binary runs a coordinator and two workers under its data
//! directory, distributes the schema, serves the demo schools, lets a second `wizreg` attach,
//! keeps its data across restarts, and leaves no server process behind after `kill -9` or a
//! graceful stop. Each node knows itself by its socket directory (`citus.local_hostname`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use tokio_postgres::NoTls;

use crate::harness::{processes_using, superuser, Backend, TestApp};
use crate::lifecycle::{temp_dir, Server};

const CITUS: [(&str, &str); 1] = [("WIZREG_CITUS_WORKERS", "2")];

fn wizreg(data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_wizreg"))
        .args(args)
        .env("WIZREG_DATA_DIR", data_dir)
        .envs(CITUS)
        .env_remove("DATABASE_URL")
        .env_remove("WIZREG_ADMIN_DATABASE_URL")
        .output()
        .expect("run wizreg");
    assert!(
        output.status.success(),
        "wizreg {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

async fn wait_for_no_process(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while processes_using(dir) > 0 {
        assert!(
            Instant::now() < deadline,
            "server processes outlived wizreg"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_citus_cluster_serves_persists_and_leaves_no_process_behind() {
    let (dir, data_dir) = temp_dir("wizreg-citus-embedded-");
    let server = Server::start_with(&data_dir, &CITUS).await;
    for n in 1..=2 {
        assert!(
            data_dir
                .join(format!("workers/{n}/pgdata/PG_VERSION"))
                .exists(),
            "worker {n} has its own cluster under the data directory"
        );
    }
    let created = server
        .request("POST", "/students", Some(r#"{"name": "Harry Potter"}"#))
        .await;
    assert_eq!(created.map(|r| r.0), Some(201));

    // `db-url` names the coordinator, which knows both workers and has the schema distributed.
    let url = wizreg(&data_dir, &["db-url", "--role", "admin"]);
    let (admin, connection) = tokio_postgres::connect(url.trim(), NoTls)
        .await
        .expect("connect to the coordinator");
    tokio::spawn(connection);
    let count = |sql: &'static str| {
        let admin = &admin;
        async move { admin.query_one(sql, &[]).await.expect(sql).get::<_, i64>(0) }
    };
    assert_eq!(
        count("select count(*) from pg_dist_node where groupid > 0").await,
        2
    );
    assert_eq!(
        count("select count(*) from pg_dist_partition where logicalrelid = 'wizreg.tenant'::regclass and partmethod = 'n'").await,
        1
    );
    assert_eq!(
        count("select count(*) from pg_dist_partition where partmethod = 'h'").await,
        4
    );
    // A second process attaches to the running cluster instead of starting another.
    let schools = wizreg(&data_dir, &["tenant", "list"]);
    assert!(
        schools.contains("hogwarts") && schools.contains("castelobruxo"),
        "{schools}"
    );
    drop(admin);

    kill(server.pid(), Signal::SIGKILL).expect("SIGKILL");
    assert!(!server.wait_exit().await, "killed, not exited");
    wait_for_no_process(dir.path()).await;

    let restarted = Server::start_with(&data_dir, &CITUS).await;
    let (status, list) = restarted
        .request("GET", "/students", None)
        .await
        .expect("list");
    assert_eq!(status, 200);
    assert_eq!(list[0]["name"], "Harry Potter", "data survives a restart");
    kill(restarted.pid(), Signal::SIGTERM).expect("SIGTERM");
    assert!(restarted.wait_exit().await);
    assert_eq!(processes_using(dir.path()), 0, "no PostgreSQL left behind");
}

/// Each node's `citus.local_hostname` is the socket directory it is registered by: Citus
/// reaches its own node by that name, and a split or move first connects to its own node
/// (to clean up leftovers of earlier transfers) before anything else. The session below sets
/// nothing of its own, so the split works on the launcher's settings alone.
#[tokio::test]
async fn every_node_names_itself_by_its_socket_directory_so_a_split_reaches_its_own_node() {
    let app = TestApp::on(Backend::Citus).await;
    let coordinator = app.privileged().await;
    let nodes: Vec<String> = coordinator
        .query("select nodename from pg_dist_node order by groupid", &[])
        .await
        .expect("nodes")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(nodes.len(), 3, "the coordinator and two workers: {nodes:?}");
    for node in &nodes {
        // Connects to the node by the name it is registered under.
        let client = superuser(Path::new(node), &app.dbname).await;
        let own: String = client
            .query_one("show citus.local_hostname", &[])
            .await
            .expect("show")
            .get(0);
        assert_eq!(&own, node);
    }

    let split = "select isolate_tenant_to_new_shard('wizreg.student', $1::uuid, 'CASCADE',
                   shard_transfer_mode => 'block_writes')";
    let hogwarts = app.hogwarts.id.as_uuid();
    // Citus's default name, where no node listens: the split cannot even start.
    coordinator
        .batch_execute("set citus.local_hostname = 'localhost'")
        .await
        .expect("set");
    let refused = coordinator.execute(split, &[&hogwarts]).await;
    assert!(refused.is_err(), "{refused:?}");
    coordinator
        .batch_execute("reset citus.local_hostname")
        .await
        .expect("reset");
    let done = coordinator.execute(split, &[&hogwarts]).await;
    assert!(done.is_ok(), "{done:?}");
    let listed = app.get("/students").tenant("hogwarts").send().await;
    assert_eq!(listed.status, axum::http::StatusCode::OK);
}
