//! Running on Citus: detecting it, and the distribution step that runs after the versioned
//! migrations every time `migrate` runs on a Citus coordinator (idempotent; a plain PostgreSQL
//! never gets here).
//!
//! - `tenant` becomes a reference table (a copy on every node). Its change trigger goes:
//!   triggers on distributed and reference tables fire on the workers, where no server listens
//!   and where a `NOTIFY` cannot even be prepared for two-phase commit; the platform code
//!   announces tenant changes from the coordinator instead ([`crate::tenants`]).
//! - Every tenant table (any table of the schema with a `tenant_id` column, found in the
//!   catalogue, so a table added later is distributed too) is distributed by `tenant_id`,
//!   co-located with the others, so one school's rows of every table live in one shard group.
//!   Foreign keys between tenant tables are dropped while their tables are distributed and
//!   added back; Citus refuses `ON DELETE SET NULL`/`SET DEFAULT` on a key that includes the
//!   distribution column, so those come back without the action (the statements that delete a
//!   parent clear the references themselves).
//! - Policies, `FORCE ROW LEVEL SECURITY` and grants are copied to every shard by Citus.
//! - The runtime role gets `citus.propagate_set_commands = 'local'`, so `enter_tenant`'s
//!   `SET LOCAL` reaches the workers inside a tenant transaction, and `enter_tenant` is (again)
//!   the plpgsql `SET LOCAL` form: a `set_config()` call never reaches a worker.
//!
//! - The platform role may read Citus's per-school statistics on every node (for `/metrics`,
//!   [`crate::citus_stats`]).
//!
//! All of it but that grant runs in one transaction: a failure leaves the database as it was.

use std::collections::HashMap;

use tokio_postgres::{Client, Row, Transaction};

use crate::error::StartupError;

/// Whether the database this client is connected to has the Citus extension.
pub async fn is_citus(client: &Client) -> Result<bool, StartupError> {
    client
        .query_one(
            "select exists (select from pg_extension where extname = 'citus')",
            &[],
        )
        .await
        .map(|row| row.get(0))
        .map_err(|e| StartupError::database("look for the citus extension", e))
}

/// Before the versioned migrations: Citus runs a DDL statement on every worker over a
/// connection made as the *current* role, so the owner role, which the migrations act as,
/// must be able to log in (it still has no password: how it authenticates to the workers is
/// the cluster's `pg_hba.conf`, or `pg_dist_authinfo`).
pub async fn prepare_owner(admin: &Client) -> Result<(), StartupError> {
    admin
        .batch_execute(
            "do $$ begin
               if not (select rolcanlogin from pg_roles where rolname = 'wizreg_owner') then
                 alter role wizreg_owner login;
               end if;
             end $$",
        )
        .await
        .map_err(|e| StartupError::database("let the owner role reach the workers", e))
}

/// Before anything else: our roles, when they are older than the extension (a single-node
/// deployment turned into a coordinator), exist on the coordinator only, and Citus propagates
/// only roles created after it. Every DDL statement naming them would then fail on the
/// workers, and no session could log in there as them, so they are created on the workers
/// (with the same login attribute; membership and settings follow through Citus from then on).
pub async fn roles_on_workers(admin: &Client, runtime_user: &str) -> Result<(), StartupError> {
    // Each worker creates the roles as its own, local objects: with DDL propagation on, a
    // worker that holds Citus metadata hands `CREATE ROLE` on to the other nodes, which
    // deadlocks with this very call. Each worker's row is checked: a worker left without the
    // roles would surface later as "role does not exist" from an unrelated statement.
    let rows = admin
        .query(
            "select w.nodename, w.nodeport, w.success, w.result
             from (select 'begin; set local citus.enable_ddl_propagation to off; '
                          || string_agg(format(
                               'do $r$ begin if not exists (select from pg_roles where rolname = %L) then create role %I %s; end if; end $r$',
                               rolname, rolname, case when rolcanlogin then 'login' else 'nologin' end), '; ')
                          || '; commit' as command
                   from pg_roles
                   where rolname in ('wizreg_owner', 'wizreg_app', 'wizreg_platform', $1)
                   having count(*) > 0) roles,
                  run_command_on_workers(roles.command) w",
            &[&runtime_user],
        )
        .await
        .map_err(|e| StartupError::database("create the roles on the workers", e))?;
    every_worker_succeeded(&rows, "create the roles")
}

/// `run_command_on_workers` reports a worker's failure in its result rows, not as an error.
/// `rows` are its `nodename, nodeport, success, result`: the first failed one becomes an
/// error naming the worker and what it answered.
pub fn every_worker_succeeded(rows: &[Row], action: &str) -> Result<(), StartupError> {
    match rows.iter().find(|row| !row.get::<_, bool>(2)) {
        None => Ok(()),
        Some(row) => {
            let (node, port, reason): (String, i32, String) = (row.get(0), row.get(1), row.get(3));
            Err(StartupError::Failed(format!(
                "could not {action} on the Citus worker {node}:{port}: {reason}"
            )))
        }
    }
}

/// Every table of the schema with a `tenant_id` column.
const TENANT_TABLES: &str = "select c.oid::regclass::text from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
    where n.nspname = 'wizreg' and c.relkind in ('r', 'p') order by c.relname";

/// Foreign keys from one of `$1` to one of `$1` where either side is in `$2`.
const FOREIGN_KEYS: &str =
    "select conrelid::regclass::text, conname::text, pg_get_constraintdef(oid)
    from pg_constraint where contype = 'f'
      and conrelid::regclass::text = any($1) and confrelid::regclass::text = any($1)
      and (conrelid::regclass::text = any($2) or confrelid::regclass::text = any($2))
    order by 1, 2";

/// The plpgsql `enter_tenant` (as migration 0004 made it): `SET LOCAL`, which Citus forwards
/// to the workers, and the school's own statement timeout.
const ENTER_TENANT: &str = include_str!("../migrations/citus_enter_tenant.sql");

/// What the step changed, for the log.
#[derive(Debug, Default)]
pub struct Distributed {
    pub reference_created: bool,
    pub tables_distributed: Vec<String>,
}

/// Distributes the schema (see the module documentation). `runtime_user` is the
/// `DATABASE_URL` user, which gets the `SET` propagation setting too (role settings are not
/// inherited through membership).
pub async fn distribute(
    admin: &mut Client,
    runtime_user: &str,
) -> Result<Distributed, StartupError> {
    let fail = |step: &'static str| move |e: tokio_postgres::Error| StartupError::database(step, e);
    let tx = admin
        .transaction()
        .await
        .map_err(fail("begin distributing"))?;
    let mut done = Distributed::default();
    let tables: Vec<String> = tx
        .query(TENANT_TABLES, &[])
        .await
        .map_err(fail("find the tenant tables"))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let placed: HashMap<String, String> = tx
        .query(
            "select logicalrelid::regclass::text, partmethod::text from pg_dist_partition",
            &[],
        )
        .await
        .map_err(fail("read the distribution"))?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();

    if !placed.contains_key("wizreg.tenant") {
        make_reference_table(&tx).await?;
        done.reference_created = true;
    }
    let pending: Vec<String> = tables
        .iter()
        .filter(|t| !placed.contains_key(*t))
        .cloned()
        .collect();
    if !pending.is_empty() {
        distribute_tables(&tx, &tables, &pending, &placed).await?;
    }
    // Distributing a populated table copies its rows to the shards and leaves the originals
    // hidden in the coordinator's own table: drop them.
    let mut copied = pending.clone();
    if done.reference_created {
        copied.push("wizreg.tenant".to_owned());
    }
    for table in &copied {
        tx.execute(
            "select truncate_local_data_after_distributing_table($1::text::regclass)",
            &[table],
        )
        .await
        .map_err(fail("drop the local copy of distributed data"))?;
    }
    done.tables_distributed = pending;
    // Tables carry their grants to their shards, but the schema reached the workers as a
    // bare dependency when its first table was distributed: grants made on it before the
    // workers were there (a single-node deployment turned coordinator) must be given again.
    tx.batch_execute("grant usage on schema wizreg to wizreg_app, wizreg_platform")
        .await
        .map_err(fail("grant the schema on the workers"))?;
    set_propagation(&tx, runtime_user).await?;
    let current = tx
        .query_opt(
            "select p.prosrc from pg_proc p join pg_language l on l.oid = p.prolang
             where p.oid = 'wizreg.enter_tenant(uuid)'::regprocedure and l.lanname = 'plpgsql'",
            &[],
        )
        .await
        .map_err(fail("read enter_tenant"))?
        .map(|row| row.get::<_, String>(0));
    if !current.is_some_and(|src| ENTER_TENANT.contains(src.trim())) {
        tx.batch_execute(ENTER_TENANT)
            .await
            .map_err(fail("make enter_tenant the SET LOCAL form"))?;
    }
    tx.commit().await.map_err(fail("commit the distribution"))?;
    crate::citus_stats::grant_to_platform(admin).await?;
    Ok(done)
}

async fn make_reference_table(tx: &Transaction<'_>) -> Result<(), StartupError> {
    let fail = |step: &'static str| move |e: tokio_postgres::Error| StartupError::database(step, e);
    tx.batch_execute("drop trigger if exists tenant_changed on wizreg.tenant")
        .await
        .map_err(fail("drop the tenant change trigger"))?;
    // Only the set_config form of enter_tenant reads the mark this trigger sets; the SET LOCAL
    // form installed on Citus looks the school's statement timeout up every time.
    tx.batch_execute("drop trigger if exists tenant_statement_timeout_override on wizreg.tenant")
        .await
        .map_err(fail("drop the statement timeout override trigger"))?;
    let others: Vec<String> = tx
        .query(
            "select tgname::text from pg_trigger where tgrelid = 'wizreg.tenant'::regclass and not tgisinternal",
            &[],
        )
        .await
        .map_err(fail("look for triggers on the tenant table"))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if !others.is_empty() {
        return Err(StartupError::Failed(format!(
            "cannot make wizreg.tenant a Citus reference table: it has triggers ({}), which would fire on the workers; drop them",
            others.join(", ")
        )));
    }
    tx.batch_execute("select create_reference_table('wizreg.tenant')")
        .await
        .map_err(fail("make the tenant table a reference table"))
}

async fn distribute_tables(
    tx: &Transaction<'_>,
    tables: &[String],
    pending: &[String],
    placed: &HashMap<String, String>,
) -> Result<(), StartupError> {
    let fail = |step: &'static str| move |e: tokio_postgres::Error| StartupError::database(step, e);
    // A local table may not reference a distributed one nor the other way round, so the keys
    // between tenant tables wait until every table is distributed.
    let keys: Vec<(String, String, String)> = tx
        .query(FOREIGN_KEYS, &[&tables, &pending])
        .await
        .map_err(fail("read the foreign keys between tenant tables"))?
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    for (table, name, _) in &keys {
        tx.batch_execute(&format!(
            "alter table {table} drop constraint {}",
            quote_ident(name)
        ))
        .await
        .map_err(fail("drop a foreign key before distributing"))?;
    }
    let mut anchor = tables
        .iter()
        .find(|t| placed.get(*t).is_some_and(|method| method == "h"))
        .cloned();
    for table in pending {
        match &anchor {
            Some(anchor) => tx
                .execute(
                    "select create_distributed_table($1::text::regclass, 'tenant_id', colocate_with => $2)",
                    &[table, anchor],
                )
                .await
                .map_err(fail("distribute a tenant table"))?,
            None => tx
                .execute("select create_distributed_table($1::text::regclass, 'tenant_id')", &[table])
                .await
                .map_err(fail("distribute a tenant table"))?,
        };
        tracing::info!(table, "distributed by tenant_id");
        anchor.get_or_insert_with(|| table.clone());
    }
    for (table, name, definition) in &keys {
        let definition = without_set_actions(definition);
        tx.batch_execute(&format!(
            "alter table {table} add constraint {} {definition}",
            quote_ident(name)
        ))
        .await
        .map_err(fail("add a foreign key back after distributing"))?;
    }
    Ok(())
}

/// `citus.propagate_set_commands = 'local'` for the runtime role and the `DATABASE_URL` user.
async fn set_propagation(tx: &Transaction<'_>, runtime_user: &str) -> Result<(), StartupError> {
    let fail = |step: &'static str| move |e: tokio_postgres::Error| StartupError::database(step, e);
    let mut roles = vec![crate::database::RUNTIME_ROLE.to_owned()];
    if runtime_user != crate::database::RUNTIME_ROLE {
        roles.push(runtime_user.to_owned());
    }
    for role in roles {
        let set = tx
            .query_one(
                "select exists (select from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
                   where r.rolname = $1 and s.setdatabase = 0
                     and 'citus.propagate_set_commands=local' = any (s.setconfig))",
                &[&role],
            )
            .await
            .map_err(fail("read the runtime role's settings"))?
            .get::<_, bool>(0);
        if !set {
            tx.batch_execute(&format!(
                "alter role {} set citus.propagate_set_commands = 'local'",
                quote_ident(&role)
            ))
            .await
            .map_err(fail("set SET propagation for the runtime role"))?;
        }
    }
    Ok(())
}

/// A foreign key definition without `ON DELETE`/`ON UPDATE` `SET NULL`/`SET DEFAULT` (and a
/// column list after them), which Citus refuses on keys that include the distribution column.
fn without_set_actions(definition: &str) -> String {
    let mut out = definition.to_owned();
    for event in ["ON DELETE", "ON UPDATE"] {
        for action in ["SET NULL", "SET DEFAULT"] {
            let clause = format!(" {event} {action}");
            if let Some(start) = out.find(&clause) {
                let mut end = start + clause.len();
                if out[end..].starts_with(" (") {
                    end += out[end..].find(')').map_or(0, |i| i + 1);
                }
                out.replace_range(start..end, "");
            }
        }
    }
    out
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::without_set_actions;

    #[test]
    fn set_null_and_set_default_actions_are_dropped_and_the_rest_kept() {
        assert_eq!(
            without_set_actions("FOREIGN KEY (tenant_id, house_id) REFERENCES wizreg.house(tenant_id, id) ON DELETE SET NULL (house_id)"),
            "FOREIGN KEY (tenant_id, house_id) REFERENCES wizreg.house(tenant_id, id)"
        );
        assert_eq!(
            without_set_actions(
                "FOREIGN KEY (a) REFERENCES t(a) ON UPDATE SET DEFAULT ON DELETE CASCADE"
            ),
            "FOREIGN KEY (a) REFERENCES t(a) ON DELETE CASCADE"
        );
        assert_eq!(
            without_set_actions("FOREIGN KEY (a) REFERENCES t(a) ON DELETE SET NULL DEFERRABLE"),
            "FOREIGN KEY (a) REFERENCES t(a) DEFERRABLE"
        );
    }
}
