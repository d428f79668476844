//! Session state the runtime role *can* create (a session-level tenant, an advisory lock, an
//! open transaction, a stored tenant default) never reaches the next request: the pool's
//! checkout verification discards such a connection, and every tenant transaction overrides it.

use std::sync::atomic::Ordering;

use tenancy::build_pool;
use tenancy::{PgPool, PoolOptions};
use tokio_postgres::error::SqlState;
use wizreg::database::Role;

use super::seeded;
use crate::harness::{begin_as_tenant, on_both_backends, TestApp};

/// A one-connection runtime pool that verifies every checkout, as `WIZREG_VERIFY_CHECKOUT` does.
fn verified_pool(app: &TestApp) -> PgPool {
    let options = PoolOptions {
        max_size: 1,
        verify_on_checkout: Some(wizreg::database::TENANT_SETTING),
        ..PoolOptions::default()
    };
    build_pool(
        app.database.config(Role::App),
        app.database.tls(Role::App),
        options,
    )
}

on_both_backends! {
#[tokio::test]
async fn a_session_level_tenant_lock_or_open_transaction_is_caught_at_checkout_and_never_reused(backend) {
    let app = seeded(backend).await;
    let pool = verified_pool(&app);
    let castelobruxo = app.castelobruxo.id;
    for (state, sql) in [
        (
            "a session-level tenant",
            format!("set wizreg.current_tenant = '{castelobruxo}'"),
        ),
        (
            "a session advisory lock",
            "select pg_advisory_lock(42)".to_owned(),
        ),
        ("an open transaction", "begin".to_owned()),
    ] {
        let conn = pool.get().await.expect("connection");
        // The runtime role may do all three: the SQL is allowed, which is why the pool checks.
        conn.client().batch_execute(&sql).await.expect(&sql);
        let pid: i32 = conn
            .client()
            .query_one("select pg_backend_pid()", &[])
            .await
            .expect("pid")
            .get(0);
        drop(conn);

        let before = pool
            .manager()
            .checkout_stats()
            .violations
            .load(Ordering::Relaxed);
        let next = pool.get().await.expect("a clean connection");
        let next_pid: i32 = next
            .client()
            .query_one("select pg_backend_pid()", &[])
            .await
            .expect("pid")
            .get(0);
        assert_ne!(pid, next_pid, "{state}: the tainted session was discarded");
        let row = next
            .client()
            .query_one("select coalesce(current_setting('wizreg.current_tenant', true), ''), (select count(*) from wizreg.student)", &[])
            .await
            .expect("check");
        assert_eq!(
            (row.get::<_, String>(0), row.get::<_, i64>(1)),
            (String::new(), 0),
            "{state}"
        );
        assert_eq!(
            pool.manager()
                .checkout_stats()
                .violations
                .load(Ordering::Relaxed),
            before + 1,
            "counted once"
        );
        drop(next);
    }
    assert_eq!(
        pool.manager()
            .checkout_stats()
            .violations
            .load(Ordering::Relaxed),
        3
    );
}
}

on_both_backends! {
#[tokio::test]
async fn a_session_level_tenant_is_overridden_inside_every_tenant_transaction(backend) {
    let app = seeded(backend).await;
    let runtime = app.runtime_connection().await;
    let castelobruxo = app.castelobruxo.id;
    runtime
        .batch_execute(&format!("set wizreg.current_tenant = '{castelobruxo}'"))
        .await
        .expect("set");
    begin_as_tenant(&runtime, app.hogwarts.id.as_uuid()).await;
    let rows = runtime
        .query("select tenant_id from wizreg.student", &[])
        .await
        .expect("select");
    runtime.batch_execute("commit").await.expect("commit");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].get::<_, uuid::Uuid>(0),
        app.hogwarts.id.as_uuid(),
        "SET LOCAL wins"
    );
}
}

on_both_backends! {
#[tokio::test]
async fn a_stored_tenant_default_is_refused_to_the_runtime_role_and_caught_when_an_operator_adds_one(backend) {
    let app = seeded(backend).await;
    let store = format!(
        "alter role wizreg_app in database {} set wizreg.current_tenant = '{}'",
        app.dbname, app.castelobruxo.id
    );
    let refused = app
        .runtime_connection()
        .await
        .batch_execute(&store)
        .await
        .expect_err("the runtime role cannot store a default for a custom setting");
    assert_eq!(refused.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));

    // A superuser can: then the audit reports it and a verified pool refuses the new sessions
    // that would start with Castelobruxo's rows visible.
    app.privileged()
        .await
        .batch_execute(&store)
        .await
        .expect("store");
    assert!(crate::audit::audit(&app)
        .await
        .has(tenancy::audit::FindingKind::TenantSettingDefault));
    let pool = verified_pool(&app);
    assert!(
        pool.get().await.is_err(),
        "a session that starts with a tenant is refused"
    );
    let violations = &pool.manager().checkout_stats().violations;
    assert_eq!(violations.load(Ordering::Relaxed), 1);
}
}
