//! `wizreg key create|list|revoke` through the real binary, against the test's database.

use std::time::Duration;

use axum::http::StatusCode;
use wizreg::config::AuthMode;

use crate::auth_api_keys::bearer;
use crate::harness::{TestApp, KEY_SECRET};

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

async fn wizreg(app: &TestApp, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_wizreg"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("WIZREG_")) {
        command.env_remove(name);
    }
    let output = command
        .args(args)
        .envs(app.database_env())
        .env("WIZREG_KEY_SECRET", KEY_SECRET)
        .output()
        .await
        .expect("run wizreg");
    Output {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test]
async fn keys_made_listed_and_revoked_from_the_shell_work_on_the_server() {
    let app = TestApp::with_config(|c| {
        c.auth = AuthMode::ApiKey;
        c.api_key_cache_ttl_secs = 3600;
    })
    .await;
    let created = wizreg(&app, &["key", "create", "hogwarts"]).await;
    assert!(created.ok, "{}", created.stderr);
    let key = created.stdout.trim().to_owned();
    assert!(key.starts_with("wzk_") && !key.contains('\n'), "{key}");
    let use_key = || {
        app.get("/students")
            .header("authorization", &bearer(&key))
            .send()
    };
    assert_eq!(use_key().await.status, StatusCode::OK);

    let listed = wizreg(&app, &["key", "list", "hogwarts"]).await;
    assert!(listed.ok, "{}", listed.stderr);
    let secret = key.rsplit('_').next().expect("secret");
    assert!(!listed.stdout.contains(secret), "no secret in the list");
    let line = listed.stdout.lines().next().expect("one key");
    assert!(line.ends_with("active"), "{line}");
    let id = line.split('\t').next().expect("id").to_owned();
    assert!(created.stderr.contains(&id), "creation names the key id");

    let wrong_school = wizreg(&app, &["key", "revoke", &id, "--tenant", "castelobruxo"]).await;
    assert!(!wrong_school.ok);
    let revoked = wizreg(&app, &["key", "revoke", &id]).await;
    assert!(revoked.ok, "{}", revoked.stderr);
    assert!(revoked.stdout.contains("hogwarts"), "{}", revoked.stdout);
    let mut status = StatusCode::OK;
    for _ in 0..200 {
        status = use_key().await.status;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the server heard of the revocation"
    );
    let listed = wizreg(&app, &["key", "list", "hogwarts"]).await;
    assert!(listed.stdout.contains("revoked"), "{}", listed.stdout);
}

#[tokio::test]
async fn key_commands_fail_with_one_line_saying_what_to_do() {
    let app = TestApp::new().await;
    for args in [
        &["key", "create", "durmstrang"][..],
        &["key", "list", "no such school"],
        &["key", "revoke", "01a216be-1bed-703f-9664-f318153d89c2"],
        &["key", "revoke", "not-a-uuid"],
    ] {
        let output = wizreg(&app, args).await;
        assert!(!output.ok, "{args:?}");
        let lines: Vec<&str> = output
            .stderr
            .lines()
            .filter(|l| l.starts_with("wizreg:"))
            .collect();
        assert_eq!(lines.len(), 1, "{args:?}: {}", output.stderr);
    }
}
