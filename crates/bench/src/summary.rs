//! The end of a run: the targets judged on the measurements, the report (table, JSON, chart,
//! `docs/benchmarks.md`), and what is recorded about the machine and the settings.

use std::path::Path;

use crate::database::Baseline;
use crate::dataset::Size;
use crate::load::Route;
use crate::report::{self, Report, Row, Target as Goal};
use crate::run::limits::Limits;
use crate::run::{find, Bench};
use crate::Args;

#[allow(clippy::too_many_arguments)]
pub async fn finish(
    args: &Args,
    bench: &Bench<'_>,
    baselines: Vec<Baseline>,
    rows: Vec<Row>,
    trips: &[(Route, f64)],
    paired: &crate::paired::Paired,
    create_ratio: f64,
    limits: Limits,
) -> Result<Report, String> {
    let open = paired.get("open");
    let ratio = |over: Option<f64>, under: Option<f64>| Some(over? / under?);
    let get_half = find(&rows, Route::GetById, "fixed");
    let list_half = find(&rows, Route::List, "fixed");
    let trip = |r: Route| trips.iter().find(|(x, _)| *x == r).map(|(_, t)| *t);
    let write_trips = trip(Route::Create)
        .zip(trip(Route::Update))
        .map(|(a, b)| a.max(b));
    let rss = rows
        .iter()
        .filter_map(|r| r.peak_rss_mib)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let over_limit = |r: Route| limits.route(r).map(|l| l.ratio());
    let get_closed = find(&rows, Route::GetById, "closed");
    let targets = vec![
        Goal::at_least("GET /students/{id} ÷ L", over_limit(Route::GetById), 0.8),
        Goal::at_least("GET /students?limit=10 ÷ L", over_limit(Route::List), 0.75),
        Goal::at_least(
            "POST /students ÷ L (write floor)",
            over_limit(Route::Create),
            0.7,
        ),
        Goal::at_least(
            "enter-path pgbench tx/s, new ÷ old (plain PostgreSQL)",
            limits.floors.enter_ratio(),
            1.3,
        ),
        Goal::at_most(
            "server CPU µs per GET by id (closed loop)",
            get_closed.and_then(|r| r.server_cpu_us_per_request),
            40.0,
        ),
        Goal::at_least(
            "throughput at 10,000 schools ÷ at 100 (GET by id)",
            ratio(open, paired.get("100 schools")),
            0.9,
        ),
        Goal::at_most(
            "p99 at half load, GET by id, ms",
            get_half.and_then(|r| r.p99_ms),
            2.0,
        ),
        Goal::at_most("server peak RSS under full load, MiB", rss, 32.0),
        Goal::at_most(
            "round trips per tenant read (GET by id)",
            trip(Route::GetById),
            1.0,
        ),
        Goal::at_most(
            "round trips per write (max of POST, PATCH)",
            write_trips,
            2.0,
        ),
        Goal::at_most(
            "list p99 ÷ GET by id p99 (half load)",
            list_half.and_then(|l| Some(l.p99_ms? / get_half?.p99_ms?)),
            3.0,
        ),
        Goal::at_least(
            "api-key ÷ open throughput (GET by id)",
            ratio(paired.get("api-key"), open),
            0.9,
        ),
        Goal::at_most(
            "create a school, 10,000 present ÷ 10 present",
            Some(create_ratio),
            1.5,
        ),
    ];
    let size = if args.large {
        Size::LARGE
    } else {
        Size::DEFAULT
    };
    let report = Report {
        machine: machine(&bench.cluster.bin),
        command: format!(
            "scripts/bench.sh{}",
            if args.large { " --large" } else { "" }
        ),
        settings: settings(args, size),
        baselines,
        rows,
        targets,
        limits,
        notes: bench.notes.clone(),
    };
    let suffix = if args.large { "-large" } else { "" };
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    let write = |name: String, text: String| {
        std::fs::write(&name, text).map_err(|e| format!("{name}: {e}"))
    };
    write(format!("{}/results{suffix}.json", args.out.display()), json)?;
    let doc_dir = args.doc.parent().unwrap_or(Path::new("."));
    let chart = format!("benchmarks{suffix}.svg");
    write(doc_dir.join(&chart).display().to_string(), report.svg())?;
    let section = if args.large { "large" } else { "default" };
    report::write_section(&args.doc, section, &report.markdown(&chart))
        .map_err(|e| format!("{}: {e}", args.doc.display()))?;
    Ok(report)
}

fn settings(args: &Args, size: Size) -> Vec<String> {
    vec![
        format!("data: {} schools × {} students, seeded with generate_series as the superuser", size.schools, size.students_per_school),
        format!("PostgreSQL: a fresh embedded cluster with the launcher's settings (as `wizreg serve`: durable, fsync on, max_connections=200, Unix socket) plus shared_preload_libraries=pg_stat_statements and shared_buffers={}; each table and its indexes prewarmed (pg_prewarm) after seeding", crate::database::SHARED_BUFFERS),
        "wizreg: `target/release/wizreg serve` with its defaults (pool 16, prepared statements, info-level request log to a file, tenant cache TTL 60 s)".into(),
        format!("load: {} keep-alive HTTP/1.1 connections from one thread of `wizreg-bench`, school drawn at random per request, {} s warm-up then {} s measured; every answer's tenant_id checked", args.connections, args.warmup, args.seconds),
        "load, 2 threads: the same on a two-thread runtime (closed loop only), for the limits table".into(),
        "pgbench: -M prepared -j 1 -T 3 at 4, 8, 16 and 64 clients, the best kept; ids built from drawn integers in SQL; the API's own SQL text for each route".into(),
        "÷ (a) and ÷ (b) in the table: the row's rate over the best-client-count baselines at the top; the 10,000 ÷ 100 and api-key ratios use the interleaved medians in the notes".into(),
        "no CPU pinning: load generator, server and PostgreSQL share the 2 cores, as pgbench and PostgreSQL do in the baselines".into(),
    ]
}

fn machine(bin: &Path) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .nth(1)
        .and_then(|k| k.parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
        / 1024;
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let pg = std::process::Command::new(bin.join("postgres"))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!(
        "{model}, {cores} cores, {mem} GiB RAM, Linux {}, {pg}",
        kernel.trim()
    )
}

pub fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(", ")
}
