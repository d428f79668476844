//! The real `wizreg` binary against the TLS-only server with `sslmode=verify-full`: migrations,
//! the tenant CLI, and `serve` (its pool, platform connections and notification listeners),
//! every session encrypted; and a certificate problem that stops it with one line.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tenancy::embedded::SUPERUSER;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::connect;
use super::server::{Authority, TlsPostgres};
use crate::harness::{free_port, scratch_dir};
use crate::lifecycle::{read_response, request_head};

fn wizreg(runtime: &str, admin: &str, data_dir: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wizreg"));
    command
        .args(args)
        .env("DATABASE_URL", runtime)
        .env("WIZREG_ADMIN_DATABASE_URL", admin)
        .env("WIZREG_DATA_DIR", data_dir)
        .env_remove("WIZREG_AUTH")
        .env_remove("WIZREG_ADMIN_TOKEN")
        .stdin(Stdio::null());
    command
}

async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("run wizreg"))
        .await
        .expect("finished")
}

async fn request(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
) -> Option<(u16, serde_json::Value)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let head = request_head(method, path, body.len());
    stream
        .write_all(format!("{head}{body}").as_bytes())
        .await
        .ok()?;
    read_response(&mut stream).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_migrates_manages_tenants_and_serves_over_verify_full() {
    let server = TlsPostgres::start().await;
    let dir = scratch_dir("wizreg-tls-bin-");
    let runtime = server.verify_full_url("app_login");
    let admin = server.verify_full_url(SUPERUSER);

    let migrated = run(wizreg(&runtime, &admin, dir.path(), &["migrate"])).await;
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let created = run(wizreg(
        &runtime,
        &admin,
        dir.path(),
        &["tenant", "create", "hogwarts"],
    ))
    .await;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let listed = run(wizreg(&runtime, &admin, dir.path(), &["tenant", "list"])).await;
    assert!(String::from_utf8_lossy(&listed.stdout).contains("hogwarts"));

    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut serve = wizreg(&runtime, &admin, dir.path(), &["serve", "--bind", &bind])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    while request(port, "GET", "/healthz", "").await.map(|r| r.0) != Some(200) {
        assert!(
            Instant::now() < deadline,
            "wizreg serve did not start over TLS"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let created = request(port, "POST", "/students", r#"{"name": "Harry Potter"}"#).await;
    assert_eq!(created.map(|r| r.0), Some(201));
    let listed = request(port, "GET", "/students", "").await.expect("list");
    assert_eq!(listed.0, 200);
    assert_eq!(listed.1[0]["name"], "Harry Potter");

    // Every session the server holds, the listeners included, is encrypted.
    let observer = connect(&admin).await.expect("observer");
    let sessions = observer
        .query(
            "select a.application_name, s.ssl from pg_stat_activity a join pg_stat_ssl s using (pid)
             where a.datname = 'wizreg' and a.backend_type = 'client backend' and a.pid <> pg_backend_pid()",
            &[],
        )
        .await
        .expect("sessions");
    let names: Vec<String> = sessions.iter().map(|row| row.get(0)).collect();
    assert!(names.iter().any(|n| n == "wizreg-listener"), "{names:?}");
    assert!(names.iter().any(|n| n == "wizreg"), "{names:?}");
    assert!(
        sessions.iter().all(|row| row.get::<_, bool>(1)),
        "a plain session: {names:?}"
    );

    kill(Pid::from_raw(serve.id() as i32), Signal::SIGTERM).expect("stop");
    let stopped = tokio::task::spawn_blocking(move || serve.wait().expect("wait"))
        .await
        .expect("waited");
    assert!(stopped.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_problem_stops_the_binary_with_one_line_naming_the_server() {
    let server = TlsPostgres::start().await;
    let dir = scratch_dir("wizreg-tls-bad-");
    let wrong_ca = server.file("wrong-ca.pem", &Authority::new("another CA").pem);
    let url = server.url(
        SUPERUSER,
        "localhost",
        "wizreg",
        &format!("sslmode=verify-full&sslrootcert={}", wrong_ca.display()),
    );
    let output = run(wizreg(&url, &url, dir.path(), &["migrate"])).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("localhost:{}", server.port)),
        "{stderr}"
    );
    assert!(
        stderr.contains("UnknownIssuer") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(!stderr.contains(super::server::PASSWORD), "{stderr}");
}
