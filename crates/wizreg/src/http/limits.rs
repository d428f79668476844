//! Noisy-neighbour limits, applied per school once its tenant is resolved and before any of
//! its database work: a request rate (token bucket, off unless configured) and a cap on how
//! many of its requests may hold database work at once. Both answer `429 rate_limited` with
//! `Retry-After`: the school is asked to slow down, while every other school is served.
//!
//! Why a concurrency cap as well as a rate: a rate alone lets one school's slow queries fill
//! the whole connection pool. With at most `max_concurrency` (default half the pool) requests
//! per school in flight, the rest of the pool stays free for the others.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tenancy::TenantId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::{ApiError, ErrorCode};
use crate::config::Config;

/// The limits' settings.
#[derive(Clone, Copy, Debug)]
pub struct LimitSettings {
    /// Requests per second per school; `None` turns the rate limit off.
    pub rate_per_sec: Option<NonZeroU32>,
    pub burst: NonZeroU32,
    /// Requests per school holding database work at once.
    pub max_concurrency: usize,
    /// How long a request waits for one of its school's slots before it is refused.
    pub queue_wait: Duration,
}

/// How often each limit refused a request since start (for metrics and tests).
#[derive(Debug, Default)]
pub struct LimitCounters {
    rate_limited: AtomicU64,
    concurrency_limited: AtomicU64,
}

impl LimitCounters {
    /// Requests refused because their school exceeded its request rate.
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }
    /// Requests refused because their school already had its maximum in flight.
    pub fn concurrency_limited(&self) -> u64 {
        self.concurrency_limited.load(Ordering::Relaxed)
    }
}

/// A slot of a school's concurrency allowance, released when the request ends.
#[derive(Debug)]
pub struct TenantSlot {
    _permit: OwnedSemaphorePermit,
}

/// Per-school limits, shared by every request of the process.
pub struct Limits {
    settings: LimitSettings,
    rate: Option<DefaultKeyedRateLimiter<TenantId>>,
    slots: SchoolSlots,
    counters: LimitCounters,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("settings", &self.settings)
            .field("counters", &self.counters)
            .finish()
    }
}

impl Limits {
    pub fn new(settings: LimitSettings) -> Self {
        let rate = settings.rate_per_sec.map(|per_sec| {
            RateLimiter::keyed(Quota::per_second(per_sec).allow_burst(settings.burst))
        });
        Self {
            settings,
            rate,
            slots: SchoolSlots::default(),
            counters: LimitCounters::default(),
        }
    }

    pub fn counters(&self) -> &LimitCounters {
        &self.counters
    }

    /// Lets a request of `tenant` through, or says when to retry. The returned slot must live
    /// as long as the request's database work.
    pub async fn admit(&self, tenant: TenantId) -> Result<TenantSlot, ApiError> {
        if let Some(rate) = &self.rate {
            if let Err(not_until) = rate.check_key(&tenant) {
                self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                return Err(ApiError::rate_limited(
                    "this school is sending requests faster than its rate limit",
                    wait,
                ));
            }
        }
        let semaphore = self.slots.of(tenant, self.settings.max_concurrency);
        // A free slot, the common case, is taken without arming a timer.
        if let Ok(permit) = semaphore.clone().try_acquire_owned() {
            return Ok(TenantSlot { _permit: permit });
        }
        Box::pin(self.wait_for_slot(semaphore)).await
    }

    /// Waits up to the queue wait for one of the school's slots.
    async fn wait_for_slot(&self, semaphore: Arc<Semaphore>) -> Result<TenantSlot, ApiError> {
        match tokio::time::timeout(self.settings.queue_wait, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(TenantSlot { _permit: permit }),
            // Timed out (or, never in practice, the semaphore was closed).
            _ => {
                self.counters
                    .concurrency_limited
                    .fetch_add(1, Ordering::Relaxed);
                Err(ApiError::rate_limited(
                    "this school has too many requests in progress",
                    Duration::from_secs(1),
                ))
            }
        }
    }
}

/// Each school's semaphore, while any of its requests holds or awaits a slot.
///
/// Why not a cache with an idle timeout: its bookkeeping on every hit (access order, frequency
/// counts) was most of this step's cost, and grew with the number of schools. A semaphore no
/// request holds (its `Arc` is referenced by the map alone) has every permit free and no
/// waiter, so dropping it and making a new one later changes nothing a request can see: the
/// map sweeps such entries whenever it has doubled since the last sweep, which bounds it by
/// twice the schools recently served, at an amortised cost per new entry.
#[derive(Debug, Default)]
struct SchoolSlots {
    by_school: RwLock<HashMap<TenantId, Arc<Semaphore>>>,
    /// The map's length at which the next insert sweeps.
    sweep_at: AtomicUsize,
}

/// No sweep below this many schools: sweeping a small map would gain nothing.
const SWEEP_FLOOR: usize = 1024;

impl SchoolSlots {
    /// `tenant`'s semaphore, with `max` permits when it is new.
    fn of(&self, tenant: TenantId, max: usize) -> Arc<Semaphore> {
        if let Some(semaphore) = read(&self.by_school).get(&tenant) {
            return semaphore.clone();
        }
        let mut by_school = self
            .by_school
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if by_school.len() >= self.sweep_at.load(Ordering::Relaxed).max(SWEEP_FLOOR) {
            by_school.retain(|_, semaphore| Arc::strong_count(semaphore) > 1);
            self.sweep_at.store(by_school.len() * 2, Ordering::Relaxed);
        }
        // `Semaphore::new` panics above MAX_PERMITS; a huge WIZREG_TENANT_MAX_CONCURRENCY
        // means "no cap", not a panic on every request.
        by_school
            .entry(tenant)
            .or_insert_with(|| Arc::new(Semaphore::new(max.clamp(1, Semaphore::MAX_PERMITS))))
            .clone()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        read(&self.by_school).len()
    }
}

/// A read guard, whether or not a panic poisoned the lock: the map holds no invariant a
/// panicking writer could break half-way.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

impl LimitSettings {
    /// The limits `config` asks for.
    pub fn from_config(config: &Config) -> Self {
        Self {
            rate_per_sec: NonZeroU32::new(config.rate_limit_per_sec),
            burst: NonZeroU32::new(config.rate_limit_burst).unwrap_or(NonZeroU32::MIN),
            max_concurrency: config
                .tenant_max_concurrency
                .unwrap_or(config.pool_size / 2)
                .max(1),
            queue_wait: Duration::from_millis(config.pool_timeout_ms),
        }
    }
}

/// Request headers larger than this in total get `431`. hyper itself refuses a request head
/// past ~400 KiB or 100 headers; this lower bound keeps big headers from reaching parsing,
/// logging and tenant resolution at all.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// `431 invalid_request` for a request whose headers exceed [`MAX_HEADER_BYTES`].
pub fn refuse_oversized_headers(
    request: &axum::extract::Request,
) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    (size > MAX_HEADER_BYTES).then(|| {
        ApiError::new(
            axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::InvalidRequest,
            "the request headers are larger than 32 KiB",
        )
        .into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_concurrency_cap_beyond_what_a_semaphore_holds_means_no_cap_rather_than_a_panic() {
        let limits = Limits::new(LimitSettings {
            rate_per_sec: None,
            burst: NonZeroU32::MIN,
            max_concurrency: usize::MAX,
            queue_wait: Duration::ZERO,
        });
        let tenant = TenantId::new_v7();
        let first = limits.admit(tenant).await.expect("admitted");
        let second = limits.admit(tenant).await.expect("admitted");
        drop((first, second));
    }

    #[tokio::test]
    async fn idle_schools_are_swept_while_a_school_in_flight_keeps_its_slots() {
        let limits = Limits::new(LimitSettings {
            rate_per_sec: None,
            burst: NonZeroU32::MIN,
            max_concurrency: 1,
            queue_wait: Duration::ZERO,
        });
        let busy = TenantId::new_v7();
        let held = limits.admit(busy).await.expect("admitted");
        for _ in 0..3 * SWEEP_FLOOR {
            drop(limits.admit(TenantId::new_v7()).await.expect("admitted"));
        }
        assert!(
            limits.slots.len() < 2 * SWEEP_FLOOR,
            "idle schools were not swept: {} held",
            limits.slots.len()
        );
        // The busy school's only slot is still taken: the sweep kept its semaphore.
        assert!(limits.admit(busy).await.is_err(), "over its cap of one");
        assert_eq!(limits.counters().concurrency_limited(), 1);
        drop(held);
        drop(
            limits
                .admit(busy)
                .await
                .expect("a slot again once released"),
        );
    }
}
