//! The isolation audit: clean on the template schema, and one finding (naming the object and
//! the fix) for each fault planted in a copy of it.

use std::collections::BTreeSet;

use tenancy::audit::{run_for, FindingKind};
use tenancy::Convention;

use crate::harness::TestDb;

#[tokio::test]
async fn the_template_schema_passes_the_audit() {
    let db = TestDb::new().await;

    let report = run_for(&db.superuser().await, &Convention::default())
        .await
        .expect("the audit runs");

    assert!(report.is_clean(), "{:#?}", report.findings);
    assert_eq!(report.inspected.tenant_tables, ["app.project", "app.task"]);
    assert_eq!(report.inspected.policies, 2);
    assert_eq!(report.inspected.foreign_keys, 1);
}

#[tokio::test]
async fn each_fault_planted_in_the_template_is_one_finding() {
    let db = TestDb::new().await;
    let admin = db.superuser().await;
    admin
        .batch_execute(&format!(
            "alter table app.task no force row level security;
             create policy everyone on app.project for select using (true);
             create table app.note (tenant_id uuid not null, id serial, body text, unique (id));
             alter table app.note owner to app_owner;
             grant truncate on app.task to app_user;
             create view app.every_task as select * from app.task;
             grant select on app.every_task to app_user;
             grant create on schema app to app_user;
             grant temporary on database {} to app_user;",
            db.name
        ))
        .await
        .expect("plant the faults");

    let report = run_for(&admin, &Convention::default())
        .await
        .expect("the audit runs");

    let found: BTreeSet<(&str, &str)> = report
        .findings
        .iter()
        .map(|f| (f.kind.as_str(), f.object.as_str()))
        .collect();
    let expected: BTreeSet<(&str, &str)> = [
        (FindingKind::RlsNotForced, "table app.task"),
        (FindingKind::ExtraPolicy, "policy everyone on app.project"),
        (FindingKind::RlsNotEnabled, "table app.note"),
        (FindingKind::RlsNotForced, "table app.note"),
        (FindingKind::TenantPolicyMissing, "table app.note"),
        (
            FindingKind::KeyWithoutTenant,
            "unique index note_id_key on app.note",
        ),
        (FindingKind::SequenceColumn, "column app.note.id"),
        (FindingKind::DangerousGrant, "table app.task"),
        (FindingKind::ViewNotSecurityInvoker, "view app.every_task"),
        (FindingKind::RuntimeRoleCanCreate, "schema app"),
    ]
    .into_iter()
    .map(|(kind, object)| (kind.as_str(), object))
    .chain([(
        FindingKind::RuntimeRoleCanUseTemp.as_str(),
        format!("database {}", db.name).leak() as &str,
    )])
    .collect();
    assert_eq!(found, expected, "{:#?}", report.findings);
    assert!(report
        .findings
        .iter()
        .all(|f| !f.fix.is_empty() && !f.problem.is_empty()));
}

#[tokio::test]
async fn a_schema_of_the_convention_without_tenant_tables_is_reported() {
    let db = TestDb::new().await;
    let admin = db.superuser().await;
    admin
        .batch_execute("create schema reporting authorization app_owner")
        .await
        .expect("create an empty schema");
    let convention = Convention::builder()
        .schema("app")
        .schema("reporting")
        .build()
        .expect("valid");

    let report = run_for(&admin, &convention).await.expect("the audit runs");

    let kinds: Vec<_> = report
        .findings
        .iter()
        .map(|f| (f.kind, f.object.as_str()))
        .collect();
    assert_eq!(kinds, [(FindingKind::NoTenantTables, "schema reporting")]);
}

#[tokio::test]
async fn the_audit_reads_the_names_it_checks_from_the_convention() {
    let db = TestDb::new().await;
    let elsewhere = Convention::builder()
        .tenant_setting("other.current_tenant")
        .build()
        .expect("valid");

    let report = run_for(&db.superuser().await, &elsewhere)
        .await
        .expect("the audit runs");

    // The template's policies compare with app.current_tenant, not the setting named here.
    let wrong: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::TenantPolicyWrong)
        .map(|f| f.object.as_str())
        .collect();
    assert_eq!(wrong, ["table app.project", "table app.task"]);
}
