//! `wizreg db-url`: each role's URL connects as that role, so `psql "$(wizreg db-url …)"` is
//! never more privileged than asked.

use std::process::Command;

use tokio_postgres::NoTls;

use crate::harness::TestApp;

async fn current_user(url: &str) -> String {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect with the printed URL");
    tokio::spawn(connection);
    client
        .query_one("select current_user::text", &[])
        .await
        .expect("whoami")
        .get(0)
}

#[tokio::test]
async fn each_printed_url_connects_as_its_own_role() {
    let app = TestApp::new().await;
    for (role, expected) in [
        ("app", "wizreg_app"),
        ("platform", "wizreg_platform"),
        ("admin", "postgres"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_wizreg"))
            .args(["db-url", "--role", role])
            .envs(app.database_env())
            .output()
            .expect("run wizreg db-url");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let url = String::from_utf8(output.stdout).expect("utf-8");
        assert_eq!(current_user(url.trim()).await, expected, "--role {role}");
    }
}
