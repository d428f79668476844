//! One embedded PostgreSQL per test process, the template schema applied once to a template
//! database, and a fresh copy of it for each test (`CREATE DATABASE … TEMPLATE …`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, OnceLock};

use tenancy::embedded::{EmbeddedOptions, EmbeddedPostgres, SUPERUSER};
use tenancy::{build_pool, Convention, PoolOptions, Query, Tenancy, TenantId};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Config, NoTls};

const TEMPLATE: &str = "tenancy_template";
const SCHEMA: &str = include_str!("../../sql/schema.sql");

/// The cluster's socket directory and port, started on first use.
fn cluster() -> &'static (PathBuf, u16) {
    static CLUSTER: OnceLock<(PathBuf, u16)> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let (sender, receiver) = mpsc::channel();
        // The server's parent-death signal is tied to the thread that starts it: that thread
        // stays parked for the life of the test process.
        std::thread::spawn(move || {
            let options = EmbeddedOptions {
                data_dir: fresh_data_dir(),
                ephemeral: true,
                ..Default::default()
            };
            let cluster = EmbeddedPostgres::start(&options).expect("start the test PostgreSQL");
            let found = (cluster.socket_dir().to_owned(), cluster.port());
            prepare_template(&found.0, found.1);
            sender.send(found).expect("the harness waits");
            loop {
                std::thread::park();
            }
        });
        receiver.recv().expect("test cluster started")
    })
}

/// `/tmp/tenancy-test-<pid>` (reachable by the `postgres` OS account), after removing those of
/// earlier runs whose process is gone.
fn fresh_data_dir() -> PathBuf {
    for entry in std::fs::read_dir("/tmp").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("tenancy-test-") {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    PathBuf::from(format!("/tmp/tenancy-test-{}", std::process::id()))
}

fn prepare_template(socket: &Path, port: u16) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let postgres = connect(config(socket, port, SUPERUSER, "postgres")).await;
        for sql in [
            format!("drop database if exists {TEMPLATE}"),
            format!("create database {TEMPLATE}"),
        ] {
            postgres
                .batch_execute(&sql)
                .await
                .expect("create the template database");
        }
        let template = connect(config(socket, port, SUPERUSER, TEMPLATE)).await;
        template
            .batch_execute(SCHEMA)
            .await
            .expect("the template schema applies");
        // Applying it twice changes nothing: the template is safe to rerun.
        template
            .batch_execute(SCHEMA)
            .await
            .expect("the template schema applies again");
    });
}

fn config(socket: &Path, port: u16, user: &str, dbname: &str) -> Config {
    let mut config = Config::new();
    config
        .host_path(socket)
        .port(port)
        .user(user)
        .dbname(dbname);
    config
}

async fn connect(config: Config) -> Client {
    let (client, connection) = config.connect(NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

/// A database of its own for one test, copied from the template.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub async fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let (socket, port) = cluster();
        let name = format!("test_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let postgres = connect(config(socket, *port, SUPERUSER, "postgres")).await;
        for sql in [
            format!("drop database if exists {name}"),
            format!("create database {name} template {TEMPLATE}"),
            // A database's privileges are not copied from its template.
            format!("revoke temporary on database {name} from public"),
        ] {
            postgres
                .batch_execute(&sql)
                .await
                .expect("copy the template");
        }
        Self { name }
    }

    /// Connection settings for `user` on this database.
    pub fn config(&self, user: &str) -> Config {
        let (socket, port) = cluster();
        config(socket, *port, user, &self.name)
    }

    /// The cluster's socket directory and port (to put a proxy in front of it).
    pub fn socket(&self) -> (&'static Path, u16) {
        let (socket, port) = cluster();
        (socket, *port)
    }

    /// Connection settings for `user` on this database through another socket directory.
    pub fn config_via(&self, socket: &Path, user: &str) -> Config {
        config(socket, cluster().1, user, &self.name)
    }

    /// A superuser connection: for arranging and inspecting, never for what is under test.
    pub async fn superuser(&self) -> Client {
        connect(self.config(SUPERUSER)).await
    }

    /// Tenant transactions as the runtime role, with `options`.
    pub fn tenancy(&self, options: PoolOptions) -> Tenancy {
        Tenancy::with_convention(
            build_pool(self.config("app_user"), tokio_postgres::NoTls, options),
            &Convention::default(),
        )
    }

    /// A new tenant in the directory, with one project.
    pub async fn account(&self, slug: &str) -> TenantId {
        let id = TenantId::new_v7();
        self.superuser()
            .await
            .execute(
                "insert into app.account (id, slug, name) values ($1, $2, $2)",
                &[&id.as_uuid(), &slug],
            )
            .await
            .expect("create the account");
        id
    }
}

/// One pooled connection, so that reuse is visible.
pub fn one_connection() -> PoolOptions {
    PoolOptions {
        max_size: 1,
        acquire_timeout: std::time::Duration::from_secs(10),
        ..PoolOptions::default()
    }
}

/// Creates a project named `name` for the transaction's tenant; returns its id.
pub fn insert_project(name: &'static str) -> Query<uuid::Uuid> {
    let id = uuid::Uuid::now_v7();
    Query::new("insert into app.project (tenant_id, id, name) values ($1, $2, $3) returning id")
        .bind(id, Type::UUID)
        .bind(name, Type::TEXT)
        .map(|rows| Ok(rows[0].get(0)))
}

/// The names of the transaction's tenant's projects, sorted.
pub fn project_names() -> Query<Vec<String>> {
    Query::new("select name from app.project where tenant_id = $1 order by name")
        .map(|rows| Ok(rows.iter().map(|row| row.get(0)).collect()))
}

/// How many projects the superuser sees for `tenant`, whatever RLS says.
pub async fn stored_projects(db: &TestDb, tenant: TenantId) -> i64 {
    db.superuser()
        .await
        .query_one(
            "select count(*) from app.project where tenant_id = $1",
            &[&tenant.as_uuid()],
        )
        .await
        .expect("count")
        .get(0)
}
