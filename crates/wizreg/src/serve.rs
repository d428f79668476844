//! `wizreg serve`: start (or reach) the database, migrate, check the runtime role is safe,
//! then serve until Ctrl-C or SIGTERM, draining in-flight requests before the embedded
//! PostgreSQL stops.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tenancy::pool::build_pool;
use tenancy::{PoolOptions, StatementMode, Tenancy};
use tokio::net::TcpListener;

use crate::config::{Config, ServeArgs, StatementModeArg};
use crate::database::{Database, Role};
use crate::error::StartupError;
use crate::http::{router, AppState};
use crate::registry::Registry;
use crate::tenants;

/// The statement every tenant transaction starts with.
pub const ENTER_TENANT_SQL: &str = "select wizreg.enter_tenant($1)";

pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tokio_postgres=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.log_json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub async fn run(config: Config, args: ServeArgs) -> Result<(), StartupError> {
    config
        .validate_for_serve(&args)
        .map_err(StartupError::Config)?;
    init_logging(&config);
    let started = Instant::now();
    // Runs on this (long-lived) thread: the embedded server's parent-death signal is tied to it.
    let database = tokio::task::block_in_place(|| Database::open(&config))?;
    database.migrate().await?;
    if database.is_embedded() {
        let platform = database.connect(Role::Platform).await?;
        if tenants::seed_demo_if_empty(&platform)
            .await
            .map_err(|e| StartupError::Config(e.to_string()))?
        {
            tracing::info!("created the demo schools hogwarts and castelobruxo");
        }
    }
    let state = app_state(&config, &database).await?;
    let listener = TcpListener::bind(args.bind)
        .await
        .map_err(|source| StartupError::Bind {
            addr: args.bind,
            source,
        })?;
    tracing::info!(
        addr = %args.bind,
        startup_ms = started.elapsed().as_millis() as u64,
        embedded = database.is_embedded(),
        "wizreg is serving"
    );
    let draining = state.draining.clone();
    let pool = state.tenancy.pool().clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: draining in-flight requests");
            draining.store(true, Ordering::Relaxed);
        })
        .await
        .map_err(|source| StartupError::Bind {
            addr: args.bind,
            source,
        })?;
    pool.close();
    drop(database); // stops an embedded server this process started
    tracing::info!("stopped");
    Ok(())
}

/// Pools and caches for serving, after refusing a runtime role that would bypass RLS.
pub async fn app_state(config: &Config, database: &Database) -> Result<AppState, StartupError> {
    let options = PoolOptions {
        max_size: config.pool_size,
        acquire_timeout: Duration::from_millis(config.pool_timeout_ms),
        statement_mode: match config.statement_mode {
            StatementModeArg::Prepared => StatementMode::Prepared,
            StatementModeArg::Unnamed => StatementMode::Unnamed,
        },
    };
    let mut runtime = database.config(Role::App);
    runtime.application_name("wizreg");
    let tenancy = Tenancy::new(build_pool(runtime, options), ENTER_TENANT_SQL);
    refuse_privileged_runtime_role(&tenancy).await?;
    Ok(AppState {
        registry: Registry::new(
            tenancy.clone(),
            Duration::from_secs(config.tenant_cache_ttl_secs),
        ),
        tenancy,
        base_domain: config.base_domain.as_str().into(),
        draining: Arc::new(AtomicBool::new(false)),
    })
}

/// Superusers and BYPASSRLS roles ignore every policy: serving as one would void isolation.
async fn refuse_privileged_runtime_role(tenancy: &Tenancy) -> Result<(), StartupError> {
    let rows = tenancy
        .run_outside_tenant("select current_user::text, rolsuper, rolbypassrls from pg_roles where rolname = current_user", &[])
        .await
        .map_err(|e| StartupError::Config(format!("cannot reach the database as the runtime role ({e})")))?;
    let row = rows
        .first()
        .ok_or_else(|| StartupError::Unsafe("the runtime role does not exist".into()))?;
    let (user, superuser, bypass): (String, bool, bool) = (row.get(0), row.get(1), row.get(2));
    if superuser || bypass {
        return Err(StartupError::Unsafe(format!(
            "refusing to serve as '{user}': it is a superuser or has BYPASSRLS, which ignores tenant isolation; set DATABASE_URL to a plain role (migrations create wizreg_app)"
        )));
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
}
