//! `wizreg-bench --soak SECONDS`: a bounded soak. A mixed load (reads by id, lists, keyed
//! creates, renames) runs in windows of fixed length against one server on a fresh cluster;
//! after each window it prints the throughput, the tables' growth and the server's memory, and
//! at the end how the last window compares with the first. For drift, not for the targets.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::database::{self, Cluster, DB_NAME};
use crate::dataset::Size;
use crate::load::{self, Route, Target};
use crate::server::{Launch, Server};
use crate::Args;

const WINDOW: Duration = Duration::from_secs(15);
/// Connections per route; four routes run at once.
const CONNECTIONS: u32 = 16;
const ROUTES: [Route; 4] = [
    Route::GetById,
    Route::List,
    Route::CreateKeyed,
    Route::Update,
];

pub async fn run(args: &Args, seconds: u64) -> Result<(), String> {
    let work = PathBuf::from(format!("/tmp/wizreg-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let cluster = Cluster::start(&work.join("pg"))?;
    let server = Server::start(Launch {
        binary: &args.wizreg,
        runtime_url: cluster.url("wizreg_app", DB_NAME),
        admin_url: cluster.url(tenancy::embedded::SUPERUSER, DB_NAME),
        log: &work.join("server.log"),
        env: Vec::new(),
    })
    .await?;
    let db = cluster.superuser(DB_NAME).await?;
    let size = Size::DEFAULT;
    database::seed(&db, size, 0).await?;
    let target = Target {
        addr: server.addr,
        size,
        api_keys: None,
    };
    load::touch_every_school(&target, CONNECTIONS).await?;
    println!("| minute | req/s total | by id | list | keyed create | rename | failures | students | idempotency keys | idempotency MiB | server RSS MiB |");
    println!("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    let started = Instant::now();
    let mut totals = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        let runs = ROUTES
            .map(|route| load::run(&target, route, CONNECTIONS, None, Duration::ZERO, WINDOW));
        let [a, b, c, d] = runs;
        let outcomes = tokio::join!(a, b, c, d);
        let outcomes = [outcomes.0, outcomes.1, outcomes.2, outcomes.3];
        let rates: Vec<f64> = outcomes.iter().map(load::Outcome::rate).collect();
        let failures: u64 = outcomes.iter().map(|o| o.failures + o.wrong_tenant).sum();
        let total: f64 = rates.iter().sum();
        totals.push(total);
        let row = db
            .query_one(
                "select (select count(*) from wizreg.student), (select count(*) from wizreg.idempotency_key), \
                 pg_total_relation_size('wizreg.idempotency_key')",
                &[],
            )
            .await
            .map_err(|e| database::describe("table sizes", &e))?;
        let (students, keys, key_bytes): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        println!(
            "| {:.2} | {total:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {failures} | {students} | {keys} | {:.1} | {:.1} |",
            started.elapsed().as_secs_f64() / 60.0,
            rates[0],
            rates[1],
            rates[2],
            rates[3],
            key_bytes as f64 / 1_048_576.0,
            rss_kib(server.pid()) as f64 / 1024.0,
        );
    }
    if let (Some(first), Some(last)) = (totals.first(), totals.last()) {
        println!(
            "\nlast window ÷ first: {:.2} ({last:.0} ÷ {first:.0} req/s); load average now {}",
            last / first,
            crate::summary::load_average()
        );
    }
    drop(server);
    drop(cluster);
    let _ = std::fs::remove_dir_all(work);
    Ok(())
}

/// Resident memory of `pid` now, from `/proc/<pid>/status`.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
