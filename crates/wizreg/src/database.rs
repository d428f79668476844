//! Where the database is: an embedded cluster in the data directory, or the server named by
//! `DATABASE_URL` / `WIZREG_ADMIN_DATABASE_URL`. Hands out connection settings per role, and
//! builds the runtime role's tenant transactions from them in one place (`stack`); the
//! session settings every runtime connection starts with are in `session`. With
//! `WIZREG_CITUS_WORKERS` the embedded cluster is a Citus coordinator plus workers, and every
//! role connects to the coordinator.

use std::str::FromStr;

use tenancy::embedded::{self, EmbeddedCitus, EmbeddedOptions, EmbeddedPostgres, OperatorHints};
use tokio_postgres::{Client, Config as PgConfig, NoTls};

use crate::config::Config;
use crate::error::StartupError;
use crate::migrate;

mod session;
mod stack;

pub use stack::{convention, statement_mode, DEFINER_ALLOW_LIST, TENANT_SETTING};

const DB_NAME: &str = "wizreg";
pub const RUNTIME_ROLE: &str = "wizreg_app";
pub const PLATFORM_ROLE: &str = "wizreg_platform";

/// How the embedded launcher's errors name Wizreg's settings.
const EMBEDDED_HINTS: OperatorHints = OperatorHints {
    pg_bin: "WIZREG_PG_BIN",
    data_dir: "WIZREG_DATA_DIR",
    data_dir_example: "/var/lib/wizreg",
    use_existing_server: "set DATABASE_URL",
};

/// The roles a process may connect as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// The runtime role: tenant requests, subject to RLS.
    App,
    /// Migrations (owner) and, with an external database, platform administration.
    Admin,
    /// Tenant lifecycle.
    Platform,
}

impl Role {
    /// The login this role uses on the embedded cluster.
    fn embedded_user(self) -> &'static str {
        match self {
            Role::App => RUNTIME_ROLE,
            Role::Admin => embedded::SUPERUSER,
            Role::Platform => PLATFORM_ROLE,
        }
    }
}

/// The cluster an embedded deployment runs: one PostgreSQL, or a Citus coordinator with its
/// workers.
#[derive(Debug)]
pub enum EmbeddedCluster {
    Single(EmbeddedPostgres),
    Citus(EmbeddedCitus),
}

impl EmbeddedCluster {
    /// The server clients connect to (the coordinator on Citus).
    pub fn entry(&self) -> &EmbeddedPostgres {
        match self {
            Self::Single(cluster) => cluster,
            Self::Citus(cluster) => cluster.coordinator(),
        }
    }
}

/// The database a command works against.
#[derive(Debug)]
pub struct Database {
    embedded: Option<EmbeddedCluster>,
    external: Option<(PgConfig, PgConfig)>,
}

impl Database {
    /// Starts (or attaches to) the embedded cluster, or checks the external URLs.
    pub fn open(config: &Config) -> Result<Self, StartupError> {
        match (&config.database_url, &config.admin_database_url) {
            (Some(_), Some(_)) if config.citus_workers.is_some() => Err(StartupError::Config(
                "WIZREG_CITUS_WORKERS is for the embedded cluster; with DATABASE_URL, point it at a Citus coordinator whose workers are added (migrate detects Citus)".into(),
            )),
            (Some(runtime), Some(admin)) => {
                let parse = |name: &str, url: &str| {
                    PgConfig::from_str(url).map_err(|_| StartupError::Config(format!("{name} is not a valid PostgreSQL URL")))
                };
                let external = (parse("DATABASE_URL", runtime)?, parse("WIZREG_ADMIN_DATABASE_URL", admin)?);
                Ok(Self { embedded: None, external: Some(external) })
            }
            (None, None) => {
                let options = EmbeddedOptions {
                    data_dir: config.data_dir.clone(),
                    pg_bin: config.pg_bin.clone(),
                    ephemeral: false,
                    hints: EMBEDDED_HINTS,
                };
                let cluster = match config.citus_workers {
                    None => EmbeddedCluster::Single(EmbeddedPostgres::start(&options)?),
                    Some(workers) => EmbeddedCluster::Citus(EmbeddedCitus::start(&options, workers)?),
                };
                Ok(Self { embedded: Some(cluster), external: None })
            }
            _ => Err(StartupError::Config(
                "set both DATABASE_URL and WIZREG_ADMIN_DATABASE_URL, or neither (embedded PostgreSQL)".into(),
            )),
        }
    }

    /// Wraps an already running embedded cluster (tests share one per process).
    pub fn from_embedded_cluster(cluster: &EmbeddedPostgres, dbname: &str) -> Self {
        let runtime = cluster.config(RUNTIME_ROLE, dbname);
        let admin = cluster.config(embedded::SUPERUSER, dbname);
        Self {
            embedded: None,
            external: Some((runtime, admin)),
        }
    }

    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }

    /// The embedded cluster this process started or attached to, if any.
    pub fn embedded(&self) -> Option<&EmbeddedCluster> {
        self.embedded.as_ref()
    }

    /// Connection settings for `role`.
    pub fn config(&self, role: Role) -> PgConfig {
        match (&self.embedded, &self.external) {
            (Some(cluster), _) => cluster.entry().config(role.embedded_user(), DB_NAME),
            (None, Some((runtime, admin))) => match role {
                Role::App => runtime.clone(),
                Role::Admin => admin.clone(),
                Role::Platform => {
                    // External deployments administer tenants through the admin URL, acting as
                    // the platform role for the whole session.
                    let mut platform = admin.clone();
                    platform.options(format!("-c role={PLATFORM_ROLE}"));
                    platform
                }
            },
            (None, None) => unreachable!("a Database is always embedded or external"),
        }
    }

    /// Connects once as `role` (for commands and migrations; requests use pools).
    pub async fn connect(&self, role: Role) -> Result<Client, StartupError> {
        let (client, connection) = self
            .config(role)
            .connect(NoTls)
            .await
            .map_err(|e| StartupError::database("connect", e))?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// Creates the embedded database if needed, then applies migrations.
    pub async fn migrate(&self) -> Result<usize, StartupError> {
        match &self.embedded {
            Some(EmbeddedCluster::Single(cluster)) => create_database_if_missing(cluster).await?,
            Some(EmbeddedCluster::Citus(cluster)) => cluster.prepare_database(DB_NAME).await?,
            None => {}
        }
        let runtime_user = self.runtime_role();
        let mut admin = self.connect(Role::Admin).await?;
        migrate::run(&mut admin, &runtime_user).await
    }

    /// A URL for `psql`, for `wizreg db-url`.
    pub fn url(config: &Config, role: Role) -> Result<String, StartupError> {
        if let (Some(runtime), Some(admin)) = (&config.database_url, &config.admin_database_url) {
            return Ok(match role {
                Role::App => runtime.clone(),
                Role::Admin => admin.clone(),
                // The same switch `config(Role::Platform)` makes, so the URL is not a full
                // admin session in disguise.
                Role::Platform => {
                    let separator = if admin.contains('?') { '&' } else { '?' };
                    format!("{admin}{separator}options=-c%20role%3D{PLATFORM_ROLE}")
                }
            });
        }
        let dir = std::path::absolute(&config.data_dir)
            .map_err(|e| StartupError::Config(e.to_string()))?;
        Ok(embedded::socket_url(
            &dir.join("run"),
            role.embedded_user(),
            DB_NAME,
        ))
    }
}

async fn create_database_if_missing(cluster: &EmbeddedPostgres) -> Result<(), StartupError> {
    let (client, connection) = cluster
        .config(embedded::SUPERUSER, "postgres")
        .connect(NoTls)
        .await
        .map_err(|e| StartupError::database("connect to the embedded cluster", e))?;
    tokio::spawn(connection);
    let exists = client
        .query_opt("select 1 from pg_database where datname = $1", &[&DB_NAME])
        .await
        .map_err(|e| StartupError::database("look for the database", e))?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!("create database {DB_NAME}"))
            .await
            .map_err(|e| StartupError::database("create the database", e))?;
    }
    Ok(())
}
