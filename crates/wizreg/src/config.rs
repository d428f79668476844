//! Configuration: one typed struct from flags and environment variables, validated at start.
//! Each field's doc comment is its `--help` text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// How tenant-scoped requests prove who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// No credential: the tenant comes from `X-Tenant` or the Host subdomain. Loopback only.
    Open,
}

/// How SQL statements are sent to the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StatementModeArg {
    /// Prepare each statement once per connection (fastest).
    Prepared,
    /// Unnamed statements: required behind a transaction pooler such as PgBouncer.
    Unnamed,
}

/// Settings shared by every command.
#[derive(Clone, Debug, Args)]
pub struct Config {
    /// Runtime-role connection URL. Unset: an embedded PostgreSQL in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Connection URL for migrations and platform administration (with DATABASE_URL).
    #[arg(
        long,
        env = "WIZREG_ADMIN_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub admin_database_url: Option<String>,

    /// Where the embedded PostgreSQL keeps its cluster.
    #[arg(
        long,
        env = "WIZREG_DATA_DIR",
        default_value = ".wizreg",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Directory with the PostgreSQL server binaries (default: pg_config, then the newest
    /// /usr/lib/postgresql/*/bin).
    #[arg(long, env = "WIZREG_PG_BIN", global = true)]
    pub pg_bin: Option<PathBuf>,

    /// Tenants are found at `<slug>.<base domain>`.
    #[arg(
        long,
        env = "WIZREG_BASE_DOMAIN",
        default_value = "localhost",
        global = true
    )]
    pub base_domain: String,

    /// How callers authenticate.
    #[arg(
        long,
        env = "WIZREG_AUTH",
        value_enum,
        default_value = "open",
        global = true
    )]
    pub auth: AuthMode,

    /// Runtime connections in the pool.
    #[arg(long, env = "WIZREG_POOL_SIZE", default_value_t = 16, global = true)]
    pub pool_size: usize,

    /// Milliseconds a request waits for a pooled connection before a 503.
    #[arg(
        long,
        env = "WIZREG_POOL_TIMEOUT_MS",
        default_value_t = 2000,
        global = true
    )]
    pub pool_timeout_ms: u64,

    /// `unnamed` behind a transaction pooler (PgBouncer in transaction mode).
    #[arg(
        long,
        env = "WIZREG_STATEMENT_MODE",
        value_enum,
        default_value = "prepared",
        global = true
    )]
    pub statement_mode: StatementModeArg,

    /// Seconds a resolved tenant stays cached.
    #[arg(
        long,
        env = "WIZREG_TENANT_CACHE_TTL_SECS",
        default_value_t = 5,
        global = true
    )]
    pub tenant_cache_ttl_secs: u64,

    /// Bearer token for `/admin/*`. In embedded mode without one, a token is generated and kept
    /// in the data directory (`admin-token`, mode 0600).
    #[arg(
        long,
        env = "WIZREG_ADMIN_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub admin_token: Option<Secret>,

    /// Have the server confirm, at every reuse of a pooled connection, that no transaction is
    /// open and no tenant is set (one extra round trip per request; for diagnostics).
    #[arg(long, env = "WIZREG_VERIFY_CHECKOUT", global = true)]
    pub verify_checkout: bool,

    /// Log as JSON lines instead of text.
    #[arg(long, env = "WIZREG_LOG_JSON", global = true)]
    pub log_json: bool,
}

/// `wizreg serve` options.
#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "WIZREG_BIND", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,
}

impl Config {
    /// Checks combinations that flags alone cannot express.
    pub fn validate_for_serve(&self, serve: &ServeArgs) -> Result<(), String> {
        if self.auth == AuthMode::Open && !serve.bind.ip().is_loopback() {
            return Err(format!(
                "WIZREG_AUTH=open lets anyone act as any school, so it is allowed only on a loopback bind; {} is not one",
                serve.bind
            ));
        }
        if self.database_url.is_some() != self.admin_database_url.is_some() {
            return Err("set both DATABASE_URL and WIZREG_ADMIN_DATABASE_URL, or neither (embedded PostgreSQL)".into());
        }
        Ok(())
    }
}

/// A secret setting: never printed by `Debug`, so it cannot leak into a log line.
#[derive(Clone)]
pub struct Secret(std::sync::Arc<str>);

impl Secret {
    pub fn new(value: &str) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        if value.len() < 16 {
            return Err("secrets must be at least 16 characters".into());
        }
        Ok(Self::new(value))
    }
}
