//! The load generator: many keep-alive connections on one thread, each rotating schools at
//! random and checking that every answer belongs to the school it asked for.
//!
//! Two modes: closed loop (each connection sends its next request when the last one is answered:
//! the throughput ceiling) and fixed rate (requests are due on a schedule whatever the server
//! does; latency is measured from when a request was due, so a stall shows in the tail instead
//! of silently slowing the sender down).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dataset::{student_id, Size};
use crate::http::{request, Conn};
use crate::requests::{belongs_to, credential, next_request, Draw};
pub use crate::requests::{Route, LIST_LIMIT};

/// Who the requests go to and how they name their school.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub size: Size,
    /// API keys by school (index `t - 1`): send `Authorization` instead of `X-Tenant`.
    pub api_keys: Option<Arc<Vec<String>>>,
}

/// What one run measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Requests answered in the measured window.
    pub requests: u64,
    /// Requests answered, warm-up included (for per-request server and database counters).
    pub all_requests: u64,
    pub failures: u64,
    pub wrong_tenant: u64,
    pub elapsed: Duration,
    /// Sorted latencies in microseconds.
    pub latencies_us: Vec<u32>,
}

impl Outcome {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        let Some(last) = self.latencies_us.len().checked_sub(1) else {
            return 0.0;
        };
        let at = ((last as f64) * p / 100.0).round() as usize;
        self.latencies_us[at.min(last)] as f64 / 1000.0
    }
}

/// Runs `connections` connections for `warmup + duration`; `rate` (total requests per second)
/// switches to fixed-rate mode. Only the `duration` after the warm-up is measured.
pub async fn run(
    target: &Target,
    route: Route,
    connections: u32,
    rate: Option<f64>,
    warmup: Duration,
    duration: Duration,
) -> Outcome {
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let workers: Vec<_> = (0..connections)
        .map(|c| {
            let target = target.clone();
            // Each connection sends one request per `interval`, staggered across connections.
            let interval = rate.map(|r| Duration::from_secs_f64(f64::from(connections) / r));
            let offset = interval.map(|i| i.mul_f64(f64::from(c) / f64::from(connections)));
            tokio::spawn(async move {
                let schedule = interval.zip(offset).map(|(i, o)| (start + o, i));
                worker(target, route, u64::from(c), schedule, measure_from, end).await
            })
        })
        .collect();
    let mut outcome = Outcome {
        elapsed: duration,
        ..Outcome::default()
    };
    for worker in workers {
        if let Ok(part) = worker.await {
            outcome.requests += part.requests;
            outcome.all_requests += part.all_requests;
            outcome.failures += part.failures;
            outcome.wrong_tenant += part.wrong_tenant;
            outcome.latencies_us.extend(part.latencies_us);
        }
    }
    outcome.latencies_us.sort_unstable();
    outcome
}

/// [`run`] on a runtime of its own with `threads` worker threads, so the load generator can
/// use more than one core.
pub async fn run_on_threads(
    threads: usize,
    target: &Target,
    route: Route,
    connections: u32,
    warmup: Duration,
    duration: Duration,
) -> Outcome {
    let target = target.clone();
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(run(&target, route, connections, None, warmup, duration))
    })
    .await
    .unwrap_or_default()
}

async fn worker(
    target: Target,
    route: Route,
    id: u64,
    schedule: Option<(Instant, Duration)>,
    measure_from: Instant,
    end: Instant,
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut draw = Draw(0x9E37_79B9_7F4A_7C15 ^ (id + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let Ok(mut conn) = Conn::open(target.addr).await else {
        outcome.failures += 1;
        return outcome;
    };
    for k in 0u64.. {
        // A request is timed from when it was due, unless this connection sat idle until then:
        // the timer then wakes up to a millisecond late, which is not the server's doing.
        let due = match schedule {
            Some((first, interval)) => {
                let due = first + interval.mul_f64(k as f64);
                if due >= end {
                    break;
                }
                let idle = Instant::now() < due;
                tokio::time::sleep_until(due.into()).await;
                if idle {
                    Instant::now()
                } else {
                    due
                }
            }
            None => Instant::now(),
        };
        if due >= end {
            break;
        }
        let (bytes, expected, t) = next_request(&target, route, &mut draw, (id << 40) | k);
        let answer = conn.send(&bytes).await;
        let done = Instant::now();
        let measured = due >= measure_from;
        outcome.all_requests += 1;
        match answer {
            Ok((status, body)) if status == expected => {
                if route != Route::Healthz && !belongs_to(body, t) {
                    outcome.wrong_tenant += u64::from(measured);
                }
            }
            Ok(_) => outcome.failures += u64::from(measured),
            Err(_) => {
                outcome.failures += 1;
                match Conn::open(target.addr).await {
                    Ok(fresh) => conn = fresh,
                    Err(_) => break,
                }
            }
        }
        if measured {
            outcome.requests += 1;
            let latency = done.duration_since(due).as_micros();
            outcome
                .latencies_us
                .push(latency.min(u128::from(u32::MAX)) as u32);
        }
    }
    outcome
}

/// One request on a fresh connection: its status, or `None` if the server did not answer.
pub async fn get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut conn = Conn::open(addr).await.ok()?;
    let answer = conn.send(&request("GET", path, &[], None)).await.ok()?;
    Some(answer.0)
}

/// Sends one read per school over `connections` connections, so the server's tenant cache is
/// in its steady state (every active school resolved) before anything is measured.
pub async fn touch_every_school(target: &Target, connections: u32) -> Result<(), String> {
    let schools = target.size.schools;
    let workers: Vec<_> = (0..connections)
        .map(|c| {
            let target = target.clone();
            tokio::spawn(async move {
                let mut conn = Conn::open(target.addr).await.map_err(|e| e.to_string())?;
                for t in (c + 1..=schools).step_by(connections as usize) {
                    let (name, value) = credential(&target, t);
                    let bytes = request(
                        "GET",
                        &format!("/students/{}", student_id(t, 1)),
                        &[(name, &value)],
                        None,
                    );
                    let (status, _) = conn.send(&bytes).await.map_err(|e| e.to_string())?;
                    if status != 200 {
                        return Err(format!("warming school {t}: status {status}"));
                    }
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for worker in workers {
        worker.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}
