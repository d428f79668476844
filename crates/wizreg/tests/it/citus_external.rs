//! An operator's own Citus cluster, driven by the real binary with `DATABASE_URL` and
//! `WIZREG_ADMIN_DATABASE_URL` only: a database on the test cluster that Wizreg did not set up
//! (extension and nodes in place, nothing migrated, a runtime login of the test's own), then
//! `wizreg migrate` (twice), `wizreg tenant create`, `wizreg audit` and `wizreg serve` with the
//! walk-through over HTTP, exactly as docs/scale-out.md tells an operator to run them.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};
use tenancy::embedded::{socket_url, SUPERUSER};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_postgres::{Client, NoTls};

use crate::harness::{free_port, scratch_dir, unmigrated_citus_database};
use crate::lifecycle::{read_response, request_head_for};

/// The operator's environment: the two URLs, and nothing that would start an embedded cluster.
struct Operator {
    runtime_url: String,
    admin_url: String,
    data_dir: tempfile::TempDir,
}

impl Operator {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wizreg"));
        command
            .args(args)
            .env("DATABASE_URL", &self.runtime_url)
            .env("WIZREG_ADMIN_DATABASE_URL", &self.admin_url)
            // Never used with the URLs set; pointed at an empty directory to prove it.
            .env("WIZREG_DATA_DIR", self.data_dir.path())
            .env_remove("WIZREG_CITUS_WORKERS")
            .env_remove("WIZREG_AUTH")
            .env_remove("WIZREG_ADMIN_TOKEN")
            .stdin(Stdio::null());
        command
    }

    /// Runs `wizreg <args>` to the end and asserts it succeeded.
    async fn run(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        let output = tokio::task::spawn_blocking(move || command.output().expect("run wizreg"))
            .await
            .expect("wizreg finished");
        assert!(
            output.status.success(),
            "wizreg {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
}

/// How Citus holds each table of the schema: `(table, type, distribution column, colocation)`.
async fn distribution(admin: &Client) -> Vec<(String, String, String, i32)> {
    admin
        .query(
            "select table_name::text, citus_table_type, distribution_column, colocation_id
             from citus_tables where table_name::text like 'wizreg.%' order by 1",
            &[],
        )
        .await
        .expect("citus_tables")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect()
}

/// Sends one request naming `school` and returns the status and the JSON body.
async fn request(port: u16, school: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to wizreg serve");
    let head = request_head_for(school, method, path, body.len());
    stream
        .write_all(format!("{head}{body}").as_bytes())
        .await
        .expect("send");
    read_response(&mut stream).await.expect("an answer")
}

async fn wait_until_serving(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await {
            let head = request_head_for("hogwarts", "GET", "/healthz", 0);
            if stream.write_all(head.as_bytes()).await.is_ok()
                && read_response(&mut stream).await.map(|r| r.0) == Some(200)
            {
                return;
            }
        }
        assert!(Instant::now() < deadline, "wizreg serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_migrates_audits_and_serves_an_external_citus_coordinator_with_schools_apart() {
    let dbname = format!("external_{}", std::process::id());
    let login = format!("operator_app_{}", std::process::id());
    let socket = unmigrated_citus_database(&dbname).await;
    let (admin, connection) = tokio_postgres::Config::new()
        .host_path(socket)
        .port(5432)
        .user(SUPERUSER)
        .dbname(&dbname)
        .connect(NoTls)
        .await
        .expect("connect to the coordinator");
    tokio::spawn(connection);
    // The operator's runtime login: created on the coordinator, propagated by Citus.
    admin
        .batch_execute(&format!("create role {login} login"))
        .await
        .expect("create the runtime login");
    let operator = Operator {
        runtime_url: socket_url(socket, &login, &dbname),
        admin_url: socket_url(socket, SUPERUSER, &dbname),
        data_dir: scratch_dir("wizreg-external-citus-"),
    };

    operator.run(&["migrate"]).await;
    let distributed = distribution(&admin).await;
    let tenant_tables: Vec<String> = admin
        .query(
            "select c.oid::regclass::text from pg_class c
             join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id'
             where c.relnamespace = 'wizreg'::regnamespace and c.relkind = 'r' order by 1",
            &[],
        )
        .await
        .expect("tenant tables")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(tenant_tables.len() >= 4, "{tenant_tables:?}");
    let colocation = distributed
        .iter()
        .find(|t| t.0 == "wizreg.student")
        .expect("student is a Citus table")
        .3;
    for table in &tenant_tables {
        let expected = (
            table.clone(),
            "distributed".into(),
            "tenant_id".into(),
            colocation,
        );
        assert!(distributed.contains(&expected), "{table}: {distributed:?}");
    }
    assert!(
        distributed
            .iter()
            .any(|t| t.0 == "wizreg.tenant" && t.1 == "reference"),
        "{distributed:?}"
    );
    assert_eq!(
        distributed.len(),
        tenant_tables.len() + 1,
        "{distributed:?}"
    );

    let again = operator.run(&["migrate"]).await;
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        "migrations applied: 0"
    );
    assert_eq!(
        distribution(&admin).await,
        distributed,
        "a second migrate changes nothing"
    );

    for school in ["hogwarts", "castelobruxo"] {
        operator.run(&["tenant", "create", school]).await;
    }
    let audited = operator.run(&["audit"]).await;
    let report = String::from_utf8_lossy(&audited.stderr);
    assert!(report.contains("0 finding(s)"), "{report}");
    assert!(
        report.contains("checked the distribution and") && !report.contains(" and 0 shard"),
        "the Citus checks ran on the placements: {report}"
    );

    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut serve = operator
        .command(&["serve", "--bind", &bind])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wizreg serve");
    wait_until_serving(port).await;

    let students = [
        ("hogwarts", "Harry Potter"),
        ("hogwarts", "Hermine Granger"),
        ("castelobruxo", "Alanza Alves"),
    ];
    let mut created = Vec::new();
    for (school, name) in students {
        let body = json!({ "name": name }).to_string();
        let (status, student) = request(port, school, "POST", "/students", &body).await;
        assert_eq!(status, 201, "{student}");
        created.push((school, student));
    }
    let ids: Vec<(String, String)> = admin
        .query("select slug, id::text from wizreg.tenant order by 1", &[])
        .await
        .expect("schools")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    for (school, id) in &ids {
        let (status, listed) = request(port, school, "GET", "/students", "").await;
        assert_eq!(status, 200, "{listed}");
        let rows = listed.as_array().expect("a list");
        let foreign = rows
            .iter()
            .filter(|r| r["tenant_id"] != id.as_str())
            .count();
        assert_eq!(foreign, 0, "{school} sees another school's rows: {rows:?}");
        let own = students.iter().filter(|(s, _)| s == school).count();
        assert_eq!(rows.len(), own, "{school}: {rows:?}");
    }
    let (_, alanza) = &created[2];
    let path = format!("/students/{}", alanza["id"].as_str().expect("an id"));
    let (status, reply) = request(port, "hogwarts", "GET", &path, "").await;
    assert_eq!(
        status, 404,
        "another school's student is not found: {reply}"
    );
    assert_eq!(request(port, "castelobruxo", "GET", &path, "").await.0, 200);

    kill(Pid::from_raw(serve.id() as i32), Signal::SIGTERM).expect("stop wizreg serve");
    let stopped = tokio::task::spawn_blocking(move || serve.wait().expect("wait"))
        .await
        .expect("waited");
    assert!(stopped.success(), "wizreg serve stopped cleanly: {stopped}");
    assert!(
        std::fs::read_dir(operator.data_dir.path())
            .expect("data dir")
            .next()
            .is_none(),
        "no embedded cluster was started"
    );
}
