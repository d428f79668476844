//! One step of the model test: an operation applied through the API and to the model, with
//! the status the model predicts (a foreign id must look exactly like a missing one).

use axum::http::StatusCode;
use serde_json::json;

use super::{Op, School, SCHOOLS};
use crate::harness::TestApp;

fn pick(keys: Vec<&String>, index: u8) -> Option<String> {
    (!keys.is_empty()).then(|| keys[index as usize % keys.len()].clone())
}

/// Applies `op` through the API and to the model, asserting the status the model predicts.
pub(super) async fn step(app: &TestApp, model: &mut [School], school: usize, op: &Op) {
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
