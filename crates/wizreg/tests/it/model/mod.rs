//! Model-based property test: random sequences of creates, updates and deletes of students
//! and houses by random schools — including attempts on another school's records — checked
//! after every step against a plain in-memory model of each school's own data. Every school's
//! view must equal its model: nothing leaks in, nothing of its own goes missing.

mod step;
use step::step;

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};

use crate::harness::TestApp;

const SEQUENCES: usize = 12;
const SCHOOLS: [&str; 3] = ["hogwarts", "castelobruxo", "ilvermorny"];

#[derive(Clone, Debug)]
enum Op {
    CreateStudent {
        name: u8,
        email: Option<u8>,
        house: Option<(bool, u8)>,
    },
    UpdateStudent {
        target: u8,
        name: u8,
        email: Option<u8>,
    },
    DeleteStudent {
        target: u8,
        foreign: bool,
    },
    CreateHouse {
        name: u8,
    },
    RenameHouse {
        target: u8,
        name: u8,
    },
    DeleteHouse {
        target: u8,
        foreign: bool,
    },
}

fn op() -> impl Strategy<Value = (usize, Op)> {
    let op = prop_oneof![
        3 => (0..3u8, proptest::option::of(0..3u8), proptest::option::of((any::<bool>(), 0..4u8)))
            .prop_map(|(name, email, house)| Op::CreateStudent { name, email, house }),
        2 => (0..4u8, 0..3u8, proptest::option::of(0..3u8))
            .prop_map(|(target, name, email)| Op::UpdateStudent { target, name, email }),
        1 => (0..4u8, any::<bool>()).prop_map(|(target, foreign)| Op::DeleteStudent { target, foreign }),
        2 => (0..3u8).prop_map(|name| Op::CreateHouse { name }),
        1 => (0..4u8, 0..3u8).prop_map(|(target, name)| Op::RenameHouse { target, name }),
        1 => (0..4u8, any::<bool>()).prop_map(|(target, foreign)| Op::DeleteHouse { target, foreign }),
    ];
    (0..SCHOOLS.len(), op)
}

/// One school's data as the model sees it: id → (name, email, house) and id → house name.
#[derive(Clone, Debug, Default, PartialEq)]
struct School {
    students: BTreeMap<String, (String, Option<String>, Option<String>)>,
    houses: BTreeMap<String, String>,
}

/// What `slug` sees through the API, in the model's shape.
async fn view(app: &TestApp, slug: &str, tenant_id: &str) -> School {
    let mut school = School::default();
    let students = app
        .get("/students?limit=1000")
        .tenant(slug)
        .send()
        .await
        .body;
    for s in students.as_array().expect("array") {
        assert_eq!(
            s["tenant_id"], tenant_id,
            "{slug} sees another school's student"
        );
        let text = |v: &Value| v.as_str().map(str::to_owned);
        school.students.insert(
            text(&s["id"]).expect("id"),
            (
                text(&s["name"]).expect("name"),
                text(&s["email"]),
                text(&s["house_id"]),
            ),
        );
    }
    let houses = app.get("/houses?limit=1000").tenant(slug).send().await.body;
    for h in houses.as_array().expect("array") {
        assert_eq!(
            h["tenant_id"], tenant_id,
            "{slug} sees another school's house"
        );
        school.houses.insert(
            h["id"].as_str().expect("id").to_owned(),
            h["name"].as_str().expect("name").to_owned(),
        );
    }
    school
}

#[tokio::test]
async fn random_operations_by_random_schools_leave_every_school_seeing_exactly_its_own_model() {
    let app = TestApp::new().await;
    let third = app
        .post(
            "/admin/tenants",
            json!({"slug": SCHOOLS[2], "name": "Ilvermorny"}),
        )
        .admin()
        .send()
        .await;
    let ids = [
        app.hogwarts.id.to_string(),
        app.castelobruxo.id.to_string(),
        third.id(),
    ];
    let mut runner = TestRunner::deterministic();
    let sequences = proptest::collection::vec(op(), 1..20);
    let mut steps = 0;
    for _ in 0..SEQUENCES {
        let sequence = sequences.new_tree(&mut runner).expect("generate").current();
        app.privileged()
            .await
            .batch_execute("delete from wizreg.student; delete from wizreg.house")
            .await
            .expect("reset");
        let mut model = vec![School::default(); SCHOOLS.len()];
        for (school, op) in &sequence {
            step(&app, &mut model, *school, op).await;
            for (n, slug) in SCHOOLS.iter().enumerate() {
                assert_eq!(
                    view(&app, slug, &ids[n]).await,
                    model[n],
                    "{slug} after {op:?} in {sequence:?}"
                );
            }
            steps += 1;
        }
    }
    assert!(steps >= SEQUENCES, "{steps} steps ran");
}
