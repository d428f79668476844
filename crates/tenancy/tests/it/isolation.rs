//! Fail closed: with no tenant entered a tenant table reads as empty and refuses writes, and a
//! tenant entered sees and changes only its own rows.

use tenancy::{DbErrorKind, PoolOptions, Query};
use tokio_postgres::types::Type;

use crate::harness::{insert_project, one_connection, project_names, stored_projects, TestDb};

#[tokio::test]
async fn with_no_tenant_entered_tenant_tables_read_empty_and_refuse_writes() {
    let db = TestDb::new().await;
    let acme = db.account("acme").await;
    let tenancy = db.tenancy(PoolOptions::default());
    tenancy
        .run(acme, insert_project("Launch"))
        .await
        .expect("a tenant writes its own row");

    let visible = tenancy
        .run_outside_tenant("select count(*) from app.project", &[])
        .await
        .expect("reading is allowed")[0]
        .get::<_, i64>(0);
    let id = uuid::Uuid::now_v7();
    let acme_id = acme.as_uuid();
    let write = tenancy
        .run_outside_tenant(
            "insert into app.project (tenant_id, id, name) values ($1, $2, 'Sneaky')",
            &[(&acme_id, Type::UUID), (&id, Type::UUID)],
        )
        .await;
    let defaulted = tenancy
        .run_outside_tenant(
            "insert into app.project (id, name) values ($1, 'Sneaky')",
            &[(&id, Type::UUID)],
        )
        .await;

    assert_eq!(visible, 0, "no tenant entered: no rows");
    assert_eq!(
        write.expect_err("no tenant entered: no writes").kind(),
        DbErrorKind::InsufficientPrivilege
    );
    assert!(defaulted.is_err(), "a defaulted tenant column is no tenant");
    assert_eq!(stored_projects(&db, acme).await, 1);
}

#[tokio::test]
async fn a_tenant_sees_and_changes_only_its_own_rows() {
    let db = TestDb::new().await;
    let (acme, globex) = (db.account("acme").await, db.account("globex").await);
    let tenancy = db.tenancy(PoolOptions::default());
    let acme_project = tenancy
        .run(acme, insert_project("Rocket"))
        .await
        .expect("insert");
    tenancy
        .run(globex, insert_project("Dome"))
        .await
        .expect("insert");

    // Without the belt-and-braces `where tenant_id = $1`: the policy alone must hold.
    let rename = |name: &'static str| {
        Query::new("update app.project set name = $3 where id = $2")
            .bind(acme_project, Type::UUID)
            .bind(name, Type::TEXT)
            .map(|rows| Ok(rows.len()))
    };
    let all_names = || {
        Query::new("select name from app.project order by name")
            .map(|rows| Ok(rows.iter().map(|r| r.get(0)).collect::<Vec<String>>()))
    };
    let globex_sees = tenancy.run(globex, all_names()).await.expect("list");
    let globex_renames = tenancy
        .run(globex, rename("Hijacked"))
        .await
        .expect("update");
    let globex_deletes = tenancy
        .run(
            globex,
            Query::new("delete from app.project where id = $2")
                .bind(acme_project, Type::UUID)
                .map(|rows| Ok(rows.len())),
        )
        .await
        .expect("delete");

    assert_eq!(globex_sees, ["Dome"]);
    assert_eq!(globex_renames, 0, "another tenant's row is not there");
    assert_eq!(globex_deletes, 0, "another tenant's row is not there");
    assert_eq!(
        tenancy.run(acme, project_names()).await.expect("list"),
        ["Rocket"]
    );
}

#[tokio::test]
async fn a_tenant_cannot_write_a_row_for_another_tenant_or_point_at_one() {
    let db = TestDb::new().await;
    let (acme, globex) = (db.account("acme").await, db.account("globex").await);
    let tenancy = db.tenancy(PoolOptions::default());
    let globex_project = tenancy
        .run(globex, insert_project("Dome"))
        .await
        .expect("insert");

    let foreign_row = tenancy
        .run(
            acme,
            Query::new("insert into app.project (tenant_id, id, name) values ($2, $3, 'Planted')")
                .bind(globex.as_uuid(), Type::UUID)
                .bind(uuid::Uuid::now_v7(), Type::UUID),
        )
        .await;
    let foreign_reference = tenancy
        .run(
            acme,
            Query::new(
                "insert into app.task (tenant_id, id, project_id, title) values ($1, $2, $3, 'Spy')",
            )
            .bind(uuid::Uuid::now_v7(), Type::UUID)
            .bind(globex_project, Type::UUID),
        )
        .await;

    assert_eq!(
        foreign_row.expect_err("refused").kind(),
        DbErrorKind::InsufficientPrivilege
    );
    assert_eq!(
        foreign_reference.expect_err("refused").kind(),
        DbErrorKind::ForeignKeyViolation,
        "the composite key finds no such project for this tenant"
    );
    assert_eq!(stored_projects(&db, globex).await, 1);
}

#[tokio::test]
async fn the_tenant_setting_ends_with_its_transaction() {
    let db = TestDb::new().await;
    let acme = db.account("acme").await;
    let tenancy = db.tenancy(one_connection());
    let setting = || {
        Query::new(
            "select coalesce(current_setting('app.current_tenant', true), ''), pg_backend_pid()",
        )
        .map(|rows| Ok((rows[0].get::<_, String>(0), rows[0].get::<_, i32>(1))))
    };

    let (inside, pid) = tenancy.run(acme, setting()).await.expect("inside");
    // Another statement text: a statement is prepared once per text, with the tenant as $1.
    let after = tenancy
        .run_outside_tenant(
            "select coalesce(current_setting('app.current_tenant', true), '') as after, pg_backend_pid()",
            &[],
        )
        .await
        .expect("after");

    assert_eq!(inside, acme.to_string());
    assert_eq!(after[0].get::<_, i32>(1), pid, "the same connection");
    assert_eq!(after[0].get::<_, String>(0), "", "and no tenant left on it");
}
