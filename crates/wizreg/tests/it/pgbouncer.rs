//! The concurrency proof again, through PgBouncer in transaction pooling mode with one server
//! connection per database and user: the setup where a session-level tenant would leak from
//! one client to the next, and where named prepared statements break. Wizreg runs with
//! `WIZREG_STATEMENT_MODE=unnamed` there.
//!
//! The test starts its own PgBouncer on a free loopback port, in front of the test cluster's
//! Unix socket. A machine without PgBouncer fails the test (`apt-get install pgbouncer`).

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wizreg::config::StatementModeArg;
use wizreg::database::Database;

use crate::concurrency::{assert_isolated, load_config, run_load};
use crate::harness::{cluster_socket, free_port, scratch_dir, TestApp};

/// A PgBouncer process, stopped when dropped.
struct PgBouncer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pgbouncer_binary() -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/bin"])
        .map(|dir| Path::new(dir).join("pgbouncer"))
        .find(|candidate| candidate.is_file());
    found.expect("pgbouncer is not installed, so the PgBouncer isolation proof cannot run: apt-get install pgbouncer (.ci/run installs it)")
}

/// The `postgres` OS user's uid and gid: PgBouncer refuses to run as root.
fn postgres_user() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    let line = passwd
        .lines()
        .find(|l| l.starts_with("postgres:"))
        .expect("a postgres OS user (the PostgreSQL packages create it)");
    let fields: Vec<&str> = line.split(':').collect();
    (
        fields[2].parse().expect("uid"),
        fields[3].parse().expect("gid"),
    )
}

impl PgBouncer {
    fn start(postgres_socket: &Path) -> Self {
        let binary = pgbouncer_binary();
        let dir = scratch_dir("wizreg-pgbouncer-");
        let port = free_port();
        let ini = dir.path().join("pgbouncer.ini");
        let users = dir.path().join("users.txt");
        let log = dir.path().join("pgbouncer.log");
        std::fs::write(&users, "\"wizreg_app\" \"\"\n\"postgres\" \"\"\n").expect("users");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host={socket} port=5432\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\nauth_type = trust\nauth_file = {users}\npool_mode = transaction\ndefault_pool_size = 1\nmin_pool_size = 0\nreserve_pool_size = 0\nmax_client_conn = 200\nignore_startup_parameters = extra_float_digits,options\nlogfile = {log}\n",
                socket = postgres_socket.display(),
                users = users.display(),
                log = log.display(),
            ),
        )
        .expect("pgbouncer.ini");
        for path in [dir.path(), &ini, &users] {
            let mode = if path.is_dir() { 0o777 } else { 0o644 };
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        let mut command = Command::new(&binary);
        command
            .arg(&ini)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let running_as_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        if running_as_root {
            let (uid, gid) = postgres_user();
            command.uid(uid).gid(gid);
        }
        let mut child = command.spawn().expect("start pgbouncer");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("pgbouncer exited ({status}): {stderr}\n{log}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "pgbouncer did not listen on port {port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrency_proof_holds_through_pgbouncer_in_transaction_mode_with_one_server_connection(
) {
    let mut config = None;
    let app = TestApp::with_config(|c| {
        load_config(c);
        config = Some(c.clone());
    })
    .await;
    let bouncer = PgBouncer::start(cluster_socket());
    let mut config = config.expect("configured");
    config.database_url = Some(format!(
        "postgresql://wizreg_app@127.0.0.1:{}/{}",
        bouncer.port, app.dbname
    ));
    config.statement_mode = StatementModeArg::Unnamed;
    let through_bouncer = Database::open(&config).expect("settings");
    let state = wizreg::serve::app_state(&config, &through_bouncer)
        .await
        .expect("app state through pgbouncer");

    let figures = run_load(&app, state, 5).await;
    assert_isolated("through pgbouncer", &figures);
    let log = bouncer.log();
    assert!(
        !log.contains("prepared statement"),
        "prepared-statement errors through pgbouncer:\n{log}"
    );
    let login = format!("login attempt: db={} user=wizreg_app", app.dbname);
    assert!(
        log.contains(&login),
        "the runtime pool went through pgbouncer: {log}"
    );
}
