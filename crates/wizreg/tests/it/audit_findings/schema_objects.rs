//! Findings about the schema's objects: tenant tables and partitions without (forced) RLS,
//! missing or loose policies, keys and foreign keys without `tenant_id`, sequences, views that
//! run as their owner, and security-definer functions. (Roles and grants are in `mod.rs`.)

use tenancy::audit::FindingKind;

use super::{assert_finds, broken};
use crate::audit::audit;

#[tokio::test]
async fn a_tenant_table_without_rls_is_a_finding() {
    let (_app, report) = broken("alter table wizreg.house disable row level security").await;
    assert_finds(&report, FindingKind::RlsNotEnabled, "wizreg.house");
}

#[tokio::test]
async fn a_tenant_table_whose_rls_is_not_forced_is_a_finding() {
    let (_app, report) = broken("alter table wizreg.student no force row level security").await;
    assert_finds(&report, FindingKind::RlsNotForced, "wizreg.student");
}

#[tokio::test]
async fn a_partition_without_rls_is_a_finding_even_when_its_parent_has_it() {
    let (_app, report) = broken(
        "create table wizreg.note (tenant_id uuid not null, id uuid not null,
           primary key (tenant_id, id)) partition by hash (tenant_id);
         alter table wizreg.note enable row level security;
         alter table wizreg.note force row level security;
         create policy tenant_isolation on wizreg.note for all
           using (tenant_id = nullif(current_setting('wizreg.current_tenant', true), '')::uuid)
           with check (tenant_id = nullif(current_setting('wizreg.current_tenant', true), '')::uuid);
         create table wizreg.note_0 partition of wizreg.note for values with (modulus 1, remainder 0);",
    )
    .await;
    assert!(report
        .inspected
        .tenant_tables
        .contains(&"wizreg.note_0".to_owned()));
    assert_finds(&report, FindingKind::RlsNotEnabled, "wizreg.note_0");
    assert_finds(&report, FindingKind::TenantPolicyMissing, "wizreg.note_0");
    assert!(!report
        .findings
        .iter()
        .any(|f| f.object == "table wizreg.note"));
}

#[tokio::test]
async fn a_tenant_table_without_a_policy_is_a_finding() {
    let (_app, report) = broken("drop policy tenant_isolation on wizreg.house").await;
    assert_finds(&report, FindingKind::TenantPolicyMissing, "wizreg.house");
}

#[tokio::test]
async fn a_policy_for_some_commands_or_another_predicate_or_without_with_check_is_a_finding() {
    let tenant = "tenant_id = nullif(current_setting('wizreg.current_tenant', true), '')::uuid";
    for policy in [
        format!("for select using ({tenant})"),
        "for all using (true) with check (true)".to_owned(),
        format!("for all using ({tenant} or true) with check ({tenant})"),
        format!("for all using ({tenant})"),
        format!("for all using (tenant_id = current_setting('other.setting', true)::uuid) with check ({tenant})"),
    ] {
        let (_app, report) = broken(&format!(
            "drop policy tenant_isolation on wizreg.house;
             create policy tenant_isolation on wizreg.house {policy}"
        ))
        .await;
        assert_finds(&report, FindingKind::TenantPolicyWrong, "wizreg.house");
    }
}

#[tokio::test]
async fn a_second_permissive_or_restrictive_policy_is_a_finding() {
    for extra in [
        "as permissive for select using (true)",
        "as restrictive for all using (true)",
    ] {
        let (_app, report) =
            broken(&format!("create policy widen on wizreg.student {extra}")).await;
        assert_finds(
            &report,
            FindingKind::ExtraPolicy,
            "policy widen on wizreg.student",
        );
        assert!(!report.has(FindingKind::TenantPolicyWrong));
    }
}

#[tokio::test]
async fn a_unique_key_or_index_not_starting_with_tenant_id_is_a_finding() {
    let (_app, report) = broken(
        "alter table wizreg.house add constraint house_global_name unique (name);
         create unique index student_global_email on wizreg.student (email, tenant_id);",
    )
    .await;
    assert_finds(&report, FindingKind::KeyWithoutTenant, "house_global_name");
    assert_finds(
        &report,
        FindingKind::KeyWithoutTenant,
        "student_global_email",
    );
}

#[tokio::test]
async fn a_foreign_key_between_tenant_tables_without_tenant_id_is_a_finding() {
    let (_app, report) = broken(
        "create unique index house_id_only on wizreg.house (id);
         alter table wizreg.student add column mentor_house uuid
           constraint student_mentor_fkey references wizreg.house (id);",
    )
    .await;
    assert_finds(
        &report,
        FindingKind::ForeignKeyWithoutTenant,
        "student_mentor_fkey",
    );
}

#[tokio::test]
async fn serial_and_identity_columns_on_tenant_tables_are_findings() {
    let (_app, report) = broken(
        "alter table wizreg.house add column number bigserial;
         alter table wizreg.student add column seq int generated always as identity;",
    )
    .await;
    assert_finds(&report, FindingKind::SequenceColumn, "wizreg.house.number");
    assert_finds(&report, FindingKind::SequenceColumn, "wizreg.student.seq");
}

#[tokio::test]
async fn a_readable_view_that_is_not_security_invoker_is_a_finding() {
    let (app, report) = broken(
        "create view wizreg.everyone as select * from wizreg.student;
         grant select on wizreg.everyone to wizreg_app;",
    )
    .await;
    assert_finds(
        &report,
        FindingKind::ViewNotSecurityInvoker,
        "wizreg.everyone",
    );

    app.privileged()
        .await
        .batch_execute("alter view wizreg.everyone set (security_invoker = true)")
        .await
        .expect("fix");
    assert!(audit(&app).await.is_clean(), "the fix clears it");
}

#[tokio::test]
async fn an_executable_security_definer_function_is_a_finding_even_with_a_pinned_search_path() {
    let (_app, report) = broken(
        "create function wizreg.peek() returns bigint language sql security definer
           as 'select count(*) from wizreg.student';
         create function wizreg.pinned_peek() returns bigint language sql security definer
           set search_path = pg_catalog, pg_temp as 'select count(*) from wizreg.student';
         grant execute on function wizreg.peek(), wizreg.pinned_peek() to wizreg_app;",
    )
    .await;
    assert_finds(
        &report,
        FindingKind::SecurityDefinerFunction,
        "wizreg.peek()",
    );
    assert_finds(
        &report,
        FindingKind::SecurityDefinerFunction,
        "wizreg.pinned_peek()",
    );
}
