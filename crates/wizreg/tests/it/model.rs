//! Model-based property test: random sequences of creates, updates and deletes of students
//! and houses by random schools — including attempts on another school's records — checked
//! after every step against a plain in-memory model of each school's own data. Every school's
//! view must equal its model: nothing leaks in, nothing of its own goes missing.

use std::collections::BTreeMap;

use axum::http::StatusCode;
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

fn pick(keys: Vec<&String>, index: u8) -> Option<String> {
    (!keys.is_empty()).then(|| keys[index as usize % keys.len()].clone())
}

/// Applies `op` through the API and to the model, asserting the status the model predicts.
async fn step(app: &TestApp, model: &mut [School], school: usize, op: &Op) {
    let slug = SCHOOLS[school];
    let other = (school + 1) % SCHOOLS.len();
    let (status, expected) = match op.clone() {
        Op::CreateStudent { name, email, house } => {
            let email = email.map(|e| format!("pupil{e}@example.org"));
            let house_id = house.and_then(|(foreign, i)| {
                pick(
                    model[if foreign { other } else { school }]
                        .houses
                        .keys()
                        .collect(),
                    i,
                )
                .map(|id| (foreign, id))
            });
            let reply = app.post("/students", json!({"name": format!("S{name}"), "email": email, "house_id": house_id.as_ref().map(|(_, id)| id)})).tenant(slug).send().await;
            let taken = email.is_some() && model[school].students.values().any(|s| s.1 == email);
            let expected = if house_id.as_ref().is_some_and(|(foreign, _)| *foreign) {
                StatusCode::UNPROCESSABLE_ENTITY
            } else if taken {
                StatusCode::CONFLICT
            } else {
                StatusCode::CREATED
            };
            if reply.status == StatusCode::CREATED {
                model[school].students.insert(
                    reply.id(),
                    (format!("S{name}"), email, house_id.map(|(_, id)| id)),
                );
            }
            (reply.status, expected)
        }
        Op::UpdateStudent {
            target,
            name,
            email,
        } => {
            let Some(id) = pick(model[school].students.keys().collect(), target) else {
                return;
            };
            let email = email.map(|e| format!("pupil{e}@example.org"));
            let reply = app
                .patch(
                    &format!("/students/{id}"),
                    json!({"name": format!("S{name}"), "email": email}),
                )
                .tenant(slug)
                .send()
                .await;
            let taken = email.is_some()
                && model[school]
                    .students
                    .iter()
                    .any(|(other_id, s)| *other_id != id && s.1 == email);
            if reply.status == StatusCode::OK {
                let student = model[school].students.get_mut(&id).expect("known");
                (student.0, student.1) = (format!("S{name}"), email);
            }
            (
                reply.status,
                if taken {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::OK
                },
            )
        }
        Op::DeleteStudent { target, foreign } => {
            let owner = if foreign { other } else { school };
            let Some(id) = pick(model[owner].students.keys().collect(), target) else {
                return;
            };
            let reply = app
                .delete(&format!("/students/{id}"))
                .tenant(slug)
                .send()
                .await;
            if !foreign && reply.status == StatusCode::NO_CONTENT {
                model[school].students.remove(&id);
            }
            (
                reply.status,
                if foreign {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::NO_CONTENT
                },
            )
        }
        Op::CreateHouse { name } => {
            let reply = app
                .post("/houses", json!({"name": format!("H{name}")}))
                .tenant(slug)
                .send()
                .await;
            let taken = model[school]
                .houses
                .values()
                .any(|h| *h == format!("H{name}"));
            if reply.status == StatusCode::CREATED {
                model[school].houses.insert(reply.id(), format!("H{name}"));
            }
            (
                reply.status,
                if taken {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::CREATED
                },
            )
        }
        Op::RenameHouse { target, name } => {
            let Some(id) = pick(model[school].houses.keys().collect(), target) else {
                return;
            };
            let reply = app
                .patch(
                    &format!("/houses/{id}"),
                    json!({"name": format!("H{name}")}),
                )
                .tenant(slug)
                .send()
                .await;
            let taken = model[school]
                .houses
                .iter()
                .any(|(other_id, h)| *other_id != id && *h == format!("H{name}"));
            if reply.status == StatusCode::OK {
                model[school].houses.insert(id, format!("H{name}"));
            }
            (
                reply.status,
                if taken {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::OK
                },
            )
        }
        Op::DeleteHouse { target, foreign } => {
            let owner = if foreign { other } else { school };
            let Some(id) = pick(model[owner].houses.keys().collect(), target) else {
                return;
            };
            let reply = app
                .delete(&format!("/houses/{id}"))
                .tenant(slug)
                .send()
                .await;
            if !foreign && reply.status == StatusCode::NO_CONTENT {
                model[school].houses.remove(&id);
                for student in model[school].students.values_mut() {
                    if student.2.as_ref() == Some(&id) {
                        student.2 = None;
                    }
                }
            }
            (
                reply.status,
                if foreign {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::NO_CONTENT
                },
            )
        }
    };
    assert_eq!(status, expected, "{slug}: {op:?}");
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
