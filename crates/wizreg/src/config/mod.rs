//! Configuration: one typed struct from flags and environment variables, validated at start.
//! Each field's doc comment is its `--help` text.

mod auth;
mod edge;
mod secret;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

pub use auth::{AuthMode, JwtAlgorithm};
pub use edge::EdgeArgs;
pub use secret::Secret;

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

    /// Run the embedded database as a Citus cluster: a coordinator plus this many workers
    /// (under `<data dir>/workers/`), schools distributed by tenant. Unset: one PostgreSQL.
    /// With DATABASE_URL, point it at a Citus coordinator instead (migrate detects Citus).
    #[arg(
        long,
        env = "WIZREG_CITUS_WORKERS",
        global = true,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64)
    )]
    pub citus_workers: Option<usize>,

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
    #[arg(
        long,
        env = "WIZREG_POOL_SIZE",
        default_value_t = 16,
        global = true,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000)
    )]
    pub pool_size: usize,

    /// Milliseconds a request waits for a pooled connection before a 503.
    #[arg(
        long,
        env = "WIZREG_POOL_TIMEOUT_MS",
        default_value_t = 2000,
        global = true
    )]
    pub pool_timeout_ms: u64,

    /// Milliseconds a statement may run before the database cancels it (503). A school's own
    /// `statement_timeout_ms` (PATCH /admin/tenants/{id}) overrides it in its transactions.
    #[arg(
        long,
        env = "WIZREG_STATEMENT_TIMEOUT_MS",
        default_value_t = 5000,
        global = true
    )]
    pub statement_timeout_ms: u64,

    /// Milliseconds a statement may wait for a row lock before it is cancelled (503).
    #[arg(
        long,
        env = "WIZREG_LOCK_TIMEOUT_MS",
        default_value_t = 2000,
        global = true
    )]
    pub lock_timeout_ms: u64,

    /// Milliseconds a connection may sit idle inside a transaction before the database ends
    /// the session (a backstop against a stuck request holding locks).
    #[arg(
        long,
        env = "WIZREG_IDLE_IN_TRANSACTION_TIMEOUT_MS",
        default_value_t = 10000,
        global = true
    )]
    pub idle_in_transaction_timeout_ms: u64,

    /// Requests per second each school may make (token bucket); 0 turns the limit off.
    #[arg(
        long,
        env = "WIZREG_RATE_LIMIT_PER_SEC",
        default_value_t = 0,
        global = true
    )]
    pub rate_limit_per_sec: u32,

    /// Requests a school may make in one burst above its rate (with WIZREG_RATE_LIMIT_PER_SEC).
    #[arg(
        long,
        env = "WIZREG_RATE_LIMIT_BURST",
        default_value_t = 2000,
        global = true
    )]
    pub rate_limit_burst: u32,

    /// Requests of one school that may use the database at once; more wait up to the pool
    /// timeout, then get 429. Default: half the pool, so one school never holds it all.
    #[arg(long, env = "WIZREG_TENANT_MAX_CONCURRENCY", global = true)]
    pub tenant_max_concurrency: Option<usize>,

    /// Seconds an idempotency key is remembered.
    #[arg(
        long,
        env = "WIZREG_IDEMPOTENCY_TTL_SECS",
        default_value_t = 86400,
        global = true
    )]
    pub idempotency_ttl_secs: u64,

    /// `unnamed` behind a transaction pooler (PgBouncer in transaction mode).
    #[arg(
        long,
        env = "WIZREG_STATEMENT_MODE",
        value_enum,
        default_value = "prepared",
        global = true
    )]
    pub statement_mode: StatementModeArg,

    /// The largest body `POST /admin/tenants/{id}/import` accepts, in bytes (read a line at a
    /// time, so this bounds how long one import runs, not memory). Default: 2 GiB.
    #[arg(
        long,
        env = "WIZREG_IMPORT_MAX_BYTES",
        default_value_t = 2 * 1024 * 1024 * 1024,
        global = true
    )]
    pub import_max_bytes: u64,

    /// Seconds a resolved tenant stays cached at most (each entry lives between half and all of
    /// it). A backstop: tenant changes clear every server's cache at once by NOTIFY. Long enough
    /// that 10,000 active schools cost few lookups (10,000 / 60 s ≈ 170 a second at most).
    #[arg(
        long,
        env = "WIZREG_TENANT_CACHE_TTL_SECS",
        default_value_t = 60,
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

    /// Server secret that API keys are hashed with (HMAC-SHA256). In embedded mode without
    /// one, a secret is generated and kept in the data directory (`key-secret`, mode 0600).
    #[arg(long, env = "WIZREG_KEY_SECRET", global = true, hide_env_values = true)]
    pub key_secret: Option<Secret>,

    /// Seconds a verified API key stays cached (revocations also reach every process at once
    /// by NOTIFY; this is the backstop).
    #[arg(
        long,
        env = "WIZREG_API_KEY_CACHE_TTL_SECS",
        default_value_t = 10,
        global = true
    )]
    pub api_key_cache_ttl_secs: u64,

    /// Shared secret for HS256 JWTs.
    #[arg(long, env = "WIZREG_JWT_SECRET", global = true, hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// PEM public key (SPKI or PKCS#1) for RS256/ES256 JWTs.
    #[arg(long, env = "WIZREG_JWT_PUBLIC_KEY_FILE", global = true)]
    pub jwt_public_key_file: Option<PathBuf>,

    /// The one algorithm JWTs must be signed with.
    #[arg(
        long,
        env = "WIZREG_JWT_ALGORITHM",
        value_enum,
        ignore_case = true,
        default_value = "HS256",
        global = true
    )]
    pub jwt_algorithm: JwtAlgorithm,

    /// Required `iss` claim of JWTs (unchecked when unset).
    #[arg(long, env = "WIZREG_JWT_ISSUER", global = true)]
    pub jwt_issuer: Option<String>,

    /// Required `aud` claim of JWTs (unchecked when unset).
    #[arg(long, env = "WIZREG_JWT_AUDIENCE", global = true)]
    pub jwt_audience: Option<String>,

    /// The JWT claim holding the tenant's UUID.
    #[arg(
        long,
        env = "WIZREG_JWT_TENANT_CLAIM",
        default_value = "tenant_id",
        global = true
    )]
    pub jwt_tenant_claim: String,

    /// Clock skew allowed when checking `exp` and `nbf`, in seconds.
    #[arg(
        long,
        env = "WIZREG_JWT_LEEWAY_SECS",
        default_value_t = 30,
        global = true
    )]
    pub jwt_leeway_secs: u64,

    /// Have the server confirm, at every reuse of a pooled connection, that no transaction is
    /// open and no tenant is set (one extra round trip per request; for diagnostics).
    #[arg(long, env = "WIZREG_VERIFY_CHECKOUT", global = true)]
    pub verify_checkout: bool,

    /// Log as JSON lines instead of text.
    #[arg(long, env = "WIZREG_LOG_JSON", global = true)]
    pub log_json: bool,

    /// Which requests get a line in the request log: all, errors (5xx and 499, client closed
    /// request) or off. Metrics count every request either way.
    #[arg(
        long,
        env = "WIZREG_REQUEST_LOG",
        value_enum,
        default_value = "all",
        global = true
    )]
    pub request_log: crate::logging::RequestLog,

    /// How many schools get a `tenant` label (their slug) of their own in /metrics (the first
    /// ones served); later ones share `other`. Default 0: no slug appears, every school is
    /// `other` (opt in only where whoever scrapes may know the schools).
    #[arg(
        long,
        env = "WIZREG_METRICS_TENANT_LABELS",
        default_value_t = crate::metrics::DEFAULT_TENANT_LABELS,
        global = true
    )]
    pub metrics_tenant_labels: usize,

    /// Key for the web console's session and CSRF cookies (at least 32 characters; the same on
    /// every server behind one name). In embedded mode without one, a key is generated and kept
    /// in the data directory (`console-key`, mode 0600).
    #[arg(
        long,
        env = "WIZREG_CONSOLE_SESSION_KEY",
        global = true,
        hide_env_values = true
    )]
    pub console_session_key: Option<Secret>,

    /// How long a console sign-in lasts, in seconds.
    #[arg(
        long,
        env = "WIZREG_CONSOLE_SESSION_TTL_SECS",
        default_value_t = crate::console::DEFAULT_SESSION_TTL_SECS,
        value_parser = clap::value_parser!(u64).range(60..=86_400),
        global = true
    )]
    pub console_session_ttl_secs: u64,

    /// Mark console cookies `Secure` on every response (behind a TLS-terminating proxy that
    /// sends no `X-Forwarded-Proto: https`); otherwise only on requests that came over HTTPS.
    #[arg(long, env = "WIZREG_CONSOLE_SECURE_COOKIES", global = true)]
    pub console_secure_cookies: bool,

    /// Database lookups of API keys not yet verified (cache misses) running at once, across
    /// all callers; more wait 50 ms, then get 503. Default: a quarter of WIZREG_POOL_SIZE (at
    /// least 1), so a flood of made-up keys cannot hold the pool authenticated schools need.
    #[arg(long, env = "WIZREG_UNAUTHENTICATED_DB_CONCURRENCY", global = true,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub unauthenticated_db_concurrency: Option<usize>,
}

/// `wizreg serve` options.
#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "WIZREG_BIND", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,

    /// On SIGTERM or Ctrl-C, seconds in-flight requests get to finish before the server stops
    /// anyway.
    #[arg(long, env = "WIZREG_SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,

    #[command(flatten)]
    pub edge: EdgeArgs,
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
