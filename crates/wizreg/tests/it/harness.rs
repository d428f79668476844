//! The test harness: one embedded PostgreSQL per test process, migrations applied once to a
//! template database, and a fresh database per test (`CREATE DATABASE … TEMPLATE …`). The
//! router is driven in-process; isolation runs as the runtime role, as it does in production.
//!
//! Set `WIZREG_TEST_PG_SOCKET` to the socket directory of a running cluster (superuser
//! `postgres`, trust auth) to reuse it instead of starting one.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tenancy::embedded::{self, EmbeddedOptions, EmbeddedPostgres};
use tokio_postgres::{Client, NoTls};
use tower::ServiceExt;
use wizreg::config::Config;
use wizreg::database::{Database, Role};
use wizreg::http::router;
use wizreg::registry::TenantRecord;

const TEMPLATE: &str = "wizreg_template";
/// The admin bearer token every test app accepts.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// The server secret every test app hashes API keys with.
pub const KEY_SECRET: &str = "test-key-secret-0123456789abcdef";

/// The socket directory of the process-wide test cluster, started on first use.
pub fn cluster_socket() -> &'static PathBuf {
    static SOCKET: OnceLock<PathBuf> = OnceLock::new();
    SOCKET.get_or_init(|| {
        let (sender, receiver) = mpsc::channel();
        // Tests run inside their own async runtimes, so setup happens on a plain thread. When it
        // starts the server, that thread then lives (parked) until the process exits: the
        // server's parent-death signal is tied to it, so the server shuts down with us.
        std::thread::spawn(move || {
            if let Ok(dir) = std::env::var("WIZREG_TEST_PG_SOCKET") {
                let socket = PathBuf::from(dir);
                prepare_template(&socket);
                sender.send(socket).expect("harness waits");
                return;
            }
            let options = EmbeddedOptions {
                data_dir: fresh_data_dir(),
                pg_bin: None,
                ephemeral: true,
            };
            let cluster = EmbeddedPostgres::start(&options).expect("start the test PostgreSQL");
            prepare_template(cluster.socket_dir());
            sender
                .send(cluster.socket_dir().to_owned())
                .expect("harness waits");
            loop {
                std::thread::park();
            }
        });
        receiver.recv().expect("test cluster started")
    })
}

/// A per-process directory under /tmp (reachable by the `postgres` OS user), after removing
/// those left by earlier runs whose process is gone.
fn fresh_data_dir() -> PathBuf {
    if let Ok(entries) = std::fs::read_dir("/tmp") {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name
                .strip_prefix("wizreg-test-")
                .and_then(|p| p.parse::<u32>().ok())
            {
                if !PathBuf::from(format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    }
    PathBuf::from(format!("/tmp/wizreg-test-{}", std::process::id()))
}

fn prepare_template(socket: &std::path::Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let postgres = superuser(socket, "postgres").await;
        postgres
            .batch_execute(&format!("drop database if exists {TEMPLATE}"))
            .await
            .expect("drop template");
        postgres
            .batch_execute(&format!("create database {TEMPLATE}"))
            .await
            .expect("create template");
        let cluster_db = database_on(socket, TEMPLATE);
        cluster_db.migrate().await.expect("migrate the template");
    });
}

fn database_on(socket: &std::path::Path, dbname: &str) -> Database {
    let url_runtime = embedded::socket_url(socket, "wizreg_app", dbname);
    let url_admin = embedded::socket_url(socket, embedded::SUPERUSER, dbname);
    let config = test_config(Some((url_runtime, url_admin)));
    Database::open(&config).expect("external database settings")
}

pub fn test_config(urls: Option<(String, String)>) -> Config {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        config: Config,
    }
    let mut config = Wrapper::parse_from(["test"]).config;
    if let Some((runtime, admin)) = urls {
        config.database_url = Some(runtime);
        config.admin_database_url = Some(admin);
    }
    config
}

async fn superuser(socket: &std::path::Path, dbname: &str) -> Client {
    let (client, connection) = tokio_postgres::Config::new()
        .host_path(socket)
        .port(5432)
        .user(embedded::SUPERUSER)
        .dbname(dbname)
        .connect(NoTls)
        .await
        .expect("connect as superuser");
    tokio::spawn(connection);
    client
}

/// One test's world: its own database, the real router, and two schools.
pub struct TestApp {
    pub router: Router,
    pub database: Database,
    /// The configuration the app was built with (for more instances on the same database).
    pub config: Config,
    pub dbname: String,
    pub hogwarts: TenantRecord,
    pub castelobruxo: TenantRecord,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// A fresh app whose configuration `adjust` may change first.
    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let socket = cluster_socket();
        let dbname = format!(
            "test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let postgres = superuser(socket, "postgres").await;
        postgres
            .batch_execute(&format!("create database {dbname} template {TEMPLATE}"))
            .await
            .expect("create the test database");
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
            router: router(state),
            database,
            config,
            dbname,
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
        superuser(cluster_socket(), &self.dbname).await
    }

    /// A plain runtime-role connection, outside any pool or tenant transaction.
    pub async fn runtime_connection(&self) -> Client {
        self.database
            .connect(Role::App)
            .await
            .expect("runtime connection")
    }

    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        Call {
            router: &self.router,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
        }
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

/// A request being built.
pub struct Call<'a> {
    router: &'a Router,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
}

impl<'a> Call<'a> {
    /// Sends the request to another instance (see [`TestApp::another_instance`]).
    pub fn via(mut self, router: &'a Router) -> Self {
        self.router = router;
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
    /// Names the school by `X-Tenant`.
    pub fn tenant(self, tenant: &str) -> Self {
        self.header("x-tenant", tenant)
    }
    /// Authenticates as the platform administrator.
    pub fn admin(self) -> Self {
        self.header("authorization", &format!("Bearer {ADMIN_TOKEN}"))
    }
    /// Names the school by Host subdomain, as the classic walk-through does.
    pub fn host(self, host: &str) -> Self {
        self.header("host", host)
    }
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(("application/json".into(), body.to_string().into_bytes()));
        self
    }
    pub fn raw_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some((content_type.into(), body.into()));
        self
    }

    pub async fn send(self) -> Reply {
        let (status, headers, bytes) = self.send_raw().await;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("every body is JSON")
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Sends the request and returns the body as bytes, for bodies that are not one JSON value
    /// (an NDJSON export).
    pub async fn send_raw(self) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::builder().method(self.method).uri(&self.path);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let request = match self.body {
            Some((content_type, bytes)) => request
                .header("content-type", content_type)
                .body(Body::from(bytes)),
            None => request.body(Body::empty()),
        }
        .expect("valid request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, headers, bytes.to_vec())
    }
}

/// A response, with its body parsed as JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn id(&self) -> String {
        self.body["id"].as_str().expect("body has an id").to_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
