//! The embedded PostgreSQL launcher: starts, keeps data across restarts, and leaves no
//! server process behind when stopped.

use tenancy::embedded::{EmbeddedPostgres, SUPERUSER};
use tokio_postgres::NoTls;

use crate::harness::{own_cluster_options, processes_using, scratch_dir, superuser_on};

async fn query_one_i64(cluster: &EmbeddedPostgres, sql: &str) -> i64 {
    let client = superuser_on(cluster, "postgres").await;
    client.query_one(sql, &[]).await.expect("query").get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_embedded_server_starts_keeps_its_data_and_stops_without_orphans() {
    let dir = scratch_dir("wizreg-launcher-");
    let options = own_cluster_options(dir.path());

    let mut first =
        tokio::task::block_in_place(|| EmbeddedPostgres::start(&options)).expect("first start");
    assert!(first.owns_server());
    let (client, connection) = first
        .config(SUPERUSER, "postgres")
        .connect(NoTls)
        .await
        .expect("connect");
    let conn_task = tokio::spawn(connection);
    client
        .batch_execute("create table kept (x int); insert into kept values (42)")
        .await
        .expect("write");
    drop(client);
    let _ = conn_task.await;
    // The socket is private: no TCP listener was configured.
    assert_eq!(
        query_one_i64(
            &first,
            "select count(*) from pg_settings where name = 'listen_addresses' and setting = ''"
        )
        .await,
        1
    );

    let attached =
        tokio::task::block_in_place(|| EmbeddedPostgres::start(&options)).expect("attach");
    assert!(
        !attached.owns_server(),
        "a second start attaches to the running server"
    );
    drop(attached);
    assert_eq!(
        query_one_i64(&first, "select 1::int8").await,
        1,
        "dropping an attached handle leaves the server up"
    );

    tokio::task::block_in_place(|| first.stop());
    assert_eq!(processes_using(dir.path()), 0, "no server process is left");

    let second =
        tokio::task::block_in_place(|| EmbeddedPostgres::start(&options)).expect("restart");
    assert!(second.owns_server());
    assert_eq!(
        query_one_i64(&second, "select x::int8 from kept").await,
        42,
        "data survives a restart"
    );
    tokio::task::block_in_place(|| drop(second));
    assert_eq!(processes_using(dir.path()), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_directory_created_private_is_opened_to_the_server_account_not_refused() {
    use std::os::unix::fs::DirBuilderExt;
    let dir = scratch_dir("wizreg-private-");
    let options = own_cluster_options(dir.path());
    // As `mkdir -m 700`, or any directory made under umask 077.
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&options.data_dir)
        .expect("data dir");

    let cluster = tokio::task::block_in_place(|| EmbeddedPostgres::start(&options))
        .expect("a private data dir is made passable for the server account");

    assert_eq!(query_one_i64(&cluster, "select 1::int8").await, 1);
    tokio::task::block_in_place(|| drop(cluster));
    assert_eq!(processes_using(dir.path()), 0);
}

#[test]
fn missing_binaries_give_one_clear_error_naming_the_package_and_the_alternative() {
    let dir = scratch_dir("wizreg-nobin-");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wizreg"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("WIZREG_PG_BIN", "/nonexistent/bin")
        .env("WIZREG_DATA_DIR", dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("WIZREG_ADMIN_DATABASE_URL")
        .output()
        .expect("run wizreg");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("wizreg:"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("postgresql-15") && lines[0].contains("DATABASE_URL"),
        "{stderr}"
    );
}
