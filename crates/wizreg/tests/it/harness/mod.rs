//! The test harness: one embedded PostgreSQL per test process, migrations applied once to a
//! template database, and a fresh database per test (`CREATE DATABASE … TEMPLATE …`). The
//! router is driven in-process; isolation runs as the runtime role, as it does in production.
//!
//! Set `WIZREG_TEST_PG_SOCKET` to the socket directory of a running cluster (superuser
//! `postgres`, trust auth) to reuse it instead of starting one.
//!
//! The same tests run on Citus: [`TestApp::on`]`(Backend::Citus)` gives a test its own
//! distributed database on a process-wide coordinator with two workers (`citus.rs`), and
//! [`on_both_backends!`] runs one test body against both backends.

mod backends;
mod call;
mod citus;
mod cluster;
mod database;
mod local;

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::Method;
use axum::Router;
use serde_json::Value;
use tenancy::embedded;
use tokio_postgres::Client;
use wizreg::config::Config;
use wizreg::database::{Database, Role};
use wizreg::http::router;
use wizreg::registry::TenantRecord;

pub(crate) use backends::on_both_backends;
pub use backends::Backend;
pub use call::{body_bytes, tenant_request, Call, Reply};
pub use citus::{test_node_settings, unmigrated_citus_database};
pub use cluster::{cluster_socket, superuser, test_config};
pub use database::{begin_as_tenant, snapshot};
pub use local::{free_port, own_cluster_options, processes_using, scratch_dir, superuser_on};

/// The migrated database every test database is copied from.
const TEMPLATE: &str = "wizreg_template";
/// The admin bearer token every test app accepts.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// The server secret every test app hashes API keys with.
pub const KEY_SECRET: &str = "test-key-secret-0123456789abcdef";

/// One test's world: its own database, the real router, and two schools.
pub struct TestApp {
    pub router: Router,
    /// The router's tenant cache.
    pub registry: wizreg::registry::Registry,
    pub database: Database,
    /// The configuration the app was built with (for more instances on the same database).
    pub config: Config,
    pub dbname: String,
    pub backend: Backend,
    pub hogwarts: TenantRecord,
    pub castelobruxo: TenantRecord,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// A fresh app on `backend`.
    pub async fn on(backend: Backend) -> Self {
        Self::with_config_on(backend, |_| {}).await
    }

    /// A fresh app whose configuration `adjust` may change first.
    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::with_config_on(Backend::Postgres, adjust).await
    }

    /// A fresh app on `backend` whose configuration `adjust` may change first.
    pub async fn with_config_on(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dbname = format!(
            "test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        backend.create_database(&dbname).await;
        let socket = backend.socket();
        let mut config = test_config(Some((
            embedded::socket_url(socket, "wizreg_app", &dbname),
            embedded::socket_url(socket, embedded::SUPERUSER, &dbname),
        )));
        config.admin_token = Some(wizreg::config::Secret::new(ADMIN_TOKEN));
        config.key_secret = Some(wizreg::config::Secret::new(KEY_SECRET));
        adjust(&mut config);
        let database = Database::open(&config).expect("database settings");
        // Database-level grants are not copied from a template: re-run the idempotent bootstrap.
        database.migrate().await.expect("migrate");
        let state = wizreg::serve::app_state(&config, &database)
            .await
            .expect("app state");
        let platform = database
            .connect(Role::Platform)
            .await
            .expect("platform connection");
        let create = |slug: &'static str| {
            let platform = &platform;
            async move {
                let slug = tenancy::Slug::parse(slug).expect("slug");
                wizreg::tenants::create(platform, &slug, slug.as_str())
                    .await
                    .expect("create tenant")
            }
        };
        let hogwarts = create("hogwarts").await;
        let castelobruxo = create("castelobruxo").await;
        Self {
            registry: state.registry.clone(),
            router: router(state),
            database,
            config,
            dbname,
            backend,
            hogwarts,
            castelobruxo,
        }
    }

    /// Another server process in miniature: its own pools, tenant cache and change listener,
    /// on this test's database. Send requests to it with [`Call::via`].
    pub async fn another_instance(&self) -> Router {
        let state = wizreg::serve::app_state(&self.config, &self.database)
            .await
            .expect("app state");
        router(state)
    }

    /// A superuser connection to this test's database: sees every school (bypasses RLS).
    pub async fn privileged(&self) -> Client {
        superuser(self.backend.socket(), &self.dbname).await
    }

    /// `DATABASE_URL` and `WIZREG_ADMIN_DATABASE_URL` for this test's database, for running
    /// the real binary against it.
    pub fn database_env(&self) -> [(&'static str, String); 2] {
        [
            (
                "DATABASE_URL",
                self.config.database_url.clone().expect("runtime URL"),
            ),
            (
                "WIZREG_ADMIN_DATABASE_URL",
                self.config.admin_database_url.clone().expect("admin URL"),
            ),
        ]
    }

    /// A plain runtime-role connection, outside any pool or tenant transaction.
    pub async fn runtime_connection(&self) -> Client {
        self.database
            .connect(Role::App)
            .await
            .expect("runtime connection")
    }

    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        Call::new(&self.router, method, path)
    }
    pub fn get(&self, path: &str) -> Call<'_> {
        self.call(Method::GET, path)
    }
    pub fn post(&self, path: &str, body: Value) -> Call<'_> {
        self.call(Method::POST, path).json(body)
    }
    pub fn patch(&self, path: &str, body: Value) -> Call<'_> {
        self.call(Method::PATCH, path).json(body)
    }
    pub fn delete(&self, path: &str) -> Call<'_> {
        self.call(Method::DELETE, path)
    }
}
