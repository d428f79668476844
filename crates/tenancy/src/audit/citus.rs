//! Checks that only apply when the database is a Citus coordinator: each tenant table is
//! hash-distributed by the tenant column and co-located with the others (not a local or
//! reference table by mistake), the tenant directory is a reference table, the runtime role
//! forwards `SET LOCAL` to the workers, and the tenant is entered with `SET LOCAL` (Citus drops
//! `set_config`). The policies on the shards themselves are read by [`super::placements`].
//!
//! On plain PostgreSQL none of this applies, and nothing is reported.

use std::collections::HashMap;

use tokio_postgres::Client;

use super::tables::TenantTable;
use super::{placements, AuditError, AuditReport, AuditTarget, Finding, FindingKind};

/// The Citus setting that forwards `SET LOCAL` to the workers a transaction touches.
const PROPAGATE_SET: &str = "citus.propagate_set_commands";

/// How Citus holds one table (a row of `pg_dist_partition`, or none).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Placement {
    /// Not in Citus's metadata: a plain table on the coordinator.
    Local,
    /// A Citus local table: in the metadata, still only on the coordinator.
    CitusLocal,
    /// Copied whole to every node.
    Reference,
    /// Hash-distributed by `column`, in co-location group `group`.
    Hash { column: String, group: i32 },
    /// Any other distribution (append, range, a single shard without a column).
    Other(String),
}

pub(super) async fn check(
    client: &Client,
    target: &AuditTarget,
    tables: &[TenantTable],
    report: &mut AuditReport,
) -> Result<(), AuditError> {
    let version: Option<String> = client
        .query_opt(
            "select extversion from pg_extension where extname = 'citus'",
            &[],
        )
        .await?
        .map(|row| row.get(0));
    let Some(version) = version else {
        return Ok(());
    };
    report.inspected.citus_version = Some(version);
    let placements = read_placements(client, tables).await?;
    check_distribution(target, tables, &placements, report);
    check_directory(client, target, report).await?;
    check_set_propagation(client, target, report).await?;
    check_enter_function(client, target, report).await?;
    let distributed: Vec<&TenantTable> = tables
        .iter()
        .filter(|t| {
            placements
                .get(&t.oid)
                .is_some_and(|p| *p != Placement::Local)
        })
        .collect();
    placements::check(client, target, &distributed, report).await
}

async fn read_placements(
    client: &Client,
    tables: &[TenantTable],
) -> Result<HashMap<u32, Placement>, AuditError> {
    let oids: Vec<u32> = tables.iter().map(|t| t.oid).collect();
    let rows = client
        .query(
            "select p.logicalrelid::oid, p.partmethod::text, p.repmodel::text, p.colocationid,
                    case when p.partkey is not null
                         then column_to_column_name(p.logicalrelid, p.partkey) end
             from pg_dist_partition p where p.logicalrelid::oid = any($1)",
            &[&oids],
        )
        .await?;
    let mut placements: HashMap<u32, Placement> =
        oids.iter().map(|oid| (*oid, Placement::Local)).collect();
    for row in rows {
        let (method, model, group): (String, String, i32) = (row.get(1), row.get(2), row.get(3));
        let column: Option<String> = row.get(4);
        let placement = match (method.as_str(), model.as_str(), column) {
            ("n", "t", _) => Placement::Reference,
            ("n", _, _) if group == 0 => Placement::CitusLocal,
            ("h", _, Some(column)) => Placement::Hash { column, group },
            ("a", _, _) => Placement::Other("append-distributed".into()),
            ("r", _, _) => Placement::Other("range-distributed".into()),
            _ => Placement::Other("distributed without a distribution column".into()),
        };
        placements.insert(row.get(0), placement);
    }
    Ok(placements)
}

/// The co-location group most tenant tables share (ties: the one holding the first table by
/// name), and that first table, which the fixes name to co-locate with.
fn anchor<'a>(
    target: &AuditTarget,
    tables: &'a [TenantTable],
    placements: &HashMap<u32, Placement>,
) -> Option<(i32, &'a str)> {
    let mut groups: Vec<(i32, usize, &str)> = Vec::new();
    for table in tables {
        if let Some(Placement::Hash { column, group }) = placements.get(&table.oid) {
            if *column != target.tenant_column {
                continue;
            }
            match groups.iter_mut().find(|(g, _, _)| g == group) {
                Some(entry) => entry.1 += 1,
                None => groups.push((*group, 1, &table.name)),
            }
        }
    }
    // `tables` is sorted by name, so the first group met holds the first table.
    groups
        .iter()
        .rev()
        .max_by_key(|(_, count, _)| *count)
        .map(|(group, _, name)| (*group, *name))
}

fn check_distribution(
    target: &AuditTarget,
    tables: &[TenantTable],
    placements: &HashMap<u32, Placement>,
    report: &mut AuditReport,
) {
    let column = &target.tenant_column;
    let anchor = anchor(target, tables, placements);
    let colocate = anchor.map_or("none", |(_, name)| name);
    for table in tables {
        let name = &table.name;
        let distribute = format!(
            "select create_distributed_table('{name}', '{column}', colocate_with => '{colocate}')"
        );
        let (kind, problem, fix) = match placements.get(&table.oid) {
            None | Some(Placement::Local) => (
                FindingKind::TenantTableNotDistributed,
                "is a plain table on the coordinator: every school's rows stay on one node".to_owned(),
                distribute,
            ),
            Some(Placement::CitusLocal) => (
                FindingKind::TenantTableNotDistributed,
                "is a Citus local table: every school's rows stay on the coordinator".to_owned(),
                format!("select undistribute_table('{name}'); {distribute}"),
            ),
            Some(Placement::Reference) => (
                FindingKind::TenantTableIsReference,
                "is a reference table: every school's rows are copied to every node".to_owned(),
                format!("select undistribute_table('{name}'); {distribute}"),
            ),
            Some(Placement::Hash { column: actual, .. }) if actual != column => (
                FindingKind::TenantTableWrongDistribution,
                format!("is distributed by {actual}, not {column}: a school's rows are spread over shards and its queries are not routed to one"),
                format!("select alter_distributed_table('{name}', distribution_column := '{column}', colocate_with := '{colocate}')"),
            ),
            Some(Placement::Other(how)) => (
                FindingKind::TenantTableWrongDistribution,
                format!("is {how}, not hash-distributed by {column}"),
                format!("select undistribute_table('{name}'); {distribute}"),
            ),
            Some(Placement::Hash { group, .. }) => match anchor {
                Some((anchor_group, anchor_name)) if *group != anchor_group => (
                    FindingKind::TenantTableNotColocated,
                    format!("is not co-located with {anchor_name}: one school's rows of the two tables may sit on different nodes, so joins and foreign keys between them cross nodes"),
                    format!("select alter_distributed_table('{name}', colocate_with := '{anchor_name}')"),
                ),
                _ => continue,
            },
        };
        report
            .findings
            .push(Finding::new(kind, format!("table {name}"), problem, fix));
    }
}

/// The tenant directory is read by every tenant table's foreign key and by `enter_tenant` on
/// the workers: on Citus it must be on every node.
async fn check_directory(
    client: &Client,
    target: &AuditTarget,
    report: &mut AuditReport,
) -> Result<(), AuditError> {
    for name in &target.directory_tables {
        let row = client
            .query_opt(
                "select p.partmethod::text, p.repmodel::text
                 from (select to_regclass($1) as oid) t
                 left join pg_dist_partition p on p.logicalrelid = t.oid
                 where t.oid is not null",
                &[name],
            )
            .await?;
        let Some(row) = row else { continue };
        let (method, model): (Option<String>, Option<String>) = (row.get(0), row.get(1));
        if method.as_deref() == Some("n") && model.as_deref() == Some("t") {
            continue;
        }
        let fix = match method {
            None => format!("select create_reference_table('{name}')"),
            Some(_) => format!(
                "select undistribute_table('{name}'); select create_reference_table('{name}')"
            ),
        };
        report.findings.push(Finding::new(
            FindingKind::DirectoryNotReference,
            format!("table {name}"),
            "is not a reference table: tenant tables on the workers reference it, so every node needs all of it",
            fix,
        ));
    }
    Ok(())
}

/// `SET LOCAL` reaches the workers only with `citus.propagate_set_commands = 'local'` in the
/// runtime role's sessions. Settings stored for a role apply to that login only (not to its
/// members), so this reads what the runtime login itself gets: role in this database, then
/// role, then database, then the server's configuration.
async fn check_set_propagation(
    client: &Client,
    target: &AuditTarget,
    report: &mut AuditReport,
) -> Result<(), AuditError> {
    let role = &target.runtime_role;
    let stored = client
        .query(
            "select s.setrole <> 0 as for_role, s.setdatabase <> 0 as for_database,
                    substr(c, length($2) + 2)
             from pg_db_role_setting s, unnest(s.setconfig) c
             where (s.setrole = 0 or s.setrole = (select oid from pg_roles where rolname = $1))
               and (s.setdatabase = 0
                    or s.setdatabase = (select oid from pg_database where datname = current_database()))
               and split_part(c, '=', 1) = $2
             order by for_role desc, for_database desc
             limit 1",
            &[role, &PROPAGATE_SET],
        )
        .await?;
    let value: String = match stored.first() {
        Some(row) => row.get(2),
        None => client
            .query_one(
                "select case when source in ('configuration file', 'command line')
                             then setting else boot_val end
                 from pg_settings where name = $1",
                &[&PROPAGATE_SET],
            )
            .await?
            .get(0),
    };
    if value.trim_matches('\'').eq_ignore_ascii_case("local") {
        return Ok(());
    }
    report.findings.push(Finding::new(
        FindingKind::SetPropagationOff,
        format!("role {role}"),
        format!("has {PROPAGATE_SET} = '{value}': the tenant set with SET LOCAL stays on the coordinator, so queries on the workers run without a tenant"),
        format!("alter role {role} set {PROPAGATE_SET} = 'local'"),
    ));
    Ok(())
}

/// Citus forwards `SET LOCAL` to the workers but silently drops `set_config(…, true)`: an
/// enter function built on it would leave the workers without a tenant.
async fn check_enter_function(
    client: &Client,
    target: &AuditTarget,
    report: &mut AuditReport,
) -> Result<(), AuditError> {
    let function = &target.enter_function;
    let source: Option<String> = client
        .query_opt(
            "select p.prosrc from pg_proc p where p.oid = to_regprocedure($1)",
            &[function],
        )
        .await?
        .map(|row| row.get(0));
    let words = source.map(|s| {
        s.to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    });
    let problem = match words {
        None => "does not exist, so no tenant can be entered".to_owned(),
        Some(body) if body.contains("set_config") => {
            "calls set_config, which Citus does not forward to the workers".to_owned()
        }
        Some(body) if !body.contains("set local") => {
            "does not set the tenant with SET LOCAL, the only form Citus forwards to the workers"
                .to_owned()
        }
        Some(_) => return Ok(()),
    };
    report.findings.push(Finding::new(
        FindingKind::EnterTenantNotSetLocal,
        format!("function {function}"),
        problem,
        format!(
            "create or replace it in plpgsql running execute format('set local {} = %L', $1)",
            target.tenant_setting
        ),
    ));
    Ok(())
}
