//! What the load generator sends: the routes under test, one request of a route for a school
//! drawn at random, and the check that an answer belongs to the school it asked for.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::dataset::{school_id, school_slug, student_id};
use crate::http::{count, request};
use crate::load::Target;

/// The routes under test, and `/healthz` for the HTTP floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Route {
    GetById,
    List,
    Create,
    Update,
    /// No database work, through every middleware: the server's HTTP floor.
    Healthz,
    /// `POST /students` with a fresh `Idempotency-Key` each time (the soak's writes).
    CreateKeyed,
}

/// The page size of the list route (as in the targets: a list of 10).
pub const LIST_LIMIT: i64 = 10;

impl Route {
    /// The tenant routes.
    pub const ALL: [Route; 4] = [Route::GetById, Route::List, Route::Create, Route::Update];

    pub fn label(self) -> &'static str {
        match self {
            Route::GetById => "GET /students/{id}",
            Route::List => "GET /students?limit=10",
            Route::Create => "POST /students",
            Route::Update => "PATCH /students/{id}",
            Route::Healthz => "GET /healthz",
            Route::CreateKeyed => "POST /students, Idempotency-Key",
        }
    }
}

/// A small fast generator (xorshift): the load must cost little CPU.
pub struct Draw(pub u64);

impl Draw {
    pub fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % u64::from(n)) as u32
    }
}

/// How a request names school `t`: its API key when the target has keys, else `X-Tenant`.
pub fn credential(target: &Target, t: u32) -> (&'static str, String) {
    match &target.api_keys {
        Some(keys) => (
            "authorization",
            format!("Bearer {}", keys[(t - 1) as usize]),
        ),
        None => ("x-tenant", school_slug(t)),
    }
}

/// One request of `route` for a random school: its bytes, the status to expect and the school.
pub fn next_request(
    target: &Target,
    route: Route,
    draw: &mut Draw,
    seq: u64,
) -> (Vec<u8>, u16, u32) {
    let t = draw.below(target.size.schools) + 1;
    let n = draw.below(target.size.students_per_school) + 1;
    let (name, value) = credential(target, t);
    let headers = [(name, value.as_str())];
    let (bytes, status) = match route {
        Route::GetById => (
            request(
                "GET",
                &format!("/students/{}", student_id(t, n)),
                &headers,
                None,
            ),
            200,
        ),
        Route::List => (
            request(
                "GET",
                &format!("/students?limit={LIST_LIMIT}"),
                &headers,
                None,
            ),
            200,
        ),
        Route::Healthz => (request("GET", "/healthz", &[], None), 200),
        Route::CreateKeyed => {
            // Unique across runs too, so every keyed create stores a new key.
            static NEXT_KEY: AtomicU64 = AtomicU64::new(0);
            let key = format!("bench-{}", NEXT_KEY.fetch_add(1, Ordering::Relaxed));
            let headers = [(name, value.as_str()), ("idempotency-key", key.as_str())];
            let body = format!("{{\"name\":\"Bench Student {seq}\"}}");
            (request("POST", "/students", &headers, Some(&body)), 201)
        }
        Route::Create => (
            request(
                "POST",
                "/students",
                &headers,
                Some(&format!("{{\"name\":\"Bench Student {seq}\"}}")),
            ),
            201,
        ),
        Route::Update => (
            request(
                "PATCH",
                &format!("/students/{}", student_id(t, n)),
                &headers,
                Some(&format!("{{\"name\":\"Renamed {seq}\"}}")),
            ),
            200,
        ),
    };
    (bytes, status, t)
}

/// Whether every record in `body` belongs to school `t` (and there is at least one).
pub fn belongs_to(body: &[u8], t: u32) -> bool {
    let ours = format!("\"tenant_id\":\"{}\"", school_id(t));
    let all = count(body, b"\"tenant_id\":\"");
    all > 0 && count(body, ours.as_bytes()) == all
}
