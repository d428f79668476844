//! The load itself: the schools and their first students, `REQUESTS` planned requests run
//! `IN_FLIGHT` at a time with about a tenth dropped mid-flight, and every answered row checked
//! against the caller's school.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::Method;
use axum::Router;
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tower::ServiceExt;
use wizreg::database::Role;
use wizreg::http::AppState;

use super::{IN_FLIGHT, REQUESTS, SCHOOLS};
use crate::harness::{body_bytes, tenant_request, TestApp};

/// One school taking part: its id, slug and the students it created up front.
struct School {
    id: String,
    slug: String,
    students: Vec<String>,
}

/// What a run saw; `foreign_rows` and `violations` must be zero.
#[derive(Debug, Default)]
pub struct Figures {
    pub requests: usize,
    pub completed: usize,
    pub cancelled: usize,
    pub rows_checked: usize,
    pub foreign_rows: usize,
    pub unexpected_statuses: Vec<(u16, String)>,
    pub verified_checkouts: u64,
    pub violations: u64,
    /// Tenant transactions a cancellation caught open (rolled back, or released after their
    /// `COMMIT` had been sent).
    pub rolled_back_on_drop: u64,
    pub discarded_in_transaction: u64,
}

async fn send(
    router: &Router,
    method: Method,
    path: &str,
    tenant: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let response = router
        .clone()
        .oneshot(tenant_request(method, path, tenant, body))
        .await
        .expect("infallible");
    let status = response.status().as_u16();
    let bytes = body_bytes(response).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Creates the schools (two exist already) and a few students in each.
async fn schools(app: &TestApp, router: &Router) -> Vec<School> {
    let platform = app
        .database
        .connect(Role::Platform)
        .await
        .expect("platform");
    let mut schools = Vec::new();
    for n in 0..SCHOOLS {
        let record = match n {
            0 => app.hogwarts.clone(),
            1 => app.castelobruxo.clone(),
            _ => {
                let slug = tenancy::Slug::parse(&format!("school-{n}")).expect("slug");
                wizreg::tenants::create(&platform, &slug, slug.as_str())
                    .await
                    .expect("create school")
            }
        };
        let slug = record.slug.to_string();
        let mut students = Vec::new();
        for s in 0..3 {
            let (status, body) = send(
                router,
                Method::POST,
                "/students",
                &slug,
                Some(json!({"name": format!("{slug} pupil {s}")})),
            )
            .await;
            assert_eq!(status, 201, "{body}");
            students.push(body["id"].as_str().expect("id").to_owned());
        }
        send(
            router,
            Method::POST,
            "/houses",
            &slug,
            Some(json!({"name": format!("{slug} house")})),
        )
        .await;
        schools.push(School {
            id: record.id.to_string(),
            slug,
            students,
        });
    }
    schools
}

/// Counts the rows in `body` (one object or an array) and those of another school.
fn check_rows(body: &Value, school: &str, figures: &mut Figures) {
    let rows: Vec<&Value> = match body {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![body],
        _ => Vec::new(),
    };
    for row in rows {
        figures.rows_checked += 1;
        if row["tenant_id"].as_str() != Some(school) {
            figures.foreign_rows += 1;
        }
    }
}

/// One request of the load: which school, which operation (0..100), and whether the client
/// gives up on it — after a number of polls (`true`) or of 250 µs steps (`false`).
struct Planned {
    school: usize,
    op: u32,
    cancel: Option<(bool, u32)>,
}

/// Runs `request` to completion, or drops it mid-flight after a random number of polls or a
/// random instant: `None` when it was cancelled.
async fn maybe_cancelled<F: Future>(request: F, cancel: Option<(bool, u32)>) -> Option<F::Output> {
    let Some((by_polls, amount)) = cancel else {
        return Some(request.await);
    };
    let deadline = async move {
        if by_polls {
            for _ in 0..amount {
                tokio::task::yield_now().await;
            }
        } else {
            tokio::time::sleep(Duration::from_micros(u64::from(amount) * 250)).await;
        }
    };
    tokio::select! {
        biased;
        output = request => Some(output),
        () = deadline => None,
    }
}

/// The load: `REQUESTS` requests over every school, `IN_FLIGHT` at a time, about 10% cancelled.
pub async fn run_load(app: &TestApp, state: AppState, seed: u64) -> Figures {
    let router = wizreg::http::router(state.clone());
    let schools = schools(app, &router).await;
    let mut rng = StdRng::seed_from_u64(seed);
    let plan: Vec<Planned> = (0..REQUESTS)
        .map(|_| Planned {
            cancel: rng
                .random_bool(0.12)
                .then(|| (rng.random_bool(0.5), rng.random_range(1..60))),
            school: rng.random_range(0..SCHOOLS),
            op: rng.random_range(0..100),
        })
        .collect();
    let outcomes: Vec<_> = futures_util::stream::iter(plan)
        .map(|Planned { school: n, op, cancel }| {
            let school = &schools[n];
            let router = &router;
            async move {
                let student = &school.students[op as usize % school.students.len()];
                let (method, path, body) = match op {
                    0..40 => (Method::GET, "/students?limit=1000".to_owned(), None),
                    40..55 => (Method::GET, "/houses".to_owned(), None),
                    55..75 => (Method::GET, format!("/students/{student}"), None),
                    75..90 => (Method::POST, "/students".to_owned(), Some(json!({"name": "New pupil", "email": format!("{}@school.example", uuid::Uuid::now_v7())}))),
                    _ => (Method::PATCH, format!("/students/{student}"), Some(json!({"name": format!("Renamed {op}")}))),
                };
                let outcome = maybe_cancelled(send(router, method, &path, &school.slug, body), cancel).await;
                (n, outcome)
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;

    let mut figures = Figures {
        requests: REQUESTS,
        ..Figures::default()
    };
    for (n, outcome) in outcomes {
        match outcome {
            None => figures.cancelled += 1,
            Some((status, body)) => {
                figures.completed += 1;
                if !(200..300).contains(&status) {
                    figures.unexpected_statuses.push((status, body.to_string()));
                }
                check_rows(&body, &schools[n].id, &mut figures);
            }
        }
    }
    // Let the rollbacks of cancelled transactions land, then reuse every connection once more
    // so each is verified after the last cancellation.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for school in &schools {
        let (status, body) = send(
            &router,
            Method::GET,
            "/students?limit=1000",
            &school.slug,
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        check_rows(&body, &school.id, &mut figures);
    }
    let stats = state.tenancy.checkout_stats();
    figures.verified_checkouts = stats.verified.load(Ordering::Relaxed);
    figures.violations = stats.violations.load(Ordering::Relaxed);
    // Caught inside a transaction: rolled back, or (its COMMIT already sent, as it is for every
    // single-statement request once its pipeline has left) released with nothing more to send.
    figures.rolled_back_on_drop = stats.rolled_back_on_drop.load(Ordering::Relaxed)
        + stats.dropped_after_commit.load(Ordering::Relaxed);
    figures.discarded_in_transaction = stats.discarded_in_transaction.load(Ordering::Relaxed);
    figures
}
