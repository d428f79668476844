//! The benchmark's PostgreSQL: a fresh embedded cluster with `pg_stat_statements` loaded (so
//! statements per request can be counted), seeding, and the pgbench baselines.
//!
//! Settings: the launcher's own (`wizreg serve` runs with the same: durable, fsync on), plus
//! `shared_preload_libraries = pg_stat_statements`, written with `ALTER SYSTEM` and applied by a
//! restart, so the launcher needs no benchmark-only option.

use std::path::{Path, PathBuf};
use std::process::Command;

use tenancy::embedded::{self, EmbeddedOptions, EmbeddedPostgres};
use tokio_postgres::{Client, NoTls};

use crate::dataset::{self, Size};

pub const DB_NAME: &str = "wizreg";
/// With `--large`: the default size, for the comparison within the same run.
pub const SMALL_DB_NAME: &str = "wizreg_default_size";
/// A database with 10 schools, to time school creation beside the full one.
pub const FEW_DB_NAME: &str = "wizreg_few";
/// Baseline (a)'s database: the same rows with no RLS.
pub const PLAIN_DB_NAME: &str = "bench_plain";
/// Where `pg_stat_statements` is installed (its views stay out of the audited database).
pub const STATS_DB_NAME: &str = "postgres";

/// The running cluster and where it lives.
#[derive(Debug)]
pub struct Cluster {
    server: EmbeddedPostgres,
    data_dir: PathBuf,
    pub bin: PathBuf,
}

impl Cluster {
    pub fn start(data_dir: &Path) -> Result<Self, String> {
        let options = EmbeddedOptions {
            data_dir: data_dir.to_owned(),
            pg_bin: None,
            ephemeral: false,
            ..Default::default()
        };
        let bin = embedded::find_binaries(None).map_err(|e| e.to_string())?;
        let mut server = EmbeddedPostgres::start(&options).map_err(|e| e.to_string())?;
        let socket = server.socket_dir().to_owned();
        let status = Command::new(bin.join("psql"))
            .args(["-qX", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(embedded::socket_url(
                &socket,
                embedded::SUPERUSER,
                "postgres",
            ))
            .args([
                "-c",
                "alter system set shared_preload_libraries = 'pg_stat_statements'",
            ])
            // Room for every database of a `--large` run (two of 1,000,000 students and the
            // plain table, about 700 MB): at the default 128 MB they evicted each other, and
            // whichever was seeded last read from a warmer cache than the other.
            .args([
                "-c",
                &format!("alter system set shared_buffers = '{SHARED_BUFFERS}'"),
            ])
            .args(["-c", &format!("create database {DB_NAME}")])
            .args(["-c", &format!("create database {SMALL_DB_NAME}")])
            .args(["-c", &format!("create database {PLAIN_DB_NAME}")])
            .args(["-c", &format!("create database {FEW_DB_NAME}")])
            .status()
            .map_err(|e| format!("psql: {e}"))?;
        if !status.success() {
            return Err("could not configure the benchmark cluster".into());
        }
        server.stop();
        let server = EmbeddedPostgres::start(&options).map_err(|e| e.to_string())?;
        Ok(Self {
            server,
            data_dir: data_dir.to_owned(),
            bin,
        })
    }

    pub fn socket_dir(&self) -> &Path {
        self.server.socket_dir()
    }

    pub fn url(&self, user: &str, dbname: &str) -> String {
        self.server.url(user, dbname)
    }

    /// The postmaster's pid (its children are the backends).
    pub fn postmaster_pid(&self) -> u32 {
        std::fs::read_to_string(self.data_dir.join("pgdata/postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse().ok())
            .unwrap_or(0)
    }

    pub async fn superuser(&self, dbname: &str) -> Result<Client, String> {
        let (client, connection) = self
            .server
            .config(embedded::SUPERUSER, dbname)
            .connect(NoTls)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        tokio::spawn(connection);
        Ok(client)
    }
}

/// Seeds `size` (after `wizreg` migrated the database); schools up to `existing_schools`
/// are already there.
pub async fn seed(db: &Client, size: Size, existing_schools: u32) -> Result<(), String> {
    let sql = [
        dataset::insert_schools_sql(existing_schools + 1, size.schools),
        dataset::insert_students_sql(size),
        "vacuum analyze wizreg.tenant, wizreg.student".to_owned(),
        prewarm_sql("wizreg.student"),
    ];
    for statement in sql {
        db.batch_execute(&statement)
            .await
            .map_err(|e| describe("seed", &e))?;
    }
    Ok(())
}

/// PostgreSQL's shared buffers for the benchmark cluster.
pub const SHARED_BUFFERS: &str = "1GB";

/// Loads `table` and its indexes into shared buffers, so every database starts its runs from
/// the same warm cache rather than from whatever the previous seeding left there.
fn prewarm_sql(table: &str) -> String {
    format!(
        "create extension if not exists pg_prewarm; \
         select pg_prewarm(indexrelid) from pg_index where indrelid = '{table}'::regclass; \
         select pg_prewarm('{table}'::regclass)"
    )
}

/// Seeds baseline (a)'s database and installs `pg_stat_statements`.
pub async fn seed_plain_and_stats(cluster: &Cluster, size: Size) -> Result<(), String> {
    let plain = cluster.superuser(PLAIN_DB_NAME).await?;
    for statement in [
        dataset::PLAIN_TABLE_SQL.to_owned(),
        dataset::insert_plain_sql(size),
        "vacuum analyze student_plain".to_owned(),
        prewarm_sql("student_plain"),
    ] {
        plain
            .batch_execute(&statement)
            .await
            .map_err(|e| describe("seed the plain table", &e))?;
    }
    let stats = cluster.superuser(STATS_DB_NAME).await?;
    stats
        .batch_execute("create extension if not exists pg_stat_statements")
        .await
        .map_err(|e| describe("pg_stat_statements", &e))
}

/// A database error with the server's message (this is a benchmark tool, not the API).
pub fn describe(action: &str, err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{action}: {} ({})", db.message(), db.code().code()),
        None => format!("{action}: {err}"),
    }
}

/// A pgbench baseline's result.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Baseline {
    pub name: &'static str,
    pub role: &'static str,
    pub tps: f64,
    pub latency_avg_ms: f64,
}

/// The two baselines' pgbench scripts: (a) the plain primary-key read, as the superuser on the
/// non-RLS copy; (b) the application's read as the runtime role, in a pipelined transaction
/// that enters the tenant first. Ids are built from drawn integers by SQL expressions.
fn scripts(size: Size) -> [(&'static str, &'static str, &'static str, String); 2] {
    let draw = format!(
        "\\set t random(1, {})\n\\set n random(1, {})\n",
        size.schools, size.students_per_school
    );
    let tenant = dataset::school_id_sql(":t::int");
    let student = dataset::student_id_sql(":t::int", ":n::int");
    let columns = "id, tenant_id, name, email, house_id, created_at, updated_at";
    let plain = format!(
        "{draw}select {columns} from student_plain where tenant_id = {tenant} and id = {student};\n"
    );
    let tenant_tx = format!(
        "{draw}\\startpipeline\nbegin;\nselect wizreg.enter_tenant({tenant});\n\
         select {columns} from wizreg.student where tenant_id = {tenant} and id = {student};\n\
         commit;\n\\endpipeline\n"
    );
    [
        (
            "(a) plain PK read, no RLS",
            embedded::SUPERUSER,
            PLAIN_DB_NAME,
            plain,
        ),
        (
            "(b) RLS read, tenant tx pipelined",
            "wizreg_app",
            DB_NAME,
            tenant_tx,
        ),
    ]
}

/// Runs both baselines with `clients` connections on one pgbench thread for `seconds`.
pub fn pgbench(
    cluster: &Cluster,
    work: &Path,
    size: Size,
    clients: u32,
    seconds: u64,
) -> Result<Vec<Baseline>, String> {
    pgbench_at(
        &cluster.bin,
        &|role, db| cluster.url(role, db),
        work,
        size,
        clients,
        seconds,
    )
}

/// [`pgbench`] against any server: `url(role, dbname)` says where (a Citus coordinator, say).
pub fn pgbench_at(
    bin: &Path,
    url: &dyn Fn(&str, &str) -> String,
    work: &Path,
    size: Size,
    clients: u32,
    seconds: u64,
) -> Result<Vec<Baseline>, String> {
    let mut results = Vec::new();
    for (i, (name, role, dbname, script)) in scripts(size).into_iter().enumerate() {
        let file = work.join(format!("baseline-{i}.sql"));
        std::fs::write(&file, script).map_err(|e| format!("write {}: {e}", file.display()))?;
        let out = Command::new(bin.join("pgbench"))
            .args(["-n", "-M", "prepared", "-j", "1"])
            .args(["-c", &clients.to_string(), "-T", &seconds.to_string()])
            .arg("-f")
            .arg(&file)
            .arg("-d")
            .arg(url(role, dbname))
            .output()
            .map_err(|e| format!("pgbench: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let field = |prefix: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        };
        match (field("tps = "), field("latency average = ")) {
            (Some(tps), Some(latency_avg_ms)) => results.push(Baseline {
                name,
                role,
                tps,
                latency_avg_ms,
            }),
            _ => {
                return Err(format!(
                    "pgbench {name} failed: {text}{}",
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        }
    }
    Ok(results)
}
