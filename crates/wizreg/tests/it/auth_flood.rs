//! Unauthenticated work is capped: a flood of made-up (well-formed) API keys, each a cache miss
//! and so a database lookup, holds at most `WIZREG_UNAUTHENTICATED_DB_CONCURRENCY` pooled
//! connections; the excess is answered `503` at once, and a school with a valid key keeps
//! being served from the rest of the pool.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use tower::ServiceExt;
use wizreg::config::AuthMode;

use crate::auth_api_keys::issue_key;
use crate::harness::TestApp;

const FLOODERS: usize = 128;

async fn get_students(router: &Router, bearer: &str) -> StatusCode {
    let request = Request::get("/students")
        .header("authorization", format!("Bearer {bearer}"))
        .body(Body::empty())
        .expect("request");
    router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible")
        .status()
}

/// A well-formed key for a random school and id: every one misses the cache.
fn made_up_key() -> String {
    let secret: [u8; 32] = rand::random();
    format!(
        "wzk_{}_{}_{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple(),
        hex::encode(secret)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_random_api_keys_cannot_take_the_pool_from_a_school_with_a_valid_key() {
    let app = TestApp::with_config(|c| {
        c.auth = AuthMode::ApiKey;
        c.pool_size = 4;
        // A school starved of connections sees 503s instead of waiting the flood out.
        c.pool_timeout_ms = 250;
        c.unauthenticated_db_concurrency = Some(1);
        // The valid key stays verified for the whole test (a lookup of it would queue with the flood).
        c.api_key_cache_ttl_secs = 600;
    })
    .await;
    let (_, key) = issue_key(&app, "hogwarts").await;
    assert_eq!(get_students(&app.router, &key).await, StatusCode::OK);
    // Every pooled connection made up front, so no request of the test waits for a connect.
    let probes = (0..4).map(|_| {
        let request = Request::get("/readyz")
            .body(Body::empty())
            .expect("request");
        app.router.clone().oneshot(request)
    });
    futures_util::future::join_all(probes).await;

    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<HashMap<u16, u64>>> = Arc::default();
    let flood: Vec<_> = (0..FLOODERS)
        .map(|_| {
            let (router, stop, seen) = (app.router.clone(), stop.clone(), seen.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let status = get_students(&router, &made_up_key()).await;
                    *seen
                        .lock()
                        .expect("lock")
                        .entry(status.as_u16())
                        .or_default() += 1;
                }
            })
        })
        .collect();
    // The flood is under way before the school asks.
    while seen.lock().expect("lock").values().sum::<u64>() < 500 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut school = Vec::new();
    for _ in 0..100 {
        school.push(get_students(&app.router, &key).await);
    }
    stop.store(true, Ordering::Relaxed);
    for task in flood {
        task.await.expect("flooder");
    }

    let seen = seen.lock().expect("lock").clone();
    assert!(
        school.iter().all(|s| *s == StatusCode::OK),
        "the school was refused during the flood: {school:?} (flood: {seen:?})"
    );
    assert!(
        seen.keys().all(|s| [401, 503].contains(s)),
        "made-up keys get 401 or 503, nothing else: {seen:?}"
    );
    assert!(seen.get(&401).is_some_and(|n| *n > 0), "{seen:?}");
    assert!(
        seen.get(&503).is_some_and(|n| *n > 0),
        "the cap turned lookups away: {seen:?}"
    );
}
