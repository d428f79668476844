//! A private PostgreSQL cluster for development and tests: finds the server binaries, creates
//! or reuses a data directory, runs the server on a Unix socket with no TCP port, and stops it.
//! [`EmbeddedCitus`] runs several of them as one Citus cluster (`citus.rs`).
//!
//! `initdb` and `postgres` refuse to run as root, so as root the server runs as the `postgres`
//! OS user. The server gets its own process group (a terminal's Ctrl-C reaches only us, so we
//! can drain requests before stopping it) and, on Linux, a parent-death signal (if we are
//! killed, it shuts down fast instead of living on as an orphan; elsewhere a later start
//! attaches to the orphan instead).

mod citus;
mod discover;
mod hints;
mod process;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

pub use citus::EmbeddedCitus;
pub use discover::find_binaries;
use discover::{private_dir, reachable_by_others, server_account};
pub use hints::OperatorHints;
use process::init_cluster;

/// The bootstrap superuser `initdb` creates.
pub const SUPERUSER: &str = "postgres";
const PORT: u16 = 5432;

/// Where and how to run the cluster.
#[derive(Clone, Debug, Default)]
pub struct EmbeddedOptions {
    /// Holds `pgdata/` (the cluster), `run/` (the socket) and the server's log.
    pub data_dir: PathBuf,
    /// The server binaries' directory; found automatically when `None`.
    pub pg_bin: Option<PathBuf>,
    /// Turns off fsync and friends: only for throwaway test clusters.
    pub ephemeral: bool,
    /// How error messages name the operator's settings.
    pub hints: OperatorHints,
}

/// Why the cluster could not start. Each message says what the operator can do about it, in
/// the words of [`EmbeddedOptions::hints`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbeddedError {
    /// No directory with both `postgres` and `initdb` was found.
    #[error("PostgreSQL server binaries not found (looked in {looked}). Install them (Debian: apt-get install postgresql-15), point {} at their directory, or {} to use an existing server", .hints.pg_bin, .hints.use_existing_server)]
    BinariesNotFound {
        /// Where the launcher looked.
        looked: String,
        /// How to say what to set instead.
        hints: OperatorHints,
    },
    /// Running as root, but there is no `postgres` OS account to run the server as.
    #[error("running as root needs a 'postgres' OS user to run PostgreSQL as (apt-get install postgresql-15 creates it), or {}", .hints.use_existing_server)]
    NoPostgresUser {
        /// How to say what to set instead.
        hints: OperatorHints,
    },
    /// A directory above the data directory does not let the `postgres` OS account through.
    #[error("the 'postgres' OS user cannot reach {}: set {} to a directory it can reach, such as {}", .dir.display(), .hints.data_dir, .hints.data_dir_example)]
    Unreachable {
        /// The data directory.
        dir: PathBuf,
        /// How to say what to set instead.
        hints: OperatorHints,
    },
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`create`, `chmod`, `run`…).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// `initdb` exited with an error; the path is its log.
    #[error("initdb failed; its output is in {0}")]
    InitDb(PathBuf),
    /// The server exited or did not accept connections within a minute; the path is its log.
    #[error("PostgreSQL did not become ready; its log is {0}")]
    NotReady(PathBuf),
    /// [`EmbeddedCitus`] was asked for, but the server cannot load Citus; the path is the
    /// server binaries' directory.
    #[error("Citus is not installed for the PostgreSQL in {0} (no citus.so in its library directory): install Citus 13 for PostgreSQL 15 from the Citus project's packages (https://docs.citusdata.com), or run ../shared/citus/install.sh from a checkout of this project")]
    CitusNotInstalled(PathBuf),
    /// Creating a database, the extension or the node registrations failed.
    #[error("setting up Citus in database {dbname}: {source}")]
    Citus {
        /// The database being prepared or copied.
        dbname: String,
        /// The server's error.
        source: tokio_postgres::Error,
    },
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> EmbeddedError + 'a {
    move |source| EmbeddedError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// A running (or attached-to) cluster. Dropping it stops a server it started.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    server: Option<Child>,
    socket_dir: PathBuf,
    data_dir: PathBuf,
}

impl EmbeddedPostgres {
    /// Starts the cluster in `options.data_dir`, creating it on first use. If a server is
    /// already running there (another process of the same program), attaches to it instead.
    ///
    /// Call it from a thread that lives as long as the cluster should: the server's
    /// parent-death signal fires when the spawning thread ends.
    pub fn start(options: &EmbeddedOptions) -> Result<Self, EmbeddedError> {
        Self::start_with(options, &[])
    }

    /// Like [`EmbeddedPostgres::start`], with extra server settings (`name=value`, passed as
    /// `-c` options on every start, so they are not written into the cluster's files).
    pub fn start_with(
        options: &EmbeddedOptions,
        settings: &[String],
    ) -> Result<Self, EmbeddedError> {
        let bin = discover::find_binaries_with(options.pg_bin.as_deref(), options.hints)?;
        let account = server_account(options.hints)?;
        let data_dir = resolve_data_dir(&options.data_dir)?;
        // The directories above the data dir must let the server account through; the data dir
        // itself is made passable just below (it may have been created 0700, under umask 077).
        if account.is_some() && !reachable_by_others(&data_dir) {
            return Err(EmbeddedError::Unreachable {
                dir: data_dir,
                hints: options.hints,
            });
        }
        if account.is_some() {
            // The server account must pass through the data dir itself to reach pgdata/.
            fs::set_permissions(&data_dir, fs::Permissions::from_mode(0o711))
                .map_err(io_err("chmod", &data_dir))?;
        }
        let pgdata = data_dir.join("pgdata");
        let socket_dir = data_dir.join(SOCKET_SUBDIR);
        private_dir(&pgdata, account)?;
        private_dir(&socket_dir, account)?;
        let this = Self {
            server: None,
            socket_dir,
            data_dir: data_dir.clone(),
        };

        if this.wait_for_running_server() {
            tracing::info!(dir = %pgdata.display(), "attaching to the running embedded PostgreSQL");
            return Ok(this);
        }
        if !pgdata.join("PG_VERSION").exists() {
            init_cluster(&bin, &data_dir, account)?;
        }
        this.spawn_server(&bin, account, options.ephemeral, settings)
    }

    /// The directory holding the server's socket (a libpq `host`).
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The port in the socket's file name (`.s.PGSQL.<port>`); there is no TCP listener.
    pub fn port(&self) -> u16 {
        PORT
    }

    /// Whether this handle started the server (and so will stop it).
    pub fn owns_server(&self) -> bool {
        self.server.is_some()
    }

    /// Connection settings for `user` on `dbname`.
    pub fn config(&self, user: &str, dbname: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.socket_dir)
            .port(PORT)
            .user(user)
            .dbname(dbname);
        config
    }

    /// A libpq URL for `user` on `dbname`, usable with `psql`.
    pub fn url(&self, user: &str, dbname: &str) -> String {
        socket_url(&self.socket_dir, user, dbname)
    }

    /// Stops a server this handle started: fast shutdown, then harder signals if it hangs.
    pub fn stop(&mut self) {
        let Some(mut child) = self.server.take() else {
            return;
        };
        let pid = Pid::from_raw(child.id() as i32);
        for (signal, grace) in [
            (Signal::SIGINT, 30),
            (Signal::SIGQUIT, 5),
            (Signal::SIGKILL, 5),
        ] {
            let _ = kill(pid, signal);
            let deadline = Instant::now() + Duration::from_secs(grace);
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The socket directory's place under the data directory.
const SOCKET_SUBDIR: &str = "run";

/// The data directory, created if missing and made absolute and canonical: the server's
/// socket directory is named after it, and other nodes reach the server by that name.
fn resolve_data_dir(data_dir: &Path) -> Result<PathBuf, EmbeddedError> {
    fs::create_dir_all(data_dir).map_err(io_err("create", data_dir))?;
    fs::canonicalize(data_dir).map_err(io_err("resolve", data_dir))
}

/// The socket directory the server of the cluster in `data_dir` listens in (created, with
/// the data directory, if missing), as [`EmbeddedPostgres::socket_dir`] will name it.
fn socket_dir_of(data_dir: &Path) -> Result<PathBuf, EmbeddedError> {
    Ok(resolve_data_dir(data_dir)?.join(SOCKET_SUBDIR))
}

/// A libpq URL for a server listening in `socket_dir`.
pub fn socket_url(socket_dir: &Path, user: &str, dbname: &str) -> String {
    format!(
        "postgresql://{user}@/{dbname}?host={}&port={PORT}",
        socket_dir.display()
    )
}
