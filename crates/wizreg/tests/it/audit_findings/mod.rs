//! One test per kind of audit finding: each breaks a fresh database in exactly one way (as a
//! superuser) and asserts the audit names that finding. Role attributes are cluster-wide, so
//! tests that break a role create a role of their own and audit as it. Roles, grants and
//! settings are here; the schema's objects (tables, policies, keys, views, functions) are in
//! `schema_objects.rs`; what only a Citus cluster can get wrong (distribution, shard
//! placements, SET propagation) in `citus.rs`, on the Citus test cluster.

mod citus;
mod schema_objects;

use tenancy::audit::{AuditReport, FindingKind};

use crate::audit::{audit, audit_as};
use crate::harness::TestApp;

/// A fresh database broken by `sql` (`{db}` is replaced by the database's name).
async fn broken(sql: &str) -> (TestApp, AuditReport) {
    let app = TestApp::new().await;
    app.privileged()
        .await
        .batch_execute(&sql.replace("{db}", &app.dbname))
        .await
        .expect("break the database");
    let report = audit(&app).await;
    (app, report)
}

/// A login role of this test's own, member of the runtime role.
async fn own_role(app: &TestApp, attributes: &str) -> String {
    let role = format!("audit_{}", app.dbname);
    app.privileged()
        .await
        .batch_execute(&format!(
            "create role {role} login {attributes}; grant wizreg_app to {role}"
        ))
        .await
        .expect("create the role");
    role
}

fn assert_finds(report: &AuditReport, kind: FindingKind, object: &str) {
    let lines: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.kind == kind && f.object.contains(object) && !f.fix.is_empty()),
        "expected {} on {object}, got {lines:#?}",
        kind.as_str()
    );
}

#[tokio::test]
async fn a_superuser_runtime_role_is_a_finding() {
    let app = TestApp::new().await;
    let role = own_role(&app, "superuser").await;
    let report = audit_as(&app, &role).await;
    assert_finds(&report, FindingKind::RuntimeRoleSuperuser, &role);
}

#[tokio::test]
async fn a_bypassrls_runtime_role_is_a_finding() {
    let app = TestApp::new().await;
    let role = own_role(&app, "bypassrls").await;
    let report = audit_as(&app, &role).await;
    assert_finds(&report, FindingKind::RuntimeRoleBypassesRls, &role);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
}

#[tokio::test]
async fn a_runtime_role_that_is_a_member_of_the_owner_is_a_finding() {
    let app = TestApp::new().await;
    let role = own_role(&app, "").await;
    app.privileged()
        .await
        .batch_execute(&format!("grant wizreg_owner to {role}"))
        .await
        .expect("grant");
    let report = audit_as(&app, &role).await;
    assert_finds(
        &report,
        FindingKind::RuntimeRoleOwnsTenantTable,
        "wizreg.student",
    );
    assert_finds(
        &report,
        FindingKind::RuntimeRoleOwnsTenantTable,
        "wizreg.house",
    );
}

#[tokio::test]
async fn a_runtime_role_that_owns_a_tenant_table_is_a_finding() {
    let app = TestApp::new().await;
    let role = own_role(&app, "").await;
    app.privileged()
        .await
        .batch_execute(&format!("alter table wizreg.house owner to {role}"))
        .await
        .expect("change owner");
    let report = audit_as(&app, &role).await;
    assert_finds(
        &report,
        FindingKind::RuntimeRoleOwnsTenantTable,
        "wizreg.house",
    );
}

#[tokio::test]
async fn create_on_a_schema_is_a_finding() {
    let (_app, report) = broken("grant create on schema wizreg to wizreg_app").await;
    assert_finds(&report, FindingKind::RuntimeRoleCanCreate, "schema wizreg");
}

#[tokio::test]
async fn temp_on_the_database_is_a_finding() {
    let (app, report) = broken("grant temporary on database {db} to wizreg_app").await;
    assert_finds(&report, FindingKind::RuntimeRoleCanUseTemp, &app.dbname);
}

#[tokio::test]
async fn truncate_references_and_trigger_grants_are_findings() {
    let (_app, report) =
        broken("grant truncate, references, trigger on wizreg.student to wizreg_app").await;
    for privilege in ["TRUNCATE", "REFERENCES", "TRIGGER"] {
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.kind == FindingKind::DangerousGrant
                    && f.object == "table wizreg.student"
                    && f.problem.contains(privilege)),
            "{privilege}: {:?}",
            report.findings
        );
    }
}

#[tokio::test]
async fn a_database_or_role_default_for_the_tenant_setting_is_a_finding() {
    let tenant = uuid::Uuid::now_v7();
    for scope in ["database {db}", "role wizreg_app in database {db}"] {
        let (_app, report) = broken(&format!(
            "alter {scope} set wizreg.current_tenant = '{tenant}'"
        ))
        .await;
        assert_finds(
            &report,
            FindingKind::TenantSettingDefault,
            "wizreg.current_tenant",
        );
    }
}
