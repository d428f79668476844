//! The embedded PostgreSQL launcher: starts, keeps data across restarts, and leaves no
//! server process behind when stopped.

use std::path::Path;

use tenancy::embedded::{EmbeddedOptions, EmbeddedPostgres, SUPERUSER};
use tokio_postgres::NoTls;

/// Processes whose command line mentions `dir`.
fn processes_using(dir: &Path) -> usize {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                .unwrap_or(false)
        })
        .count()
}

async fn query_one_i64(cluster: &EmbeddedPostgres, sql: &str) -> i64 {
    let (client, connection) = cluster
        .config(SUPERUSER, "postgres")
        .connect(NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client.query_one(sql, &[]).await.expect("query").get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_embedded_server_starts_keeps_its_data_and_stops_without_orphans() {
    let dir = tempfile::Builder::new()
        .prefix("wizreg-launcher-")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let options = EmbeddedOptions {
        data_dir: dir.path().join("data"),
        pg_bin: None,
        ephemeral: true,
    };

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

#[test]
fn missing_binaries_give_one_clear_error_naming_the_package_and_the_alternative() {
    let options = EmbeddedOptions {
        data_dir: std::env::temp_dir().join("wizreg-never-created"),
        pg_bin: Some("/nonexistent/bin".into()),
        ephemeral: true,
    };
    // The explicit directory is wrong but discovery may still find real binaries; check the
    // error text itself, which is what a user without any binaries sees.
    let message = tenancy::embedded::EmbeddedError::BinariesNotFound {
        looked: "/nonexistent/bin".into(),
    }
    .to_string();
    assert!(
        message.contains("postgresql-15") && message.contains("DATABASE_URL"),
        "{message}"
    );
    let _ = options;
}
