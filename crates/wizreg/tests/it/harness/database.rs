//! Looking at the database behind the router: every tenant row as a superuser sees it, and a
//! runtime-role transaction entered the way the server enters one for a request.

use tokio_postgres::Client;

use super::TestApp;

/// Every row of both tenant tables, as a superuser sees them (bypassing RLS), in a stable
/// order: compare two snapshots to prove a request changed nothing.
pub async fn snapshot(app: &TestApp) -> Vec<String> {
    let rows = app
        .privileged()
        .await
        .query(
            "select 'student:' || row_to_json(s)::text from wizreg.student s
             union all select 'house:' || row_to_json(h)::text from wizreg.house h order by 1",
            &[],
        )
        .await
        .expect("snapshot");
    rows.iter().map(|r| r.get(0)).collect()
}

/// Opens a transaction on `client` and enters `tenant` in it, as the server does for each
/// request; the caller ends it (commit, rollback or an error).
pub async fn begin_as_tenant(client: &Client, tenant: uuid::Uuid) {
    client.batch_execute("begin").await.expect("begin");
    client
        .execute("select wizreg.enter_tenant($1)", &[&tenant])
        .await
        .expect("enter");
}
