//! The concurrency proof: thousands of requests from many schools interleaved through a pool of
//! two connections, about a tenth of them cancelled mid-flight, and every row of every answer
//! checked against the caller's school. Pooled connections are verified by the server at each
//! reuse (`verify_checkout`): none may be handed out inside a transaction or with a tenant set.
//! `pgbouncer.rs` runs the same load through PgBouncer.

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
use wizreg::config::Config;
use wizreg::database::Role;
use wizreg::http::AppState;

use crate::harness::{body_bytes, tenant_request, TestApp};

pub const SCHOOLS: usize = 20;
pub const REQUESTS: usize = 5_000;
const IN_FLIGHT: usize = 6;

/// The settings under test: two connections, every reuse verified, no rate limits (the load
/// is the point), and room to wait for a connection rather than get a 503.
pub fn load_config(config: &mut Config) {
    config.pool_size = 2;
    config.verify_checkout = true;
    config.pool_timeout_ms = 30_000;
    config.rate_limit_per_sec = 0;
    config.tenant_max_concurrency = None;
}

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
    pub rolled_back_on_drop: u64,
    pub discarded_in_transaction: u64,
}

pub async fn send(
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
    figures.rolled_back_on_drop = stats.rolled_back_on_drop.load(Ordering::Relaxed);
    figures.discarded_in_transaction = stats.discarded_in_transaction.load(Ordering::Relaxed);
    figures
}

/// The assertions both runs share, after printing the figures for the record.
pub fn assert_isolated(label: &str, figures: &Figures) {
    println!(
        "{label}: {} requests across {SCHOOLS} schools, {} completed, {} cancelled by the client ({} rolled back mid-transaction), {} rows checked, {} foreign rows; {} pooled checkouts verified, {} violations, {} discarded in a transaction",
        figures.requests, figures.completed, figures.cancelled, figures.rolled_back_on_drop, figures.rows_checked, figures.foreign_rows, figures.verified_checkouts, figures.violations, figures.discarded_in_transaction
    );
    assert_eq!(
        figures.foreign_rows, 0,
        "rows of another school were returned"
    );
    assert_eq!(
        figures.violations, 0,
        "a connection was handed out inside a transaction or with a tenant set"
    );
    assert!(
        figures.unexpected_statuses.is_empty(),
        "{:?}",
        &figures.unexpected_statuses[..figures.unexpected_statuses.len().min(5)]
    );
    assert!(figures.requests >= 5_000);
    let tenth = figures.requests / 10;
    assert!(
        figures.cancelled > tenth / 2 && figures.cancelled < tenth * 2,
        "about 10% cancelled: {}",
        figures.cancelled
    );
    assert!(
        figures.rolled_back_on_drop > 0,
        "some cancellations landed inside a transaction"
    );
    assert!(
        figures.verified_checkouts as usize > figures.completed / 2,
        "the checkout check ran"
    );
    assert!(
        figures.rows_checked > figures.completed,
        "lists returned rows to check"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_requests_from_twenty_schools_through_two_connections_with_cancellations_never_cross_schools(
) {
    let mut config = None;
    let app = TestApp::with_config(|c| {
        load_config(c);
        config = Some(c.clone());
    })
    .await;
    let config = config.expect("configured");
    let state = wizreg::serve::app_state(&config, &app.database)
        .await
        .expect("state");
    let figures = run_load(&app, state, 4).await;
    assert_isolated("direct", &figures);
}
