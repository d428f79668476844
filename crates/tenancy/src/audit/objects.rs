//! Checks on everything around the tenant tables that could route around their policies:
//! views, SECURITY DEFINER functions, dangerous grants, stored defaults for the tenant setting,
//! and a server old enough to have known RLS bypasses.

use tokio_postgres::Client;

use super::{AuditError, AuditReport, AuditTarget, Finding, FindingKind, USER_SCHEMA};

pub(super) async fn check(
    client: &Client,
    target: &AuditTarget,
    report: &mut AuditReport,
) -> Result<(), AuditError> {
    check_views(client, target, report).await?;
    check_functions(client, target, report).await?;
    check_grants(client, target, report).await?;
    check_setting_defaults(client, target, report).await?;
    check_version(client, report).await
}

/// Whether `c` belongs to an installed extension (Citus's `citus_tables`, for example).
const EXTENSION_MEMBER: &str =
    "exists (select from pg_depend e where e.classid = 'pg_class'::regclass
               and e.objid = c.oid and e.deptype = 'e')";

/// A view runs with its owner's rights unless it is `security_invoker`, and its owner is
/// exempt from RLS: through it the runtime role would read every tenant's rows. An
/// extension's own views are left alone unless they read a tenant table: they are the
/// extension's catalogue (Citus shows its metadata through owner-rights views), not ours to
/// change.
async fn check_views(
    client: &Client,
    target: &AuditTarget,
    report: &mut AuditReport,
) -> Result<(), AuditError> {
    let sql = format!(
        "select quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relkind::text,
                coalesce(c.reloptions && array['security_invoker=true', 'security_invoker=on',
                         'security_invoker=1', 'security_invoker=yes'], false)
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where c.relkind in ('v', 'm') and {USER_SCHEMA}
           and has_table_privilege($1::text::name, c.oid, 'SELECT')
           and not ({EXTENSION_MEMBER} and not exists (
             select from pg_rewrite r
             join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
             join pg_attribute a on a.attrelid = d.refobjid and a.attname = $2
             where r.ev_class = c.oid and d.refobjid <> c.oid))
         order by 1"
    );
    let rows = client
        .query(&sql, &[&target.runtime_role, &target.tenant_column])
        .await?;
    report.inspected.views = rows.len();
    for row in rows {
        let (name, kind, invoker): (String, String, bool) = (row.get(0), row.get(1), row.get(2));
        if kind == "m" {
            report.findings.push(Finding::new(
                FindingKind::ViewNotSecurityInvoker,
                format!("materialized view {name}"),
                "is readable by the runtime role and holds rows copied without any policy",
                format!(
                    "revoke select on {name} from {}, public (or drop it)",
                    target.runtime_role
                ),
            ));
        } else if !invoker {
            report.findings.push(Finding::new(
                FindingKind::ViewNotSecurityInvoker,
                format!("view {name}"),
                "is readable by the runtime role and runs as its owner, bypassing RLS",
                format!("alter view {name} set (security_invoker = true)"),
            ));
        }
    }
    Ok(())
}

/// A SECURITY DEFINER function runs as its owner (exempt from RLS); with an unpinned
/// `search_path` a caller can also hijack the names it uses.
async fn check_functions(
    client: &Client,
    target: &AuditTarget,
    report: &mut AuditReport,
) -> Result<(), AuditError> {
    let sql = format!(
        "select format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
                coalesce(exists (select from unnest(p.proconfig) c where c like 'search_path=%'), false)
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where p.prosecdef and {USER_SCHEMA}
           and has_function_privilege($1::text::name, p.oid, 'EXECUTE')
         order by 1"
    );
    let rows = client.query(&sql, &[&target.runtime_role]).await?;
    report.inspected.definer_functions = rows.len();
    for row in rows {
        let (name, pinned): (String, bool) = (row.get(0), row.get(1));
        let allowed = target.definer_allow_list.contains(&name);
        if pinned && allowed {
            continue;
        }
        let problem = match (pinned, allowed) {
            (false, false) => "is SECURITY DEFINER, executable by the runtime role, not on the allow-list and without a pinned search_path",
            (false, true) => "is on the allow-list but has no pinned search_path",
            _ => "is SECURITY DEFINER and executable by the runtime role but not on the allow-list",
        };
        report.findings.push(Finding::new(
            FindingKind::SecurityDefinerFunction,
            format!("function {name}"),
            problem,
            format!("revoke execute on function {name} from {}, public; or review it, set search_path = pg_catalog, pg_temp and add it to the allow-list", target.runtime_role),
        ));
    }
    Ok(())
}

/// TRUNCATE ignores RLS; REFERENCES lets a role build foreign keys that probe any tenant's
/// keys; TRIGGER lets it run code on others' writes.
async fn check_grants(
    client: &Client,
    target: &AuditTarget,
    report: &mut AuditReport,
) -> Result<(), AuditError> {
    let sql = format!(
        "select quote_ident(n.nspname) || '.' || quote_ident(c.relname), g.privilege,
                case when g.privilege = 'REFERENCES'
                     then has_any_column_privilege($1::text::name, c.oid, g.privilege)
                     else has_table_privilege($1::text::name, c.oid, g.privilege) end
         from pg_class c join pg_namespace n on n.oid = c.relnamespace,
              unnest(array['TRUNCATE', 'REFERENCES', 'TRIGGER']) as g(privilege)
         where c.relkind in ('r', 'p', 'v', 'm', 'f') and {USER_SCHEMA}
         order by 1, 2"
    );
    let rows = client.query(&sql, &[&target.runtime_role]).await?;
    report.inspected.tables_checked_for_grants = rows.len() / 3;
    for row in rows.iter().filter(|r| r.get::<_, bool>(2)) {
        let (table, privilege): (String, String) = (row.get(0), row.get(1));
        report.findings.push(Finding::new(
            FindingKind::DangerousGrant,
            format!("table {table}"),
            format!("the runtime role has {privilege}"),
            format!(
                "revoke {} on {table} from {}, public",
                privilege.to_lowercase(),
                target.runtime_role
            ),
        ));
    }
    Ok(())
}

/// A stored default for the tenant setting would give a connection a tenant before any
/// transaction named one: requests that forgot to enter a tenant would see that tenant's rows.
async fn check_setting_defaults(
    client: &Client,
    target: &AuditTarget,
    report: &mut AuditReport,
) -> Result<(), AuditError> {
    let rows = client
        .query(
            "select coalesce(quote_ident(r.rolname), 'every role'),
                    coalesce(quote_ident(d.datname), 'every database'),
                    s.setrole = 0, s.setdatabase = 0
             from pg_db_role_setting s
             left join pg_roles r on r.oid = s.setrole
             left join pg_database d on d.oid = s.setdatabase
             where (s.setdatabase = 0 or d.datname = current_database())
               and exists (select from unnest(s.setconfig) c where split_part(c, '=', 1) = $1)",
            &[&target.tenant_setting],
        )
        .await?;
    for row in rows {
        let (role, database, all_roles, all_databases): (String, String, bool, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let fix = match (all_roles, all_databases) {
            (true, _) => format!("alter database {database} reset {}", target.tenant_setting),
            (false, true) => format!("alter role {role} reset {}", target.tenant_setting),
            (false, false) => format!(
                "alter role {role} in database {database} reset {}",
                target.tenant_setting
            ),
        };
        report.findings.push(Finding::new(
            FindingKind::TenantSettingDefault,
            format!("setting {} for {role} in {database}", target.tenant_setting),
            "is stored as a default, so a session starts with a tenant already set",
            fix,
        ));
    }
    let server_level = client
        .query(
            "select source from pg_settings
             where name = $1 and source in ('configuration file', 'command line')",
            &[&target.tenant_setting],
        )
        .await?;
    if !server_level.is_empty() {
        report.findings.push(Finding::new(
            FindingKind::TenantSettingDefault,
            format!("setting {}", target.tenant_setting),
            "is set in the server configuration, so every session starts with a tenant",
            format!(
                "remove it from postgresql.conf / postgresql.auto.conf (alter system reset {})",
                target.tenant_setting
            ),
        ));
    }
    Ok(())
}

/// The oldest minor release of each major that carries the RLS security fixes: CVE-2024-10976
/// (policies under subqueries ignored a user id change; fixed in 17.1, 16.5, 15.9, 14.14,
/// 13.17) and CVE-2025-8713 (optimizer statistics leaked rows hidden by RLS; fixed in 17.6,
/// 16.10, 15.14, 14.19, 13.22). `None`: the major is out of support, no release is safe.
pub fn minimum_version_for(server_version: u32) -> Option<u32> {
    match server_version / 10_000 {
        major if major >= 18 => Some(major * 10_000),
        17 => Some(170_006),
        16 => Some(160_010),
        15 => Some(150_014),
        14 => Some(140_019),
        13 => Some(130_022),
        _ => None,
    }
}

fn display_version(number: u32) -> String {
    format!("{}.{}", number / 10_000, number % 10_000)
}

async fn check_version(client: &Client, report: &mut AuditReport) -> Result<(), AuditError> {
    let text: String = client
        .query_one("select current_setting('server_version_num')", &[])
        .await?
        .get(0);
    let version: u32 = text
        .parse()
        .map_err(|_| AuditError::Version(text.clone()))?;
    report.inspected.server_version = version;
    if let Some(finding) = version_finding(version) {
        report.findings.push(finding);
    }
    Ok(())
}

/// The finding for a server version, if it lacks the fixes (separate so it can be tested for
/// versions no test server runs).
pub fn version_finding(version: u32) -> Option<Finding> {
    let object = format!("server {}", display_version(version));
    match minimum_version_for(version) {
        Some(minimum) if version >= minimum => None,
        Some(minimum) => Some(Finding::new(
            FindingKind::ServerTooOld,
            object,
            "lacks security fixes for row level security bypasses",
            format!("upgrade to {} or newer", display_version(minimum)),
        )),
        None => Some(Finding::new(
            FindingKind::ServerTooOld,
            object,
            "is a major version without security support",
            "upgrade to a supported major release (13 or newer, at its latest minor)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_before_the_rls_fixes_are_findings_and_later_ones_are_not() {
        for old in [
            150_008, 150_013, 160_004, 170_000, 140_018, 130_021, 120_022,
        ] {
            assert!(version_finding(old).is_some(), "{old}");
        }
        for new in [
            150_014, 150_018, 160_010, 170_006, 180_000, 140_019, 130_022,
        ] {
            assert!(version_finding(new).is_none(), "{new}");
        }
    }
}
