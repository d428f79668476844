//! The process-wide test cluster: started once (or reused from `WIZREG_TEST_PG_SOCKET`), with
//! a migrated template database every test database is copied from.

use std::path::PathBuf;
use std::sync::{mpsc, OnceLock};

use tenancy::embedded::{self, EmbeddedOptions, EmbeddedPostgres};
use tokio_postgres::{Client, NoTls};
use wizreg::config::Config;
use wizreg::database::Database;

use super::TEMPLATE;

/// The socket directory of the process-wide test cluster, started on first use.
pub fn cluster_socket() -> &'static PathBuf {
    static SOCKET: OnceLock<PathBuf> = OnceLock::new();
    SOCKET.get_or_init(|| {
        let (sender, receiver) = mpsc::channel();
        // Tests run inside their own async runtimes, so setup happens on a plain thread. When it
        // starts the server, that thread then lives (parked) until the process exits: the
        // server's parent-death signal is tied to it, so the server shuts down with us.
        std::thread::spawn(move || {
            if let Ok(dir) = std::env::var("WIZREG_TEST_PG_SOCKET") {
                let socket = PathBuf::from(dir);
                prepare_template(&socket);
                sender.send(socket).expect("harness waits");
                return;
            }
            let options = EmbeddedOptions {
                data_dir: fresh_data_dir(),
                pg_bin: None,
                ephemeral: true,
                ..Default::default()
            };
            let cluster = EmbeddedPostgres::start(&options).expect("start the test PostgreSQL");
            prepare_template(cluster.socket_dir());
            sender
                .send(cluster.socket_dir().to_owned())
                .expect("harness waits");
            loop {
                std::thread::park();
            }
        });
        receiver.recv().expect("test cluster started")
    })
}

/// A per-process directory under /tmp (reachable by the `postgres` OS user), after removing
/// those left by earlier runs whose process is gone.
fn fresh_data_dir() -> PathBuf {
    sweep_data_dirs("wizreg-test-");
    PathBuf::from(format!("/tmp/wizreg-test-{}", std::process::id()))
}

/// Removes `/tmp/<prefix><pid>` directories of test processes that are gone.
pub(super) fn sweep_data_dirs(prefix: &str) {
    if let Ok(entries) = std::fs::read_dir("/tmp") {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name
                .strip_prefix(prefix)
                .and_then(|p| p.parse::<u32>().ok())
            {
                if !PathBuf::from(format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    }
}

fn prepare_template(socket: &std::path::Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let postgres = superuser(socket, "postgres").await;
        postgres
            .batch_execute(&format!("drop database if exists {TEMPLATE}"))
            .await
            .expect("drop template");
        postgres
            .batch_execute(&format!("create database {TEMPLATE}"))
            .await
            .expect("create template");
        let cluster_db = database_on(socket, TEMPLATE);
        cluster_db.migrate().await.expect("migrate the template");
    });
}

pub(super) fn database_on(socket: &std::path::Path, dbname: &str) -> Database {
    let url_runtime = embedded::socket_url(socket, "wizreg_app", dbname);
    let url_admin = embedded::socket_url(socket, embedded::SUPERUSER, dbname);
    let config = test_config(Some((url_runtime, url_admin)));
    Database::open(&config).expect("external database settings")
}

pub fn test_config(urls: Option<(String, String)>) -> Config {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        config: Config,
    }
    let mut config = Wrapper::parse_from(["test"]).config;
    if let Some((runtime, admin)) = urls {
        config.database_url = Some(runtime);
        config.admin_database_url = Some(admin);
    }
    config
}

pub async fn superuser(socket: &std::path::Path, dbname: &str) -> Client {
    let (client, connection) = tokio_postgres::Config::new()
        .host_path(socket)
        .port(5432)
        .user(embedded::SUPERUSER)
        .dbname(dbname)
        .connect(NoTls)
        .await
        .expect("connect as superuser");
    tokio::spawn(connection);
    client
}
