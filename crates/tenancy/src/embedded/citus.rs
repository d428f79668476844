//! An embedded Citus cluster: a coordinator in the data directory and N workers in
//! `<data dir>/workers/<n>/`, each an ordinary [`EmbeddedPostgres`] on its own private Unix
//! socket with Citus preloaded. They start, attach and stop together, keep their data across
//! restarts, and share the parent-death signal and process-group design of a single cluster.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tenancy::embedded::EmbeddedError> {
//! use tenancy::embedded::{EmbeddedCitus, EmbeddedOptions};
//! let options = EmbeddedOptions { data_dir: "/tmp/demo".into(), ..Default::default() };
//! // From a thread that lives as long as the cluster (see EmbeddedPostgres::start).
//! let cluster = EmbeddedCitus::start(&options, 2)?;
//! cluster.prepare_database("app").await?; // the database, the extension and the nodes
//! let coordinator = cluster.coordinator().config("postgres", "app"); // connect here
//! # Ok(()) }
//! ```
//!
//! Nodes find each other by socket directory: Citus takes a path as a node's host name, so no
//! node listens on TCP, and each node's `citus.local_hostname` (how Citus reaches the node it
//! runs on) is its own socket directory. Citus keeps its metadata per database, so [`EmbeddedCitus::prepare_database`]
//! creates the database and the extension on every node and registers the coordinator and the
//! workers in it; [`EmbeddedCitus::copy_database`] clones a prepared database on every node
//! at once (the copies point at each other, as the originals did), which is how tests get a
//! fresh distributed database in a fraction of a second.

use std::path::{Path, PathBuf};
use std::process::Command;

use tokio_postgres::{Client, NoTls};

use super::{
    find_binaries, socket_dir_of, EmbeddedError, EmbeddedOptions, EmbeddedPostgres, PORT, SUPERUSER,
};

/// Server settings every node gets: Citus itself, and logical WAL so shards can be moved
/// between workers while they stay readable.
const NODE_SETTINGS: &[&str] = &["shared_preload_libraries=citus", "wal_level=logical"];

/// A coordinator and its workers. Dropping it stops the servers it started.
#[derive(Debug)]
pub struct EmbeddedCitus {
    // Declared first so it is dropped (stopped) first: no request reaches a stopping worker.
    coordinator: EmbeddedPostgres,
    workers: Vec<EmbeddedPostgres>,
    options: EmbeddedOptions,
    settings: Vec<String>,
}

impl EmbeddedCitus {
    /// Starts (or attaches to) the coordinator in `options.data_dir` and `workers` workers
    /// (at least one) under its `workers/` directory.
    ///
    /// Call it from a thread that lives as long as the cluster should, as for
    /// [`EmbeddedPostgres::start`].
    pub fn start(options: &EmbeddedOptions, workers: usize) -> Result<Self, EmbeddedError> {
        Self::start_with(options, workers, &[])
    }

    /// Like [`EmbeddedCitus::start`], with extra server settings for every node.
    pub fn start_with(
        options: &EmbeddedOptions,
        workers: usize,
        settings: &[String],
    ) -> Result<Self, EmbeddedError> {
        let bin = find_binaries(options.pg_bin.as_deref())?;
        if !citus_installed(&bin) {
            return Err(EmbeddedError::CitusNotInstalled(bin));
        }
        let options = EmbeddedOptions {
            pg_bin: Some(bin),
            ..options.clone()
        };
        let settings: Vec<String> = NODE_SETTINGS
            .iter()
            .map(|s| s.to_string())
            .chain(settings.iter().cloned())
            .collect();
        let coordinator = start_node(&options, &settings)?;
        let mut this = Self {
            coordinator,
            workers: Vec::new(),
            options,
            settings,
        };
        for n in 1..=workers.max(1) {
            let worker = start_node(&this.worker_options(n), &this.settings)?;
            this.workers.push(worker);
        }
        Ok(this)
    }

    fn worker_options(&self, n: usize) -> EmbeddedOptions {
        EmbeddedOptions {
            data_dir: worker_dir(&self.options.data_dir, n),
            ..self.options.clone()
        }
    }

    /// The node clients connect to.
    pub fn coordinator(&self) -> &EmbeddedPostgres {
        &self.coordinator
    }

    /// The workers, in the order of their directories (`workers/1`, `workers/2`, …).
    pub fn workers(&self) -> &[EmbeddedPostgres] {
        &self.workers
    }

    /// Stops worker `index` (0-based), as if its machine went away (for failure tests).
    pub fn stop_worker(&mut self, index: usize) {
        self.workers[index].stop();
    }

    /// Starts worker `index` again after [`EmbeddedCitus::stop_worker`]. Its parent-death
    /// signal is tied to the calling thread.
    pub fn restart_worker(&mut self, index: usize) -> Result<(), EmbeddedError> {
        let options = self.worker_options(index + 1);
        self.workers[index] = start_node(&options, &self.settings)?;
        Ok(())
    }

    /// Makes `dbname` a distributed database: creates it and the `citus` extension on every
    /// node where missing, and registers the coordinator and every worker in its metadata.
    /// Idempotent; a worker added since the last run (more workers configured) is registered.
    pub async fn prepare_database(&self, dbname: &str) -> Result<(), EmbeddedError> {
        let fail = |source| EmbeddedError::Citus {
            dbname: dbname.to_owned(),
            source,
        };
        for node in self.nodes() {
            let postgres = connect(node, "postgres").await.map_err(fail)?;
            let exists = postgres
                .query_opt("select 1 from pg_database where datname = $1", &[&dbname])
                .await
                .map_err(fail)?
                .is_some();
            if !exists {
                let create = format!("create database {}", quote_ident(dbname));
                postgres.batch_execute(&create).await.map_err(fail)?;
            }
            let db = connect(node, dbname).await.map_err(fail)?;
            db.batch_execute("create extension if not exists citus")
                .await
                .map_err(fail)?;
        }
        let coordinator = connect(&self.coordinator, dbname).await.map_err(fail)?;
        let registered = |groupid: Option<i32>, host: String| {
            let coordinator = &coordinator;
            async move {
                coordinator
                    .query_opt(
                        "select 1 from pg_dist_node where nodename = $1 and nodeport = $2
                           or groupid = $3",
                        &[&host, &i32::from(PORT), &groupid.unwrap_or(-1)],
                    )
                    .await
                    .map(|row| row.is_some())
            }
        };
        let host = socket_host(&self.coordinator);
        if !registered(Some(0), host.clone()).await.map_err(fail)? {
            coordinator
                .execute(
                    "select citus_set_coordinator_host($1, $2)",
                    &[&host, &i32::from(PORT)],
                )
                .await
                .map_err(fail)?;
        }
        for worker in &self.workers {
            let host = socket_host(worker);
            if !registered(None, host.clone()).await.map_err(fail)? {
                coordinator
                    .execute("select citus_add_node($1, $2)", &[&host, &i32::from(PORT)])
                    .await
                    .map_err(fail)?;
            }
        }
        Ok(())
    }

    /// Creates `dbname` on every node as a copy of `template` (a database made by
    /// [`EmbeddedCitus::prepare_database`] and then filled). The template stops accepting
    /// connections for good, since a database being copied must have none, and Citus keeps
    /// sessions open in every database it serves.
    pub async fn copy_database(&self, template: &str, dbname: &str) -> Result<(), EmbeddedError> {
        let fail = |source| EmbeddedError::Citus {
            dbname: dbname.to_owned(),
            source,
        };
        for node in self.nodes() {
            let postgres = connect(node, "postgres").await.map_err(fail)?;
            postgres
                .execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity
                     where datname = $1 and pid <> pg_backend_pid()",
                    &[&template],
                )
                .await
                .map_err(fail)?;
            let template = quote_ident(template);
            // Terminated sessions take a moment to go; CREATE DATABASE waits up to 5 s itself.
            postgres
                .batch_execute(&format!(
                    "alter database {template} allow_connections false"
                ))
                .await
                .map_err(fail)?;
            let create = format!(
                "create database {} template {template}",
                quote_ident(dbname)
            );
            // A terminated session can outlive CREATE DATABASE's own 5 s wait on a busy
            // machine: try again for a while before giving up.
            let mut attempts = 0;
            loop {
                match postgres.batch_execute(&create).await {
                    Err(err)
                        if attempts < 10
                            && err.code()
                                == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE) =>
                    {
                        attempts += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                    done => break done.map_err(fail)?,
                }
            }
        }
        Ok(())
    }

    /// The coordinator, then the workers.
    pub fn nodes(&self) -> impl Iterator<Item = &EmbeddedPostgres> {
        std::iter::once(&self.coordinator).chain(&self.workers)
    }

    /// Stops every server this handle started: the coordinator first, then the workers.
    pub fn stop(&mut self) {
        self.coordinator.stop();
        for worker in &mut self.workers {
            worker.stop();
        }
    }
}

/// Starts (or attaches to) one node with `settings`, plus `citus.local_hostname` naming its
/// own socket directory: Citus connects to the node it runs on by that name (default
/// `localhost`, over TCP, where no node listens), for instance to clean up after a shard
/// split or move, or to run a background task.
fn start_node(
    options: &EmbeddedOptions,
    settings: &[String],
) -> Result<EmbeddedPostgres, EmbeddedError> {
    let own_host = socket_dir_of(&options.data_dir)?;
    let mut settings = settings.to_vec();
    settings.push(format!("citus.local_hostname={}", own_host.display()));
    EmbeddedPostgres::start_with(options, &settings)
}

/// Where worker `n` (1-based) of the cluster in `data_dir` lives.
pub fn worker_dir(data_dir: &Path, n: usize) -> PathBuf {
    data_dir.join("workers").join(n.to_string())
}

/// A node's address as Citus stores it: the socket directory (libpq takes a path as a host).
fn socket_host(node: &EmbeddedPostgres) -> String {
    node.socket_dir().display().to_string()
}

async fn connect(node: &EmbeddedPostgres, dbname: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = node.config(SUPERUSER, dbname).connect(NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whether the server in `bin` can load Citus: `citus.so` in its package library directory.
fn citus_installed(bin: &Path) -> bool {
    let pg_config = bin.join("pg_config");
    let libdir = Command::new(if pg_config.is_file() {
        pg_config.as_os_str()
    } else {
        "pg_config".as_ref()
    })
    .arg("--pkglibdir")
    .output()
    .ok()
    .filter(|out| out.status.success())
    .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    let beside = bin.parent().map(|dir| dir.join("lib"));
    [libdir, beside]
        .into_iter()
        .flatten()
        .any(|dir| dir.join("citus.so").is_file())
}
