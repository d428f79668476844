//! `wizreg tenant suspend|resume|delete|export|import` through the real binary, against the
//! test's database (DATABASE_URL / WIZREG_ADMIN_DATABASE_URL point at it).

use std::process::{Command, Output, Stdio};

use axum::http::StatusCode;
use serde_json::json;

use crate::harness::TestApp;
use crate::tenant_suspension::wait_for_status;

/// Runs `wizreg <args>` against `app`'s database with standard input closed (not a terminal).
async fn wizreg(app: &TestApp, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wizreg"));
    command
        .args(args)
        .envs(app.database_env())
        .env_remove("WIZREG_ADMIN_TOKEN")
        .stdin(Stdio::null());
    tokio::task::spawn_blocking(move || command.output().expect("run wizreg"))
        .await
        .expect("wizreg finished")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// One line on stderr, a non-zero exit: how every command fails.
fn assert_fails_with(output: &Output, expected: &str) {
    let message = stderr(output);
    assert!(!output.status.success(), "should fail: {message}");
    assert_eq!(message.trim_end().lines().count(), 1, "one line: {message}");
    assert!(
        message.contains(expected),
        "{message:?} should say {expected:?}"
    );
}

#[tokio::test]
async fn suspend_and_resume_from_the_shell_reach_a_running_server() {
    let app = TestApp::with_config(|config| config.tenant_cache_ttl_secs = 3600).await;
    assert_eq!(
        wait_for_status(&app, &app.router, StatusCode::OK).await,
        StatusCode::OK
    );

    let suspended = wizreg(&app, &["tenant", "suspend", "hogwarts"]).await;
    assert!(suspended.status.success(), "{}", stderr(&suspended));
    assert_eq!(
        wait_for_status(&app, &app.router, StatusCode::FORBIDDEN).await,
        StatusCode::FORBIDDEN
    );

    let resumed = wizreg(&app, &["tenant", "resume", "hogwarts"]).await;
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(
        wait_for_status(&app, &app.router, StatusCode::OK).await,
        StatusCode::OK
    );

    assert_fails_with(
        &wizreg(&app, &["tenant", "suspend", "durmstrang"]).await,
        "no school 'durmstrang'",
    );
    assert_fails_with(
        &wizreg(&app, &["tenant", "resume", "not a slug"]).await,
        "neither a slug nor a UUID",
    );
}

#[tokio::test]
async fn delete_from_the_shell_needs_yes_without_a_terminal_and_then_removes_the_school() {
    let app = TestApp::new().await;
    app.post("/students", json!({"name": "Harry"}))
        .tenant("hogwarts")
        .send()
        .await;

    let refused = wizreg(&app, &["tenant", "delete", "hogwarts"]).await;
    assert_fails_with(&refused, "--yes");
    assert_eq!(
        app.get("/students").tenant("hogwarts").send().await.status,
        StatusCode::OK
    );

    let deleted = wizreg(&app, &["tenant", "delete", "hogwarts", "--yes"]).await;
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert!(
        stderr(&deleted).contains("deleted school 'hogwarts' and its 1 rows"),
        "{}",
        stderr(&deleted)
    );
    let gone = app.get("/admin/tenants/hogwarts").admin().send().await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_fails_with(
        &wizreg(&app, &["tenant", "delete", "hogwarts", "--yes"]).await,
        "no school",
    );
}

#[tokio::test]
async fn export_and_import_from_the_shell_copy_a_school() {
    let app = TestApp::new().await;
    let house = app
        .post("/houses", json!({"name": "Gryffindor"}))
        .tenant("hogwarts")
        .send()
        .await;
    for name in ["Harry", "Ron"] {
        app.post("/students", json!({"name": name, "house_id": house.id()}))
            .tenant("hogwarts")
            .send()
            .await;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("hogwarts.ndjson");
    let file_arg = file.to_str().expect("UTF-8 path");

    let to_stdout = wizreg(&app, &["tenant", "export", "hogwarts"]).await;
    assert!(to_stdout.status.success(), "{}", stderr(&to_stdout));
    let exported = wizreg(&app, &["tenant", "export", "hogwarts", "-o", file_arg]).await;
    assert!(exported.status.success(), "{}", stderr(&exported));
    let written = std::fs::read(&file).expect("export file");
    assert_eq!(
        written, to_stdout.stdout,
        "-o and stdout hold the same export"
    );
    let (_, _, api_export) = app
        .get("/admin/tenants/hogwarts/export")
        .admin()
        .send_raw()
        .await;
    assert_eq!(written, api_export, "the CLI writes what the API streams");

    // Into a new school on the same deployment: the id is taken, so the copy gets a new one.
    let imported = wizreg(
        &app,
        &["tenant", "import", file_arg, "--slug", "hogwarts-copy"],
    )
    .await;
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(
        stderr(&imported).contains("imported 1 houses and 2 students"),
        "{}",
        stderr(&imported)
    );
    let copy = app.get("/students").tenant("hogwarts-copy").send().await;
    assert_eq!(copy.body.as_array().map(Vec::len), Some(2));
    let copy_export = wizreg(&app, &["tenant", "export", "hogwarts-copy"]).await;
    assert_eq!(
        after_first_line(&copy_export.stdout),
        after_first_line(&written)
    );

    // Into a school that has data: refused, and nothing changes.
    assert_fails_with(
        &wizreg(&app, &["tenant", "import", file_arg, "--slug", "hogwarts"]).await,
        "empty school",
    );
    assert_fails_with(
        &wizreg(&app, &["tenant", "export", "durmstrang"]).await,
        "no school",
    );
}

#[tokio::test]
async fn a_failed_import_from_the_shell_names_the_line_and_leaves_no_school_behind() {
    let app = TestApp::new().await;
    app.post("/students", json!({"name": "Harry"}))
        .tenant("hogwarts")
        .send()
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("broken.ndjson");
    let exported = wizreg(&app, &["tenant", "export", "hogwarts"]).await.stdout;
    let mut lines: Vec<&[u8]> = exported.split(|b| *b == b'\n').collect();
    lines.insert(2, b"{\"type\":\"student\"}");
    std::fs::write(&file, lines.join(&b'\n')).expect("write");

    let failed = wizreg(
        &app,
        &[
            "tenant",
            "import",
            file.to_str().expect("path"),
            "--slug",
            "new-school",
        ],
    )
    .await;
    assert_fails_with(&failed, "line 3");
    let missing = app.get("/admin/tenants/new-school").admin().send().await;
    assert_eq!(
        missing.status,
        StatusCode::NOT_FOUND,
        "the school made for the import is gone again"
    );
    assert_fails_with(
        &wizreg(&app, &["tenant", "import", "/nonexistent.ndjson"]).await,
        "cannot read",
    );
}

fn after_first_line(bytes: &[u8]) -> &[u8] {
    let cut = bytes
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |i| i + 1);
    &bytes[cut..]
}

/// Runs `wizreg <args>` on a pseudo-terminal (through `script`), typing `typed` into it.
async fn wizreg_on_a_terminal(app: &TestApp, args: &str, typed: &str) -> Output {
    use std::io::Write;
    let line = format!("{} {args}", env!("CARGO_BIN_EXE_wizreg"));
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .envs(app.database_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(typed.as_bytes()).expect("type");
    drop(stdin);
    tokio::task::spawn_blocking(move || child.wait_with_output().expect("run"))
        .await
        .expect("finished")
}

#[tokio::test]
async fn delete_on_a_terminal_asks_for_the_slug_and_goes_ahead_only_when_it_is_typed() {
    let app = TestApp::new().await;
    let wrong = wizreg_on_a_terminal(&app, "tenant delete hogwarts", "hogwart\n").await;
    let said = String::from_utf8_lossy(&wrong.stdout).into_owned();
    assert!(!wrong.status.success(), "{said}");
    assert!(said.contains("Type its slug to confirm"), "{said}");
    assert!(said.contains("not confirmed"), "{said}");
    assert_eq!(
        app.get("/admin/tenants/hogwarts")
            .admin()
            .send()
            .await
            .status,
        StatusCode::OK
    );

    let typed = wizreg_on_a_terminal(&app, "tenant delete hogwarts", "hogwarts\n").await;
    let said = String::from_utf8_lossy(&typed.stdout).into_owned();
    assert!(typed.status.success(), "{said}");
    assert_eq!(
        app.get("/admin/tenants/hogwarts")
            .admin()
            .send()
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn create_from_the_shell_refuses_a_name_the_api_would_refuse_and_stores_nothing() {
    let app = TestApp::new().await;

    let refused = wizreg(&app, &["tenant", "create", "durmstrang", "--name", "   "]).await;

    assert_fails_with(&refused, "the name must not be empty");
    let missing = app.get("/admin/tenants/durmstrang").admin().send().await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let created = wizreg(
        &app,
        &["tenant", "create", "durmstrang", "--name", " Durmstrang "],
    )
    .await;
    assert!(created.status.success(), "{}", stderr(&created));
    let stored = app.get("/admin/tenants/durmstrang").admin().send().await;
    assert_eq!(
        stored.body["name"], "Durmstrang",
        "trimmed like the API does"
    );
}
