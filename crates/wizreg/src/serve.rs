//! `wizreg serve`: start (or reach) the database, migrate, check the runtime role is safe,
//! then serve until Ctrl-C or SIGTERM, draining in-flight requests before the embedded
//! PostgreSQL stops.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tenancy::Tenancy;

use crate::auth::Authenticator;
use crate::citus_stats::CitusTenantStats;
use crate::config::{Config, Secret, ServeArgs};
use crate::database::{Database, Role};
use crate::error::StartupError;
use crate::http::{router, AppState, Safeguards};
use crate::platform::Platform;
use crate::registry::Registry;
use crate::tenants;

/// Installs logging; keep the guard until the process ends (dropping it flushes the log).
pub fn init_logging(config: &Config) -> crate::logging::LogGuard {
    // A second call (tests, or a command that already set it up) keeps the first subscriber.
    crate::logging::init(config.log_json, config.request_log)
}

pub async fn run(config: Config, args: ServeArgs) -> Result<(), StartupError> {
    config
        .validate_for_serve(&args)
        .map_err(StartupError::Config)?;
    let _log = init_logging(&config);
    let started = Instant::now();
    // Runs on this (long-lived) thread: the embedded server's parent-death signal is tied to it.
    let database = tokio::task::block_in_place(|| Database::open(&config))?;
    database.migrate().await?;
    crate::audit::refuse_unsafe(&database).await?;
    if config.auth == crate::config::AuthMode::Open && !database.is_embedded() {
        tracing::warn!(
            "WIZREG_AUTH=open with an external database: any local caller can act as any school; set api-key or jwt outside development"
        );
    }
    if database.is_embedded() {
        let platform = database.connect(Role::Platform).await?;
        if tenants::seed_demo_if_empty(&platform)
            .await
            .map_err(|e| StartupError::Failed(format!("could not create the demo schools ({e})")))?
        {
            tracing::info!("created the demo schools hogwarts and castelobruxo");
        }
    }
    let state = app_state(&config, &database).await?;
    let listeners = crate::edge::listeners::Listeners::bind(args.bind, &args.edge).await?;
    tracing::info!(
        addr = %args.bind,
        startup_ms = started.elapsed().as_millis() as u64,
        embedded = database.is_embedded(),
        "wizreg is serving"
    );
    let draining = state.draining.clone();
    let closing = state.clone();
    let drain_deadline = Duration::from_secs(args.shutdown_timeout_secs);
    let stop = tokio_util::sync::CancellationToken::new();
    // On the signal the listeners close at once (new connections are refused), readiness
    // turns 503, and connections end as soon as their in-flight request is answered.
    let stopping = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!(
            deadline_secs = drain_deadline.as_secs(),
            "shutting down: refusing new connections, draining in-flight requests"
        );
        draining.store(true, Ordering::Relaxed);
        stopping.cancel();
    });
    let deadline_passed = async {
        stop.cancelled().await;
        tokio::time::sleep(drain_deadline).await;
    };
    let ops = crate::http::ops::router(state.clone());
    tokio::select! {
        () = listeners.serve(router(state), ops, stop.clone()) => {}
        () = deadline_passed => {
            tracing::warn!(
                deadline_secs = drain_deadline.as_secs(),
                "in-flight requests did not finish in time; stopping anyway"
            );
        }
    }
    closing.close();
    drop(database); // stops an embedded server this process started
    tracing::info!("stopped");
    Ok(())
}

/// Pools and caches for serving, after refusing a runtime role that would bypass RLS.
pub async fn app_state(config: &Config, database: &Database) -> Result<AppState, StartupError> {
    // One direct session first: a certificate or TLS problem with DATABASE_URL is then one
    // startup error naming the server and the reason, not a pool timeout.
    let probe = database.connect(Role::App).await?;
    // Generic plans only on one PostgreSQL: on Citus the coordinator plans each statement for
    // its shard (see `database::session`).
    let on_citus = crate::citus::is_citus(&probe).await?;
    drop(probe);
    let tenancy = database.serving_tenancy(config, !on_citus);
    refuse_privileged_runtime_role(&tenancy).await?;
    let registry = Registry::new(
        tenancy.clone(),
        Duration::from_secs(config.tenant_cache_ttl_secs),
    );
    // Other processes' tenant changes clear this cache at once; the TTL is the backstop.
    crate::tenant_events::spawn_listener(
        database.config(Role::App),
        database.tls(Role::App),
        registry.clone(),
        tenancy.clone(),
    );
    let platform = Platform::new(database, crate::database::statement_mode(config));
    let citus_stats =
        CitusTenantStats::for_deployment(&platform, config.metrics_tenant_labels, on_citus);
    let admin_token = admin_token(config, database)?;
    let auth = Authenticator::from_config(config, database, &tenancy)?;
    let safeguards = Safeguards {
        auth,
        limits: crate::http::limits::LimitSettings::from_config(config),
        idempotency_ttl: Duration::from_secs(config.idempotency_ttl_secs),
    };
    Ok(AppState::new(
        tenancy,
        registry,
        &config.base_domain,
        platform,
        admin_token,
        safeguards,
    )
    .with_tenant_label_limit(config.metrics_tenant_labels)
    .with_citus_stats(citus_stats)
    .with_import_max_bytes(config.import_max_bytes)
    .with_console(crate::console::ConsoleSettings::from_config(
        config, database,
    )?))
}

/// Superusers and BYPASSRLS roles ignore every policy: serving as one would void isolation.
async fn refuse_privileged_runtime_role(tenancy: &Tenancy) -> Result<(), StartupError> {
    let rows = tenancy
        .run_outside_tenant("select current_user::text, rolsuper, rolbypassrls from pg_roles where rolname = current_user", &[])
        .await
        .map_err(|e| StartupError::Failed(format!("cannot reach the database as the runtime role ({e})")))?;
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

/// The admin token: configured, or (embedded mode only) generated once and kept in the data
/// directory with mode 0600. External deployments without one have the admin API disabled.
fn admin_token(config: &Config, database: &Database) -> Result<Option<Secret>, StartupError> {
    if let Some(token) = &config.admin_token {
        return Ok(Some(token.clone()));
    }
    if !database.is_embedded() {
        return Ok(None);
    }
    load_or_create_admin_token(&config.data_dir.join("admin-token")).map(Some)
}

/// Reads the admin token file, or creates (and prints, once) a new one. A file too short to be
/// a token is refused: an empty token would match a request that presents none.
fn load_or_create_admin_token(path: &std::path::Path) -> Result<Secret, StartupError> {
    let (token, created) = Secret::load_or_create(path, "wzadm_", MIN_ADMIN_TOKEN_LEN)
        .map_err(|e| StartupError::Config(format!("admin token file {}: {e}", path.display())))?;
    if created {
        // Printed once, on the terminal, not through the log.
        eprintln!(
            "wizreg: generated admin token (kept in {}): {}",
            path.display(),
            token.expose()
        );
    } else {
        tracing::info!(file = %path.display(), "admin token loaded");
    }
    Ok(token)
}

/// The shortest admin token accepted, as for a configured secret (`Secret::from_str`).
const MIN_ADMIN_TOKEN_LEN: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_short_admin_token_file_is_refused_not_used() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("admin-token");
        for content in ["", "  \n", "short"] {
            std::fs::write(&path, content).expect("written");
            assert!(
                load_or_create_admin_token(&path).is_err(),
                "{content:?} must not become the admin token"
            );
        }
    }

    #[test]
    fn a_generated_admin_token_is_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("admin-token");
        let created = load_or_create_admin_token(&path).expect("created");
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create_admin_token(&path).expect("read back");
        assert_eq!(created.expose(), again.expose());
        assert!(created.expose().starts_with("wzadm_"));
    }
}
