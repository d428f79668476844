//! One school floods the server while another works normally: the flooder is slowed with
//! 429s, and the other school never notices.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::harness::TestApp;

const FLOOD_WORKERS: usize = 32;
const NORMAL_REQUESTS: usize = 100;
/// The limit is low and the other school paced well under it, so the outcome does not depend
/// on how fast this machine is: 32 unpaced workers exceed 50 requests a second even on a
/// loaded machine, and the other school (one request every 40 ms at most) never does.
const RATE_LIMIT_PER_SEC: u32 = 50;
const NORMAL_PACE: std::time::Duration = std::time::Duration::from_millis(40);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_school_gets_429s_while_another_schools_requests_all_succeed() {
    let app = Arc::new(
        TestApp::with_config(|c| {
            c.pool_size = 8;
            c.tenant_max_concurrency = Some(4);
            c.rate_limit_per_sec = RATE_LIMIT_PER_SEC;
            c.rate_limit_burst = 20;
        })
        .await,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let flooders: Vec<_> = (0..FLOOD_WORKERS)
        .map(|worker| {
            let (app, stop) = (app.clone(), stop.clone());
            tokio::spawn(async move {
                let mut statuses = BTreeMap::<u16, u64>::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let reply = if n % 4 == 0 {
                        let name = format!("Flood {worker}-{n}");
                        app.post("/students", json!({ "name": name }))
                            .tenant("hogwarts")
                            .send()
                            .await
                    } else {
                        app.get("/students?limit=50")
                            .tenant("hogwarts")
                            .send()
                            .await
                    };
                    *statuses.entry(reply.status.as_u16()).or_default() += 1;
                }
                statuses
            })
        })
        .collect();

    let mut normal = BTreeMap::<u16, u64>::new();
    let mut pace = tokio::time::interval(NORMAL_PACE);
    // After a stall, carry on at the pace rather than catching up in a burst.
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for i in 0..NORMAL_REQUESTS {
        pace.tick().await;
        let reply = if i % 2 == 0 {
            app.post("/students", json!({ "name": format!("Pupil {i}") }))
                .tenant("castelobruxo")
                .send()
                .await
        } else {
            app.get("/students?limit=10")
                .tenant("castelobruxo")
                .send()
                .await
        };
        *normal.entry(reply.status.as_u16()).or_default() += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let mut flood = BTreeMap::<u16, u64>::new();
    for worker in flooders {
        for (status, count) in worker.await.expect("flood worker") {
            *flood.entry(status).or_default() += count;
        }
    }

    let flood_total: u64 = flood.values().sum();
    let limited = flood.get(&429).copied().unwrap_or(0);
    let served = normal.get(&200).copied().unwrap_or(0) + normal.get(&201).copied().unwrap_or(0);
    println!(
        "flood: {flood_total} requests from {FLOOD_WORKERS} workers, {limited} x 429 ({:.1}%), statuses {flood:?}",
        100.0 * limited as f64 / flood_total.max(1) as f64
    );
    println!(
        "other school: {served}/{NORMAL_REQUESTS} succeeded ({:.1}%), statuses {normal:?}",
        100.0 * served as f64 / NORMAL_REQUESTS as f64
    );
    assert_eq!(served as usize, NORMAL_REQUESTS, "{normal:?}");
    assert!(
        limited > 0,
        "the flooding school was never limited: {flood:?}"
    );
    assert!(
        flood.keys().all(|&s| s < 500),
        "the flooder gets 429s, not server errors: {flood:?}"
    );
}
