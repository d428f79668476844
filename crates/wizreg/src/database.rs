//! Where the database is: an embedded cluster in the data directory, or the server named by
//! `DATABASE_URL` / `WIZREG_ADMIN_DATABASE_URL`. Hands out connection settings and the TLS
//! connector per role (each URL's libpq TLS parameters, read by `tenancy::tls`), and builds
//! the runtime role's tenant transactions from them in one place (`stack`); the session
//! settings every runtime connection starts with are in `session`. With
//! `WIZREG_CITUS_WORKERS` the embedded cluster is a Citus coordinator plus workers, and every
//! role connects to the coordinator.

use tenancy::embedded::{self, EmbeddedCitus, EmbeddedOptions, EmbeddedPostgres, OperatorHints};
use tenancy::tls::{PgTls, SslMode, TlsParams};
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config as PgConfig};

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
    external: Option<(Endpoint, Endpoint)>,
    /// The connector for sockets that never use TLS (the embedded cluster).
    plain: PgTls,
}

/// One URL: what `tokio-postgres` is told, and the connector its TLS parameters ask for.
type Endpoint = (PgConfig, PgTls);

impl Database {
    /// Starts (or attaches to) the embedded cluster, or checks the external URLs.
    pub fn open(config: &Config) -> Result<Self, StartupError> {
        match (&config.database_url, &config.admin_database_url) {
            (Some(_), Some(_)) if config.citus_workers.is_some() => Err(StartupError::Config(
                "WIZREG_CITUS_WORKERS is for the embedded cluster; with DATABASE_URL, point it at a Citus coordinator whose workers are added (migrate detects Citus)".into(),
            )),
            (Some(runtime), Some(admin)) => {
                // The error names the parameter or file, never the URL (it may hold a password).
                let parse = |name: &str, url: &str| {
                    tenancy::tls::parse(url).map_err(|e| StartupError::Config(format!("{name}: {e}")))
                };
                let external = (parse("DATABASE_URL", runtime)?, parse("WIZREG_ADMIN_DATABASE_URL", admin)?);
                Ok(Self { embedded: None, external: Some(external), plain: plain() })
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
                Ok(Self { embedded: Some(cluster), external: None, plain: plain() })
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
            external: Some(((runtime, plain()), (admin, plain()))),
            plain: plain(),
        }
    }

    /// An external database reached through `runtime_url` and `admin_url`, as configured by
    /// the environment (for tests that point the product at a server of their own).
    pub fn external(runtime_url: &str, admin_url: &str) -> Result<Self, StartupError> {
        let parse =
            |url: &str| tenancy::tls::parse(url).map_err(|e| StartupError::Config(e.to_string()));
        Ok(Self {
            embedded: None,
            external: Some((parse(runtime_url)?, parse(admin_url)?)),
            plain: plain(),
        })
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
            (None, Some(((runtime, _), (admin, _)))) => match role {
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

    /// The TLS connector for `role`'s connections (pools, listeners, single sessions).
    pub fn tls(&self, role: Role) -> PgTls {
        match (&self.external, role) {
            (Some(((_, runtime), _)), Role::App) => runtime.clone(),
            (Some((_, (_, admin))), Role::Admin | Role::Platform) => admin.clone(),
            (None, _) => self.plain.clone(),
        }
    }

    /// Connects once as `role` (for commands and migrations; requests use pools). A failure
    /// names the server and the TLS mode, with the reason (a certificate problem included).
    pub async fn connect(&self, role: Role) -> Result<Client, StartupError> {
        let config = self.config(role);
        let tls = self.tls(role);
        let (client, connection) = tenancy::connect(&config, tls.clone())
            .await
            .map_err(|e| connect_error(&config, &tls, e))?;
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

/// The connector for a socket that never uses TLS.
fn plain() -> PgTls {
    let params = TlsParams {
        mode: SslMode::Disable,
        ..TlsParams::default()
    };
    PgTls::new(&params).expect("a connector that reads no file cannot fail")
}

/// "cannot connect to PostgreSQL at db.example.com:5432 (sslmode=verify-full): error
/// performing TLS handshake: invalid peer certificate: UnknownIssuer". No password: neither
/// the settings' `Debug` nor the URL is printed.
pub fn connect_error(config: &PgConfig, tls: &PgTls, err: tokio_postgres::Error) -> StartupError {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(dir) => format!("{}/.s.PGSQL.{port}", dir.display()),
            }
        })
        .collect();
    // The reason (an unknown issuer, a name mismatch, an expired certificate) is in the causes.
    let mut detail = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !detail.ends_with(&text) {
            detail = format!("{detail}: {text}");
        }
        cause = inner.source();
    }
    StartupError::Failed(format!(
        "cannot connect to PostgreSQL at {} (sslmode={}): {detail}",
        hosts.join(","),
        tls.mode().as_str()
    ))
}

async fn create_database_if_missing(cluster: &EmbeddedPostgres) -> Result<(), StartupError> {
    let (client, connection) = cluster
        .config(embedded::SUPERUSER, "postgres")
        .connect(tokio_postgres::NoTls)
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
