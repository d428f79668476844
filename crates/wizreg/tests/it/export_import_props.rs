//! Property: whatever a school holds (houses, students with or without house and email, odd
//! names), exporting it and importing the file into an empty school gives equal data.

use axum::http::StatusCode;
use proptest::prelude::*;
use serde_json::json;

use crate::export_import::{contents, export, import};
use crate::harness::{Backend, TestApp};

/// House names, then students: name, whether they have an email, which house (by index) if any.
type School = (Vec<String>, Vec<(String, bool, Option<usize>)>);

/// A random school: houses by name, then students naming a house by index (or none).
fn school() -> impl Strategy<Value = School> {
    let name = "[a-zA-Z0-9 '\"\\\\é☃-]{1,20}".prop_filter("not blank", |n| !n.trim().is_empty());
    (
        prop::collection::btree_set(name.clone(), 0..4),
        prop::collection::vec((name, any::<bool>(), prop::option::of(0usize..4)), 0..12),
    )
        .prop_map(|(houses, students)| {
            (
                houses.into_iter().map(|h| h.trim().to_owned()).collect(),
                students,
            )
        })
}

/// Exports a random school from Hogwarts and imports it into Castelobruxo, on `backend`.
async fn round_trip(
    backend: Backend,
    houses: &[String],
    students: &[(String, bool, Option<usize>)],
) {
    let app = TestApp::on(backend).await;
    let mut house_ids = Vec::new();
    for house in houses {
        let created = app
            .post("/houses", json!({"name": house}))
            .tenant("hogwarts")
            .send()
            .await;
        if created.status == StatusCode::CREATED {
            house_ids.push(created.id());
        }
    }
    for (n, (name, with_email, house)) in students.iter().enumerate() {
        let email = with_email.then(|| format!("student{n}@example.org"));
        let house_id = house.and_then(|h| house_ids.get(h).cloned());
        let created = app
            .post(
                "/students",
                json!({"name": name, "email": email, "house_id": house_id}),
            )
            .tenant("hogwarts")
            .send()
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    }
    let exported = export(&app, "hogwarts").await;
    let imported = import(&app, "castelobruxo", exported).await;
    assert_eq!(imported.status, StatusCode::OK, "{imported:?}");
    assert_eq!(
        contents(&app, app.castelobruxo.id.as_uuid()).await,
        contents(&app, app.hogwarts.id.as_uuid()).await
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn any_school_exported_then_imported_holds_the_same_data((houses, students) in school()) {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(round_trip(Backend::Postgres, &houses, &students));
    }
}

proptest! {
    // Fewer cases on Citus: each one copies a distributed database onto three nodes.
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn any_school_exported_then_imported_on_citus_holds_the_same_data((houses, students) in school()) {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(round_trip(Backend::Citus, &houses, &students));
    }
}
