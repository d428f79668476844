//! Checks on the runtime role itself: attributes that ignore RLS (superuser, BYPASSRLS,
//! owning a table), and privileges that let a session create objects or keep private state.

use tokio_postgres::Client;

use super::tables::TenantTable;
use super::{AuditError, AuditReport, AuditTarget, Finding, FindingKind, USER_SCHEMA};

pub(super) async fn check(
    client: &Client,
    target: &AuditTarget,
    report: &mut AuditReport,
) -> Result<(), AuditError> {
    let role = target.runtime_role.as_str();
    let row = client
        .query_opt(
            "select rolsuper, rolbypassrls from pg_roles where rolname = $1",
            &[&role],
        )
        .await?
        .ok_or_else(|| AuditError::MissingRole(role.to_owned()))?;
    let (superuser, bypass): (bool, bool) = (row.get(0), row.get(1));
    let object = format!("role {role}");
    if superuser {
        report.findings.push(Finding::new(
            FindingKind::RuntimeRoleSuperuser,
            &object,
            "is a superuser, which ignores every policy",
            format!("alter role {role} nosuperuser"),
        ));
    }
    if bypass {
        report.findings.push(Finding::new(
            FindingKind::RuntimeRoleBypassesRls,
            &object,
            "has BYPASSRLS, which ignores every policy",
            format!("alter role {role} nobypassrls"),
        ));
    }

    let sql = format!(
        "select quote_ident(n.nspname) from pg_namespace n
         where {USER_SCHEMA} and has_schema_privilege($1::text::name, n.oid, 'CREATE')
         order by 1"
    );
    for row in client.query(&sql, &[&role]).await? {
        let schema: String = row.get(0);
        report.findings.push(Finding::new(
            FindingKind::RuntimeRoleCanCreate,
            format!("schema {schema}"),
            format!(
                "{role} may create objects here (a view, a function or a table to shadow ours)"
            ),
            format!("revoke create on schema {schema} from {role}, public"),
        ));
    }
    report.inspected.schemas = client
        .query_one(
            &format!("select count(*) from pg_namespace n where {USER_SCHEMA}"),
            &[],
        )
        .await?
        .get::<_, i64>(0) as usize;

    let temp: bool = client
        .query_one(
            "select has_database_privilege($1::text::name, current_database(), 'TEMP')",
            &[&role],
        )
        .await?
        .get(0);
    if temp {
        let database: String = client
            .query_one("select quote_ident(current_database())", &[])
            .await?
            .get(0);
        report.findings.push(Finding::new(
            FindingKind::RuntimeRoleCanUseTemp,
            format!("database {database}"),
            format!("{role} may create temporary tables, which outlive a transaction on a pooled connection"),
            format!("revoke temporary on database {database} from {role}, public"),
        ));
    }
    Ok(())
}

/// The owner of a table (and every member of the owner's role) bypasses its policies unless
/// RLS is forced, and can always switch it off: the runtime role must be neither.
pub(super) async fn check_ownership(
    client: &Client,
    target: &AuditTarget,
    tables: &[TenantTable],
    report: &mut AuditReport,
) -> Result<(), AuditError> {
    let role = target.runtime_role.as_str();
    let oids: Vec<u32> = tables.iter().map(|t| t.oid).collect();
    let rows = client
        .query(
            "select c.oid, c.relowner::regrole::text from pg_class c
             where c.oid = any($1) and pg_has_role($2::text::name, c.relowner, 'MEMBER')",
            &[&oids, &role],
        )
        .await?;
    for row in rows {
        let oid: u32 = row.get(0);
        let owner: String = row.get(1);
        let Some(table) = tables.iter().find(|t| t.oid == oid) else {
            continue;
        };
        report.findings.push(Finding::new(
            FindingKind::RuntimeRoleOwnsTenantTable,
            format!("table {}", table.name),
            format!("{role} is, or is a member of, its owner {owner}, and owners can disable RLS"),
            if owner == role {
                format!("alter table {} owner to <the owner role>", table.name)
            } else {
                format!("revoke {owner} from {role}")
            },
        ));
    }
    Ok(())
}
