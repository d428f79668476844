//! Slow-client figures against a running `wizreg serve` (see `scripts/slow-clients.sh`):
//! the latency of well-behaved requests from two schools alone (the baseline), then again
//! while thousands of sockets trickle half a request head and hundreds sit idle after one
//! request; how many of those sockets were held, and how long the server took to close them.
//!
//! ```sh
//! cargo run --release -p wizreg --example slow_clients -- PORT [TRICKLING] [IDLE] [REQUESTS]
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

const SCHOOLS: [&str; 2] = ["hogwarts", "castelobruxo"];
const CONCURRENCY: usize = 4;

/// One `GET /students` on a new connection: its status and how long it took.
async fn one_request(port: u16, school: &str) -> (u16, Duration) {
    let started = Instant::now();
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return (0, started.elapsed());
    };
    let request = format!(
        "GET /students?limit=10 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Tenant: {school}\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return (0, started.elapsed());
    }
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes).await;
    let status = String::from_utf8_lossy(&bytes)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, started.elapsed())
}

/// `count` requests alternating between the schools, `CONCURRENCY` at a time.
async fn well_behaved(port: u16, count: usize) -> (Vec<u16>, Vec<Duration>) {
    let mut tasks = JoinSet::new();
    let mut results = Vec::with_capacity(count);
    for i in 0..count {
        if tasks.len() >= CONCURRENCY {
            results.push(tasks.join_next().await.expect("a task").expect("joined"));
        }
        tasks.spawn(one_request(port, SCHOOLS[i % 2]));
    }
    while let Some(done) = tasks.join_next().await {
        results.push(done.expect("joined"));
    }
    let statuses = results.iter().map(|r| r.0).collect();
    let mut latencies: Vec<_> = results.into_iter().map(|r| r.1).collect();
    latencies.sort();
    (statuses, latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

fn report(label: &str, statuses: &[u16], latencies: &[Duration]) {
    let ok = statuses.iter().filter(|s| **s == 200).count();
    println!(
        "| {label} | {} | {ok} | {:.1} | {:.1} | {:.1} |",
        statuses.len(),
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        percentile(latencies, 1.0),
    );
}

/// Holds a socket that sends half a head and trickles a byte a second, until the server
/// closes it.
async fn trickle(port: u16, closed: Arc<AtomicUsize>) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let _ = stream
        .write_all(b"POST /students HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ")
        .await;
    let mut buf = [0u8; 256];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => if !matches!(read, Ok(n) if n > 0) { break },
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                if stream.write_all(b"a").await.is_err() { break }
            }
        }
    }
    closed.fetch_add(1, Ordering::Relaxed);
    true
}

/// Holds a socket that made one request and then stays silent, until the server closes it.
async fn idle(port: u16, closed: Arc<AtomicUsize>) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let _ = stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    let mut buf = [0u8; 1024];
    while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
    closed.fetch_add(1, Ordering::Relaxed);
    true
}

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .expect("numbers: PORT [TRICKLING] [IDLE] [REQUESTS]")
        })
        .collect();
    let port = u16::try_from(*args.first().expect("PORT")).expect("a port");
    let arg = |i: usize, default: u64| args.get(i).copied().unwrap_or(default) as usize;
    let (trickling, idle_count, requests) = (arg(1, 3000), arg(2, 300), arg(3, 1000));
    wizreg::edge::rlimit::raise_open_file_limit();

    println!("| phase | requests | 200 | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    let (statuses, latencies) = well_behaved(port, requests).await;
    report("baseline: two schools alone", &statuses, &latencies);

    let closed = Arc::new(AtomicUsize::new(0));
    let mut slow = JoinSet::new();
    let opened_at = Instant::now();
    for _ in 0..trickling {
        let closed = closed.clone();
        slow.spawn(async move { (0, trickle(port, closed).await) });
    }
    for _ in 0..idle_count {
        let closed = closed.clone();
        slow.spawn(async move { (1, idle(port, closed).await) });
    }
    // Let every socket connect and send its bytes before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (statuses, latencies) = well_behaved(port, requests).await;
    let held = trickling + idle_count - closed.load(Ordering::Relaxed);
    report(
        &format!("with {trickling} trickling + {idle_count} idle sockets"),
        &statuses,
        &latencies,
    );
    let mut connected = 0;
    let mut last_closed = [0.0f64; 2];
    while let Some(done) = slow.join_next().await {
        let (kind, ok) = done.expect("joined");
        connected += usize::from(ok);
        last_closed[kind] = opened_at.elapsed().as_secs_f64();
    }
    println!();
    println!(
        "slow sockets connected: {connected} of {}; still held open when the measured requests ended: {held}; \
         the last trickling socket closed by the server {:.1} s after they were opened, the last idle one {:.1} s",
        trickling + idle_count,
        last_closed[0],
        last_closed[1],
    );
}
