//! `wizreg audit` on a clean database and through the real binary (exit codes 0, 1 and 2).
//! Each kind of misconfiguration has its own test in `audit_findings/`.

use tenancy::audit::{AuditReport, FindingKind};
use tenancy::embedded;

use crate::harness::{cluster_socket, TestApp};

/// Audits the test database for the default runtime role.
pub async fn audit(app: &TestApp) -> AuditReport {
    wizreg::audit::inspect(&app.database)
        .await
        .expect("the audit runs")
}

/// Audits the test database as if `role` were the runtime role (role attributes are
/// cluster-wide, so tests that break a role break one of their own).
pub async fn audit_as(app: &TestApp, role: &str) -> AuditReport {
    let admin = app.privileged().await;
    tenancy::audit::run(&admin, &wizreg::audit::target(role))
        .await
        .expect("the audit runs")
}

#[tokio::test]
async fn a_freshly_migrated_database_passes_the_audit_after_inspecting_every_tenant_table() {
    let app = TestApp::new().await;
    let report = audit(&app).await;
    let findings: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
    assert!(report.is_clean(), "findings: {findings:#?}");

    let seen = &report.inspected;
    for table in ["wizreg.house", "wizreg.student"] {
        assert!(
            seen.tenant_tables.iter().any(|t| t == table),
            "{table} inspected"
        );
    }
    // Each tenant table has its one policy, a primary key, and student→house is a foreign key.
    assert_eq!(seen.policies, seen.tenant_tables.len());
    assert!(seen.unique_keys >= 4, "{seen:?}");
    assert!(seen.foreign_keys >= 1, "{seen:?}");
    assert!(seen.schemas >= 2, "{seen:?}");
    assert!(seen.tables_checked_for_grants >= seen.tenant_tables.len());
    assert!(seen.server_version >= 130_000);
}

#[tokio::test]
async fn an_audit_of_a_schema_without_tenant_tables_is_not_clean() {
    let app = TestApp::new().await;
    let admin = app.privileged().await;
    let mut target = wizreg::audit::target("wizreg_app");
    target.schema = "nowhere".into();
    let report = tenancy::audit::run(&admin, &target)
        .await
        .expect("the audit runs");
    assert!(report.has(FindingKind::NoTenantTables));
}

/// The real binary with no environment but `PATH` and the two database URLs, so nothing from
/// the test's own environment changes what it does.
fn wizreg_on(database_url: &str, admin_url: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_wizreg"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("WIZREG_ADMIN_DATABASE_URL", admin_url);
    command
}

async fn run_binary(database_url: &str, admin_url: &str) -> (i32, String, String) {
    let output = wizreg_on(database_url, admin_url)
        .arg("audit")
        .output()
        .await
        .expect("run wizreg audit");
    (
        output.status.code().expect("exited"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_audit_command_exits_0_when_safe_1_with_findings_and_2_when_it_cannot_check_and_serve_refuses_findings(
) {
    let app = TestApp::new().await;
    let runtime = embedded::socket_url(cluster_socket(), "wizreg_app", &app.dbname);
    let admin = embedded::socket_url(cluster_socket(), embedded::SUPERUSER, &app.dbname);

    let (code, stdout, stderr) = run_binary(&runtime, &admin).await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("0 finding(s)"), "{stderr}");

    app.privileged()
        .await
        .batch_execute("alter table wizreg.house no force row level security")
        .await
        .expect("break the database");
    let (code, stdout, _) = run_binary(&runtime, &admin).await;
    assert_eq!(code, 1, "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one finding, one line: {stdout}");
    assert!(lines[0].starts_with("rls_not_forced table wizreg.house:"));
    assert!(lines[0].contains("fix: alter table wizreg.house force row level security"));

    // `serve` runs the same audit at start and refuses to serve, listing the finding.
    let mut serve = wizreg_on(&runtime, &admin)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start wizreg serve");
    let mut stderr = String::new();
    let pipe = serve.stderr.take().expect("stderr");
    let read = async {
        use tokio::io::AsyncReadExt;
        let mut pipe = pipe;
        pipe.read_to_string(&mut stderr).await.expect("read");
        serve.wait().await.expect("exit")
    };
    let status = tokio::time::timeout(std::time::Duration::from_secs(60), read)
        .await
        .expect("serve refused to start instead of serving");
    assert!(!status.success());
    assert!(stderr.contains("refusing to serve"), "{stderr}");
    assert!(
        stderr.contains("rls_not_forced table wizreg.house"),
        "{stderr}"
    );

    let nowhere = embedded::socket_url(
        std::path::Path::new("/nonexistent/socket"),
        "wizreg_app",
        "wizreg",
    );
    let (code, _, stderr) = run_binary(&nowhere, &nowhere).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("could not check"), "{stderr}");
}
