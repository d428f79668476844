//! Checks on every tenant table (any table or partition with the tenant column): RLS on and
//! forced, exactly one well-formed policy, tenant-leading keys, composite foreign keys and no
//! sequences.

use std::collections::HashMap;

use tokio_postgres::Client;

use super::{AuditError, AuditReport, AuditTarget, Finding, FindingKind, USER_SCHEMA};

/// A table holding tenant rows.
#[derive(Clone, Debug)]
pub(super) struct TenantTable {
    pub oid: u32,
    pub name: String,
    /// The tenant column's attribute number.
    pub tenant_attnum: i16,
}

pub(super) async fn check(
    client: &Client,
    target: &AuditTarget,
    report: &mut AuditReport,
) -> Result<Vec<TenantTable>, AuditError> {
    let sql = format!(
        "select c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname),
                a.attnum, c.relrowsecurity, c.relforcerowsecurity
         from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         join pg_attribute a on a.attrelid = c.oid and a.attname = $1 and not a.attisdropped
         where c.relkind in ('r', 'p') and {USER_SCHEMA}
         order by 2"
    );
    let mut tables = Vec::new();
    for row in client.query(&sql, &[&target.tenant_column]).await? {
        let table = TenantTable {
            oid: row.get(0),
            name: row.get(1),
            tenant_attnum: row.get(2),
        };
        let (enabled, forced): (bool, bool) = (row.get(3), row.get(4));
        if !enabled {
            report.findings.push(Finding::new(
                FindingKind::RlsNotEnabled,
                format!("table {}", table.name),
                "row level security is disabled: every row is visible",
                format!("alter table {} enable row level security", table.name),
            ));
        }
        if !forced {
            report.findings.push(Finding::new(
                FindingKind::RlsNotForced,
                format!("table {}", table.name),
                "row level security is not forced, so its owner bypasses it",
                format!("alter table {} force row level security", table.name),
            ));
        }
        tables.push(table);
    }
    report.inspected.tenant_tables = tables.iter().map(|t| t.name.clone()).collect();
    let oids: Vec<u32> = tables.iter().map(|t| t.oid).collect();
    check_policies(client, target, &tables, &oids, report).await?;
    check_keys(client, &tables, &oids, report).await?;
    check_sequences(client, &tables, &oids, report).await?;
    Ok(tables)
}

/// The one accepted policy shape: `tenant_id = <current tenant>`, in either operand order, with
/// or without `nullif(…, '')`, compared after dropping whitespace and parentheses.
pub(super) fn is_tenant_predicate(expr: &str, target: &AuditTarget) -> bool {
    let squash = |s: &str| {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '(' && *c != ')')
            .collect::<String>()
    };
    let setting = target.tenant_setting.replace('\'', "''");
    let column = &target.tenant_column;
    let current = [
        format!("NULLIF(current_setting('{setting}'::text, true), ''::text)::uuid"),
        format!("current_setting('{setting}'::text, true)::uuid"),
    ];
    let expr = squash(expr);
    current.iter().any(|value| {
        expr == squash(&format!("{column} = {value}"))
            || expr == squash(&format!("{value} = {column}"))
    })
}

async fn check_policies(
    client: &Client,
    target: &AuditTarget,
    tables: &[TenantTable],
    oids: &[u32],
    report: &mut AuditReport,
) -> Result<(), AuditError> {
    let rows = client
        .query(
            "select p.polrelid, quote_ident(p.polname), p.polcmd::text, p.polpermissive,
                    pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
             from pg_policy p where p.polrelid = any($1) order by p.polrelid, p.polname",
            &[&oids],
        )
        .await?;
    report.inspected.policies = rows.len();
    let mut by_table: HashMap<u32, Vec<_>> = HashMap::new();
    for row in &rows {
        by_table.entry(row.get::<_, u32>(0)).or_default().push(row);
    }
    for table in tables {
        let policies = by_table.remove(&table.oid).unwrap_or_default();
        let well_formed = |row: &&tokio_postgres::Row| {
            let (cmd, permissive): (String, bool) = (row.get(2), row.get(3));
            let using: Option<String> = row.get(4);
            let check: Option<String> = row.get(5);
            cmd == "*"
                && permissive
                && using.is_some_and(|e| is_tenant_predicate(&e, target))
                && check.is_some_and(|e| is_tenant_predicate(&e, target))
        };
        let good = policies.iter().position(well_formed);
        let expected = format!(
            "create policy tenant_isolation on {table} for all using ({column} = nullif(current_setting('{setting}', true), '')::uuid) with check (<the same>)",
            table = table.name,
            column = target.tenant_column,
            setting = target.tenant_setting
        );
        if good.is_none() {
            let (kind, problem) = if policies.is_empty() {
                (FindingKind::TenantPolicyMissing, "has no policy".to_owned())
            } else {
                (
                    FindingKind::TenantPolicyWrong,
                    format!("no policy is permissive, for all commands, with USING and WITH CHECK both comparing {} with the current tenant", target.tenant_column),
                )
            };
            report.findings.push(Finding::new(
                kind,
                format!("table {}", table.name),
                problem,
                expected.clone(),
            ));
        }
        for (_, policy) in policies
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != good)
        {
            let name: String = policy.get(1);
            report.findings.push(Finding::new(
                FindingKind::ExtraPolicy,
                format!("policy {name} on {}", table.name),
                "is a second policy: permissive ones widen access, restrictive ones become permissive on Citus",
                format!("drop policy {name} on {}", table.name),
            ));
        }
    }
    Ok(())
}

async fn check_keys(
    client: &Client,
    tables: &[TenantTable],
    oids: &[u32],
    report: &mut AuditReport,
) -> Result<(), AuditError> {
    let table = |oid: u32| tables.iter().find(|t| t.oid == oid);
    let unique = client
        .query(
            "select i.indrelid, quote_ident(ic.relname), i.indkey[0]
             from pg_index i join pg_class ic on ic.oid = i.indexrelid
             where i.indisunique and i.indrelid = any($1) order by 2",
            &[&oids],
        )
        .await?;
    report.inspected.unique_keys = unique.len();
    for row in unique {
        let (oid, index, first): (u32, String, i16) = (row.get(0), row.get(1), row.get(2));
        let Some(table) = table(oid) else { continue };
        if first != table.tenant_attnum {
            report.findings.push(Finding::new(
                FindingKind::KeyWithoutTenant,
                format!("unique index {index} on {}", table.name),
                "does not start with the tenant column: it is global, so a conflict reveals another tenant's value",
                "recreate the key as unique (tenant_id, …)",
            ));
        }
    }
    let foreign = client
        .query(
            "select c.conrelid, c.confrelid, quote_ident(c.conname), c.conkey, c.confkey
             from pg_constraint c
             where c.contype = 'f' and c.conrelid = any($1) and c.confrelid = any($1)
             order by 3",
            &[&oids],
        )
        .await?;
    report.inspected.foreign_keys = foreign.len();
    for row in foreign {
        let (from, to, name): (u32, u32, String) = (row.get(0), row.get(1), row.get(2));
        let (keys, references): (Vec<i16>, Vec<i16>) = (row.get(3), row.get(4));
        let (Some(from), Some(to)) = (table(from), table(to)) else {
            continue;
        };
        let composite = keys
            .iter()
            .zip(&references)
            .any(|(k, r)| *k == from.tenant_attnum && *r == to.tenant_attnum);
        if !composite {
            report.findings.push(Finding::new(
                FindingKind::ForeignKeyWithoutTenant,
                format!("foreign key {name} on {}", from.name),
                format!("references {} without matching tenant_id, so a row can point at another tenant's row", to.name),
                format!("make it foreign key (tenant_id, …) references {} (tenant_id, …)", to.name),
            ));
        }
    }
    Ok(())
}

async fn check_sequences(
    client: &Client,
    tables: &[TenantTable],
    oids: &[u32],
    report: &mut AuditReport,
) -> Result<(), AuditError> {
    let rows = client
        .query(
            "select a.attrelid, quote_ident(a.attname)
             from pg_attribute a
             left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
             where a.attrelid = any($1) and a.attnum > 0 and not a.attisdropped
               and (a.attidentity <> '' or pg_get_expr(d.adbin, d.adrelid) like '%nextval(%')
             order by 1, 2",
            &[&oids],
        )
        .await?;
    for row in rows {
        let (oid, column): (u32, String) = (row.get(0), row.get(1));
        let Some(table) = tables.iter().find(|t| t.oid == oid) else {
            continue;
        };
        report.findings.push(Finding::new(
            FindingKind::SequenceColumn,
            format!("column {}.{column}", table.name),
            "takes values from a sequence shared by all tenants, which leaks their volumes",
            "use application-made UUIDs (v7) and drop the identity or serial default",
        ));
    }
    Ok(())
}
