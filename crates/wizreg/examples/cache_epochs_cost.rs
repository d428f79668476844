//! What the stale-answer guard costs a cache hit: a cached tenant lookup (moka
//! `try_get_with` on a hit) without and with the epoch check, measured in the same run, plus
//! the slow path an answer older than some change takes (a lock and a map lookup).
//!
//! `cargo run --release -p wizreg --example cache_epochs_cost`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::future::Cache;
use wizreg::cache_epochs::Epochs;

const LOOKUPS: u64 = 2_000_000;
const SCHOOLS: u64 = 1_000;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cache: Cache<u64, (u64, Option<Arc<u64>>)> = Cache::builder().max_capacity(100_000).build();
    for school in 0..SCHOOLS {
        cache.insert(school, (0, Some(Arc::new(school)))).await;
    }
    let epochs = Epochs::new(Duration::from_secs(60));

    let baseline = per_lookup(|school| {
        let cache = &cache;
        async move {
            cache
                .try_get_with(school, async { Ok::<_, ()>((0, None)) })
                .await
                .map(|(_, r)| r)
        }
    })
    .await;
    let guarded = per_lookup(|school| {
        let (cache, epochs) = (&cache, &epochs);
        async move {
            let (epoch, record) = cache
                .try_get_with(school, async { Ok::<_, ()>((0, None)) })
                .await?;
            Ok::<_, Arc<()>>(if epochs.is_fresh(epoch, Some(&school)) {
                record
            } else {
                None
            })
        }
    })
    .await;
    // Every cached answer now predates a change (to another school): the slow path.
    epochs.changed(u64::MAX);
    let slow = per_lookup(|school| {
        let (cache, epochs) = (&cache, &epochs);
        async move {
            let (epoch, record) = cache
                .try_get_with(school, async { Ok::<_, ()>((0, None)) })
                .await?;
            Ok::<_, Arc<()>>(if epochs.is_fresh(epoch, Some(&school)) {
                record
            } else {
                None
            })
        }
    })
    .await;
    println!("cached lookup, no guard:                 {baseline:6.1} ns");
    println!(
        "cached lookup, guard (fast path):        {guarded:6.1} ns  (+{:.1} ns)",
        guarded - baseline
    );
    println!(
        "cached lookup, guard (after a change):   {slow:6.1} ns  (+{:.1} ns)",
        slow - baseline
    );
}

/// Mean nanoseconds per lookup over `LOOKUPS` lookups spread over `SCHOOLS` keys.
async fn per_lookup<F, Fut, T, E>(lookup: F) -> f64
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    for school in 0..SCHOOLS {
        let _ = black_box(lookup(school).await.is_ok());
    }
    let started = Instant::now();
    for i in 0..LOOKUPS {
        let _ = black_box(lookup(i % SCHOOLS).await.is_ok());
    }
    started.elapsed().as_nanos() as f64 / LOOKUPS as f64
}
