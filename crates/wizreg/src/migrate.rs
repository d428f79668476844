//! Versioned migrations, embedded in the binary and applied in order, each in its own
//! transaction as the owner role. Safe to run concurrently (an advisory lock serialises
//! runners) and idempotent. On a Citus coordinator the distribution step ([`crate::citus`])
//! follows, every time.

use tokio_postgres::Client;

use crate::error::StartupError;

const BOOTSTRAP: &str = include_str!("../migrations/bootstrap.sql");

/// `(version, name, sql)`, in order. Append only: a shipped migration never changes.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "tenants_houses_students",
        include_str!("../migrations/0001_tenants_houses_students.sql"),
    ),
    (
        2,
        "tenant_lifecycle",
        include_str!("../migrations/0002_tenant_lifecycle.sql"),
    ),
    (
        3,
        "api_keys",
        include_str!("../migrations/0003_api_keys.sql"),
    ),
    (
        4,
        "limits_and_idempotency",
        include_str!("../migrations/0004_limits_and_idempotency.sql"),
    ),
    (
        5,
        "cheaper_enter_tenant",
        include_str!("../migrations/0005_cheaper_enter_tenant.sql"),
    ),
    (
        6,
        "slug_not_uuid",
        include_str!("../migrations/0006_slug_not_uuid.sql"),
    ),
];

/// Creates the roles and schema if missing, then applies pending migrations. Returns how many
/// were applied. `runtime_user` (the DATABASE_URL user) is made a member of the runtime role.
pub async fn run(admin: &mut Client, runtime_user: &str) -> Result<usize, StartupError> {
    let fail = |step: &'static str| move |e: tokio_postgres::Error| StartupError::database(step, e);
    admin
        .execute("select pg_advisory_lock(hashtext('wizreg.migrate'))", &[])
        .await
        .map_err(fail("lock"))?;
    let result = apply(admin, runtime_user).await;
    let unlocked = admin
        .execute("select pg_advisory_unlock(hashtext('wizreg.migrate'))", &[])
        .await;
    // A failed migration's own error comes first: after a lost connection the unlock fails
    // too, and its error would hide the one that says what went wrong.
    let applied = result?;
    unlocked.map_err(fail("unlock"))?;
    Ok(applied)
}

async fn apply(admin: &mut Client, runtime_user: &str) -> Result<usize, StartupError> {
    let fail = |step: &'static str| move |e: tokio_postgres::Error| StartupError::database(step, e);
    let citus = crate::citus::is_citus(admin).await?;
    if citus {
        crate::citus::roles_on_workers(admin, runtime_user).await?;
    }
    admin
        .batch_execute(BOOTSTRAP)
        .await
        .map_err(fail("bootstrap roles and schema"))?;
    if citus {
        crate::citus::prepare_owner(admin).await?;
    }
    if runtime_user != "wizreg_app" {
        let grant = format!(
            "grant wizreg_app to \"{}\"",
            runtime_user.replace('"', "\"\"")
        );
        admin
            .batch_execute(&grant)
            .await
            .map_err(fail("grant the runtime role"))?;
    }
    let applied: Vec<i32> = admin
        .query("select version from wizreg.schema_migrations", &[])
        .await
        .map_err(fail("read applied migrations"))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut count = 0;
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| !applied.contains(v)) {
        let tx = admin.transaction().await.map_err(fail("begin migration"))?;
        tx.batch_execute("set local role wizreg_owner")
            .await
            .map_err(fail("become owner"))?;
        tx.batch_execute(sql)
            .await
            .map_err(fail("apply migration"))?;
        tx.execute(
            "insert into wizreg.schema_migrations (version, name) values ($1, $2)",
            &[version, name],
        )
        .await
        .map_err(fail("record migration"))?;
        tx.commit().await.map_err(fail("commit migration"))?;
        tracing::info!(version, name, "applied migration");
        count += 1;
    }
    if citus {
        let done = crate::citus::distribute(admin, runtime_user).await?;
        if done.reference_created || !done.tables_distributed.is_empty() {
            tracing::info!(tables = ?done.tables_distributed, "distributed the schema on Citus");
        }
    }
    Ok(count)
}
