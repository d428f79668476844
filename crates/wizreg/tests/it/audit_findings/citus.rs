//! Findings that only a Citus coordinator can have: a tenant table that is not distributed by
//! `tenant_id` and co-located, a tenant directory that is not a reference table, `SET` not
//! propagated for the runtime role, an `enter_tenant` that Citus cannot forward, and RLS or
//! policies wrong on the shard placements (where the rows are) even when the coordinator's
//! table is right. Each test breaks one fresh distributed database in one way and asserts the
//! audit reports exactly that.

use tenancy::audit::{AuditReport, FindingKind};

use super::{assert_finds, own_role};
use crate::audit::{audit, audit_as};
use crate::harness::{Backend, TestApp};

/// A fresh distributed database broken by `sql`, and the audit's report on it.
async fn broken_on_citus(sql: &str) -> (TestApp, AuditReport) {
    let app = TestApp::on(Backend::Citus).await;
    app.privileged()
        .await
        .batch_execute(sql)
        .await
        .expect("break the database");
    let report = audit(&app).await;
    (app, report)
}

/// Asserts the report holds exactly one finding, of `kind`, on `object`.
fn assert_only(report: &AuditReport, kind: FindingKind, object: &str) {
    let lines: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 1, "exactly one finding expected: {lines:#?}");
    assert_finds(report, kind, object);
}

/// A well-formed tenant table (RLS forced, the one policy, tenant-leading key) that the
/// migrations did not distribute; `then` decides what Citus makes of it.
fn note_table(then: &str) -> String {
    format!(
        "create table wizreg.note (tenant_id uuid not null, id uuid not null, primary key (tenant_id, id));
         alter table wizreg.note enable row level security;
         alter table wizreg.note force row level security;
         create policy tenant_isolation on wizreg.note for all
           using (tenant_id = nullif(current_setting('wizreg.current_tenant', true), '')::uuid)
           with check (tenant_id = nullif(current_setting('wizreg.current_tenant', true), '')::uuid);
         {then}"
    )
}

#[tokio::test]
async fn a_distributed_database_passes_the_audit_after_reading_every_shard_placement() {
    let app = TestApp::on(Backend::Citus).await;
    let report = audit(&app).await;
    let lines: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
    assert!(report.is_clean(), "{lines:#?}");
    assert!(report.inspected.citus_version.is_some());
    // Every tenant table's every shard was read on its worker.
    assert!(
        report.inspected.shard_placements >= 4 * 2,
        "{:?}",
        report.inspected
    );
}

#[tokio::test]
async fn a_tenant_table_left_on_the_coordinator_is_a_finding() {
    let (_app, report) = broken_on_citus(&note_table("")).await;
    assert_only(
        &report,
        FindingKind::TenantTableNotDistributed,
        "wizreg.note",
    );
}

#[tokio::test]
async fn a_tenant_table_made_a_reference_table_is_a_finding() {
    let (_app, report) =
        broken_on_citus(&note_table("select create_reference_table('wizreg.note');")).await;
    assert_only(&report, FindingKind::TenantTableIsReference, "wizreg.note");
}

#[tokio::test]
async fn a_tenant_table_distributed_by_another_column_is_a_finding() {
    let (_app, report) = broken_on_citus(&note_table(
        "select create_distributed_table('wizreg.note', 'id', colocate_with => 'none');",
    ))
    .await;
    assert_only(
        &report,
        FindingKind::TenantTableWrongDistribution,
        "wizreg.note",
    );
}

#[tokio::test]
async fn a_tenant_table_not_colocated_with_the_others_is_a_finding() {
    let (_app, report) = broken_on_citus(&note_table(
        "select create_distributed_table('wizreg.note', 'tenant_id', colocate_with => 'none');",
    ))
    .await;
    assert_only(&report, FindingKind::TenantTableNotColocated, "wizreg.note");
    assert!(report.findings[0].fix.contains("alter_distributed_table"));
}

#[tokio::test]
async fn a_tenant_directory_that_is_not_a_reference_table_is_a_finding() {
    // The real directory cannot be turned back into a local table while distributed tables
    // reference it, so the audit is pointed at a local table named as the directory.
    let app = TestApp::on(Backend::Citus).await;
    let admin = app.privileged().await;
    let mut target = wizreg::audit::target("wizreg_app");
    target.directory_tables = vec!["wizreg.schema_migrations".into()];
    let report = tenancy::audit::run(&admin, &target)
        .await
        .expect("the audit runs");
    assert_only(
        &report,
        FindingKind::DirectoryNotReference,
        "wizreg.schema_migrations",
    );
    assert!(report.findings[0].fix.contains("create_reference_table"));
}

#[tokio::test]
async fn a_runtime_login_without_set_propagation_is_a_finding_and_setting_it_clears_it() {
    // Stored settings apply to the login itself, not to members of wizreg_app: a login of
    // this test's own, member of the runtime role, has none.
    let app = TestApp::on(Backend::Citus).await;
    let role = own_role(&app, "").await;
    let report = audit_as(&app, &role).await;
    assert_only(&report, FindingKind::SetPropagationOff, &role);

    app.privileged()
        .await
        .batch_execute(&format!(
            "alter role {role} in database {} set citus.propagate_set_commands = 'local'",
            app.dbname
        ))
        .await
        .expect("fix");
    assert!(audit_as(&app, &role).await.is_clean());
}

#[tokio::test]
async fn an_enter_tenant_built_on_set_config_is_a_finding() {
    let (_app, report) = broken_on_citus(
        "create or replace function wizreg.enter_tenant(t uuid) returns void
         language sql volatile set search_path = pg_catalog, pg_temp
         as $$ select set_config('wizreg.current_tenant', t::text, true) $$",
    )
    .await;
    assert_only(
        &report,
        FindingKind::EnterTenantNotSetLocal,
        "wizreg.enter_tenant(uuid)",
    );
}

#[tokio::test]
async fn shards_with_rls_disabled_are_a_finding_though_the_coordinator_table_is_right() {
    let (_app, report) = broken_on_citus(
        "select run_command_on_placements('wizreg.house',
           'alter table %s disable row level security')",
    )
    .await;
    assert_only(&report, FindingKind::ShardRlsNotEnabled, "wizreg.house");
}

#[tokio::test]
async fn shards_whose_rls_is_not_forced_are_a_finding() {
    let (_app, report) = broken_on_citus(
        "select run_command_on_placements('wizreg.student',
           'alter table %s no force row level security')",
    )
    .await;
    assert_only(&report, FindingKind::ShardRlsNotForced, "wizreg.student");
}

#[tokio::test]
async fn shards_without_the_tenant_policy_are_a_finding() {
    let (_app, report) = broken_on_citus(
        "select run_command_on_placements('wizreg.api_key',
           'drop policy tenant_isolation on %s')",
    )
    .await;
    assert_only(&report, FindingKind::ShardPolicyWrong, "wizreg.api_key");
}

#[tokio::test]
async fn a_policy_added_on_the_shards_only_is_a_finding() {
    let (_app, report) = broken_on_citus(
        "select run_command_on_placements('wizreg.student',
           'create policy widen on %s for select using (true)')",
    )
    .await;
    assert_only(
        &report,
        FindingKind::ShardExtraPolicy,
        "widen (permissive) on shards of wizreg.student",
    );
}

#[tokio::test]
async fn a_restrictive_policy_comes_out_permissive_on_the_shards_and_both_are_findings() {
    let (_app, report) = broken_on_citus(
        "create policy guard on wizreg.student as restrictive for all using (true)",
    )
    .await;
    // On the coordinator it is the restrictive policy that was written...
    assert_finds(
        &report,
        FindingKind::ExtraPolicy,
        "policy guard on wizreg.student",
    );
    // ...and on the shards Citus made it permissive: OR-ed with the tenant policy, it would
    // let every school see every row.
    assert_finds(
        &report,
        FindingKind::ShardExtraPolicy,
        "guard (permissive) on shards of wizreg.student",
    );
    assert_eq!(report.findings.len(), 2, "{:?}", report.findings);
}
