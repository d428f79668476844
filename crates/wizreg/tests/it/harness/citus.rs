//! The process-wide Citus test cluster: a coordinator and two workers, started on first use (by
//! a Citus test only: the plain tests never pay for it), with a migrated and distributed
//! template database. Each Citus test gets its own copy of it, made on every node at once
//! ([`EmbeddedCitus::copy_database`]), so Citus tests are as independent as the plain ones.
//!
//! Without Citus installed, the first Citus test fails with one line saying how to install it.

use std::path::PathBuf;
use std::sync::{mpsc, OnceLock};

use tenancy::embedded::{EmbeddedCitus, EmbeddedOptions};

use super::cluster::{database_on, sweep_data_dirs};

/// The migrated, distributed database every Citus test database is copied from.
pub const CITUS_TEMPLATE: &str = "wizreg_citus_template";
/// Workers in the test cluster: two, so schools land on different nodes.
pub const TEST_WORKERS: usize = 2;

/// Settings for test clusters: every test database gets a Citus maintenance process on each
/// node, which the default of 8 background workers would soon run out of; and test databases
/// are never dropped, so each keeps its coordinator's maintenance connections to every worker
/// for the whole run, on top of the running tests' own sessions.
pub fn test_node_settings() -> Vec<String> {
    vec![
        "max_worker_processes=256".into(),
        "max_connections=400".into(),
    ]
}

/// The process-wide Citus cluster, started (and the template made) on first use.
pub fn citus_cluster() -> &'static EmbeddedCitus {
    static CLUSTER: OnceLock<EmbeddedCitus> = OnceLock::new();
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    let started = STARTED.get_or_init(|| {
        let (sender, receiver) = mpsc::channel();
        // As for the plain cluster: the servers' parent-death signal is tied to this thread,
        // which stays parked until the process exits.
        std::thread::spawn(move || {
            let options = EmbeddedOptions {
                data_dir: data_dir(),
                pg_bin: None,
                ephemeral: true,
                ..Default::default()
            };
            let cluster =
                match EmbeddedCitus::start_with(&options, TEST_WORKERS, &test_node_settings()) {
                    Ok(cluster) => cluster,
                    Err(err) => {
                        let _ = sender.send(Err(err.to_string()));
                        return;
                    }
                };
            let cluster = CLUSTER.get_or_init(|| cluster);
            let prepared = prepare_template(cluster);
            let _ = sender.send(prepared);
            loop {
                std::thread::park();
            }
        });
        receiver
            .recv()
            .unwrap_or_else(|_| Err("the Citus test cluster thread died".into()))
    });
    if let Err(message) = started {
        panic!("Citus test cluster: {message}");
    }
    CLUSTER.get().expect("started above")
}

/// The coordinator's socket directory.
pub fn citus_socket() -> &'static PathBuf {
    static SOCKET: OnceLock<PathBuf> = OnceLock::new();
    SOCKET.get_or_init(|| citus_cluster().coordinator().socket_dir().to_owned())
}

/// Makes `dbname` on the test cluster what an operator's Citus cluster is before Wizreg first
/// runs there: the database and the extension on every node, the coordinator and the workers
/// registered, nothing migrated. Returns the coordinator's socket directory.
pub async fn unmigrated_citus_database(dbname: &str) -> &'static PathBuf {
    citus_cluster()
        .prepare_database(dbname)
        .await
        .expect("prepare a distributed database");
    citus_socket()
}

fn data_dir() -> PathBuf {
    sweep_data_dirs("wizreg-citus-test-");
    PathBuf::from(format!("/tmp/wizreg-citus-test-{}", std::process::id()))
}

fn prepare_template(cluster: &EmbeddedCitus) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        cluster
            .prepare_database(CITUS_TEMPLATE)
            .await
            .map_err(|e| e.to_string())?;
        database_on(cluster.coordinator().socket_dir(), CITUS_TEMPLATE)
            .migrate()
            .await
            .map_err(|e| format!("migrate the template: {e}"))?;
        Ok(())
    })
}
