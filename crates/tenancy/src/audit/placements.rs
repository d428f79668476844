//! Checks on every shard placement of the distributed tenant tables, read on the workers
//! themselves (`run_command_on_placements`): RLS enabled and forced, and exactly the one
//! permissive tenant policy.
//!
//! The coordinator's table is only a shell; the rows live in the shards, and Citus does not
//! always copy policies faithfully (it recreates a RESTRICTIVE policy as PERMISSIVE on the
//! shards, turning a guard into a grant). So the audit looks where the rows are. Findings are
//! one per table and problem, naming how many placements have it and one of them, so a table
//! with 32 broken shards gives one line, not 32.

use std::collections::BTreeMap;

use serde::Deserialize;
use tokio_postgres::Client;

use super::tables::{is_tenant_predicate, TenantTable};
use super::{quote_ident, AuditError, AuditReport, AuditTarget, Finding, FindingKind};

/// Run on each placement, `%s` being the shard's qualified name: its RLS flags and policies.
const PLACEMENT_QUERY: &str = "select json_build_object(
      'enabled', c.relrowsecurity, 'forced', c.relforcerowsecurity,
      'policies', coalesce((select json_agg(json_build_object(
            'name', p.polname, 'command', p.polcmd, 'permissive', p.polpermissive,
            'using', pg_get_expr(p.polqual, p.polrelid),
            'check', pg_get_expr(p.polwithcheck, p.polrelid)) order by p.polname)
          from pg_policy p where p.polrelid = c.oid), '[]'::json))
    from pg_class c where c.oid = '%s'::regclass";

#[derive(Debug, Deserialize)]
struct ShardState {
    enabled: bool,
    forced: bool,
    policies: Vec<ShardPolicy>,
}

#[derive(Debug, Deserialize)]
struct ShardPolicy {
    name: String,
    command: String,
    permissive: bool,
    using: Option<String>,
    check: Option<String>,
}

/// Placements of one table with one problem: how many, and the first one met.
struct Affected {
    count: usize,
    example: String,
}

pub(super) async fn check(
    client: &Client,
    target: &AuditTarget,
    tables: &[&TenantTable],
    report: &mut AuditReport,
) -> Result<(), AuditError> {
    for table in tables {
        let rows = client
            .query(
                "select nodename || ':' || nodeport, shardid, success, result
                 from run_command_on_placements($1::oid::regclass, $2) order by shardid, 1",
                &[&table.oid, &PLACEMENT_QUERY],
            )
            .await?;
        let mut problems: BTreeMap<(FindingKind, String), Affected> = BTreeMap::new();
        for row in &rows {
            let (node, shard, success, result): (String, i64, bool, String) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            let place = format!("shard {shard} on {node}");
            // The worker's own error text stays out of the report (it goes to stderr and logs).
            let state: ShardState = match success {
                true => serde_json::from_str(&result)
                    .map_err(|_| AuditError::Placement(place.clone()))?,
                false => return Err(AuditError::Placement(place)),
            };
            for (kind, policy) in placement_problems(&state, target) {
                problems
                    .entry((kind, policy))
                    .and_modify(|a| a.count += 1)
                    .or_insert(Affected {
                        count: 1,
                        example: place.clone(),
                    });
            }
        }
        report.inspected.shard_placements += rows.len();
        for ((kind, policy), affected) in problems {
            report.findings.push(finding(
                kind,
                &table.name,
                &policy,
                &affected,
                rows.len(),
                target,
            ));
        }
    }
    Ok(())
}

/// What is wrong with one placement: `(kind, policy name or "")`.
fn placement_problems(state: &ShardState, target: &AuditTarget) -> Vec<(FindingKind, String)> {
    let mut problems = Vec::new();
    if !state.enabled {
        problems.push((FindingKind::ShardRlsNotEnabled, String::new()));
    }
    if !state.forced {
        problems.push((FindingKind::ShardRlsNotForced, String::new()));
    }
    let good = state.policies.iter().position(|p| {
        p.command == "*"
            && p.permissive
            && p.using
                .as_deref()
                .is_some_and(|e| is_tenant_predicate(e, target))
            && p.check
                .as_deref()
                .is_some_and(|e| is_tenant_predicate(e, target))
    });
    if good.is_none() {
        problems.push((FindingKind::ShardPolicyWrong, String::new()));
    }
    for (i, policy) in state.policies.iter().enumerate() {
        if Some(i) != good {
            let how = if policy.permissive {
                "permissive"
            } else {
                "restrictive"
            };
            problems.push((
                FindingKind::ShardExtraPolicy,
                format!("{} ({how})", policy.name),
            ));
        }
    }
    problems
}

fn finding(
    kind: FindingKind,
    table: &str,
    policy: &str,
    affected: &Affected,
    total: usize,
    target: &AuditTarget,
) -> Finding {
    let on = format!(
        "{} of {total} placements, e.g. {}",
        affected.count, affected.example
    );
    let on_placements =
        |command: &str| format!("select run_command_on_placements('{table}', $${command}$$)");
    let (object, problem, fix) = match kind {
        FindingKind::ShardRlsNotEnabled => (
            format!("shards of {table}"),
            format!("row level security is disabled on {on}"),
            on_placements("alter table %s enable row level security"),
        ),
        FindingKind::ShardRlsNotForced => (
            format!("shards of {table}"),
            format!("row level security is not forced on {on}, so the owner bypasses it there"),
            on_placements("alter table %s force row level security"),
        ),
        FindingKind::ShardPolicyWrong => (
            format!("shards of {table}"),
            format!("no permissive policy for all commands compares {} with the current tenant on {on}", target.tenant_column),
            format!("drop and recreate the tenant policy on {table} (Citus copies it to every placement)"),
        ),
        _ => {
            let name = quote_ident(policy.rsplit_once(" (").map_or(policy, |(name, _)| name));
            (
                format!("policy {policy} on shards of {table}"),
                format!("is a second policy on {on}; policies are OR-ed there, so it widens access"),
                format!("drop policy {name} on {table}; if it stays on the shards: {}", on_placements(&format!("drop policy {name} on %s"))),
            )
        }
    };
    Finding::new(kind, object, problem, fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> AuditTarget {
        AuditTarget {
            schema: "app".into(),
            runtime_role: "app_user".into(),
            tenant_setting: "app.tenant".into(),
            tenant_column: "tenant_id".into(),
            definer_allow_list: Vec::new(),
            directory_tables: Vec::new(),
            enter_function: "app.enter(uuid)".into(),
        }
    }

    fn state(json: &str) -> ShardState {
        serde_json::from_str(json).expect("valid")
    }

    const GOOD: &str = r#"{"name": "tenant_isolation", "command": "*", "permissive": true,
        "using": "(tenant_id = (NULLIF(current_setting('app.tenant'::text, true), ''::text))::uuid)",
        "check": "(tenant_id = (NULLIF(current_setting('app.tenant'::text, true), ''::text))::uuid)"}"#;

    #[test]
    fn a_placement_with_rls_forced_and_the_one_policy_has_no_problem() {
        let good = state(&format!(
            r#"{{"enabled": true, "forced": true, "policies": [{GOOD}]}}"#
        ));
        assert!(placement_problems(&good, &target()).is_empty());
    }

    #[test]
    fn each_problem_of_a_placement_is_named_and_a_second_policy_says_what_it_is_there() {
        let extra = r#"{"name": "guard", "command": "*", "permissive": true, "using": "true", "check": null}"#;
        let broken = state(&format!(
            r#"{{"enabled": false, "forced": false, "policies": [{GOOD}, {extra}]}}"#
        ));
        assert_eq!(
            placement_problems(&broken, &target()),
            vec![
                (FindingKind::ShardRlsNotEnabled, String::new()),
                (FindingKind::ShardRlsNotForced, String::new()),
                (FindingKind::ShardExtraPolicy, "guard (permissive)".into()),
            ]
        );
        let none = state(r#"{"enabled": true, "forced": true, "policies": []}"#);
        assert_eq!(
            placement_problems(&none, &target()),
            vec![(FindingKind::ShardPolicyWrong, String::new())]
        );
    }
}
