//! `--citus`: the API and the pgbench baselines on one PostgreSQL and on a Citus coordinator
//! with two workers (all on this machine), in one run, so the ratios compare like with like.
//! Also: tasks per query (`EXPLAIN` on the coordinator), PostgreSQL round trips per request
//! (a counting proxy in front of the coordinator), and 10,000 schools against 100 on Citus.
//! The table goes to standard output and into `docs/scale-out.md` between its markers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tenancy::embedded::{self, EmbeddedCitus, EmbeddedOptions};
use tokio_postgres::{Client, NoTls};
use wire_probe::Probe;

use crate::database::{self, Baseline, Cluster, DB_NAME, PLAIN_DB_NAME};
use crate::dataset::{self, Size};
use crate::load::{self, Outcome, Route, Target};
use crate::server::{Launch, Server};
use crate::Args;

/// The database of the 10,000-school comparison.
const LARGE_DB_NAME: &str = "wizreg_large";
const START: &str = "<!-- citus-bench:start -->";
const END: &str = "<!-- citus-bench:end -->";

/// One backend's figures.
#[derive(Default)]
struct Figures {
    baselines: Vec<Baseline>,
    routes: Vec<(Route, Outcome)>,
}

pub async fn all(args: &Args) -> Result<(), String> {
    let work = PathBuf::from(format!("/tmp/wizreg-bench-citus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let load_at_start = crate::summary::load_average();
    let size = Size::DEFAULT;

    eprintln!("bench: one PostgreSQL …");
    let single = {
        let cluster = Cluster::start(&work.join("pg"))?;
        let url = |role: &str, db: &str| cluster.url(role, db);
        let figures = measure_backend(args, &work, &cluster.bin, &url, size, "single").await?;
        drop(cluster);
        figures
    };

    eprintln!("bench: Citus, a coordinator and 2 workers …");
    let options = EmbeddedOptions {
        data_dir: work.join("citus"),
        pg_bin: None,
        ephemeral: false,
        ..Default::default()
    };
    let citus = EmbeddedCitus::start(&options, 2).map_err(|e| e.to_string())?;
    for db in [DB_NAME, PLAIN_DB_NAME, LARGE_DB_NAME] {
        citus
            .prepare_database(db)
            .await
            .map_err(|e| e.to_string())?;
    }
    let coordinator = citus.coordinator();
    let bin = embedded::find_binaries(None).map_err(|e| e.to_string())?;
    let url = |role: &str, db: &str| coordinator.url(role, db);
    let distributed = measure_backend(args, &work, &bin, &url, size, "citus").await?;
    let admin = connect(&url(embedded::SUPERUSER, DB_NAME)).await?;
    let tasks = tasks_per_query(&admin).await?;
    let trips = round_trips(args, &work, coordinator.socket_dir(), size).await?;

    eprintln!("bench: Citus, 10,000 schools × 100 students …");
    let large = {
        let server = serve(args, &work, &url, LARGE_DB_NAME, "server-citus-large.log").await?;
        let db = connect(&url(embedded::SUPERUSER, LARGE_DB_NAME)).await?;
        database::seed(&db, Size::LARGE, 0).await?;
        let target = warm(&server, Size::LARGE, args).await?;
        load::run(
            &target,
            Route::GetById,
            args.connections,
            None,
            args.warmup(),
            args.measured(),
        )
        .await
    };
    drop(citus);

    let notes = format!(
        "Load average (1, 5, 15 min) at the start: {load_at_start}; at the end: {}. Other work shares the machine's 2 cores, so absolute figures are noisy; compare within this run.",
        crate::summary::load_average()
    );
    let table = render(args, &single, &distributed, &tasks, &trips, &large, &notes);
    println!("{table}");
    write_section(&args.doc.with_file_name("scale-out.md"), &table)?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

async fn connect(url: &str) -> Result<Client, String> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    tokio::spawn(connection);
    Ok(client)
}

async fn serve(
    args: &Args,
    work: &Path,
    url: &dyn Fn(&str, &str) -> String,
    db: &str,
    log: &str,
) -> Result<Server, String> {
    Server::start(Launch {
        binary: &args.wizreg,
        runtime_url: url("wizreg_app", db),
        admin_url: url(embedded::SUPERUSER, db),
        log: &work.join(log),
        env: Vec::new(),
    })
    .await
}

async fn warm(server: &Server, size: Size, args: &Args) -> Result<Target, String> {
    let target = Target {
        addr: server.addr,
        size,
        api_keys: None,
    };
    load::touch_every_school(&target, args.connections).await?;
    Ok(target)
}

/// Seeds, runs the pgbench baselines and every route closed-loop on one backend.
async fn measure_backend(
    args: &Args,
    work: &Path,
    bin: &Path,
    url: &dyn Fn(&str, &str) -> String,
    size: Size,
    name: &str,
) -> Result<Figures, String> {
    // The server migrates (and on Citus distributes) the database before it is seeded.
    let server = serve(args, work, url, DB_NAME, &format!("server-{name}.log")).await?;
    let db = connect(&url(embedded::SUPERUSER, DB_NAME)).await?;
    database::seed(&db, size, 0).await?;
    seed_plain(
        &connect(&url(embedded::SUPERUSER, PLAIN_DB_NAME)).await?,
        size,
    )
    .await?;
    let baselines = database::pgbench_at(bin, url, work, size, args.connections, args.seconds)?;
    let target = warm(&server, size, args).await?;
    let mut routes = Vec::new();
    for route in Route::ALL {
        eprintln!("bench: {name} {} …", route.label());
        let outcome = load::run(
            &target,
            route,
            args.connections,
            None,
            args.warmup(),
            args.measured(),
        )
        .await;
        routes.push((route, outcome));
    }
    Ok(Figures { baselines, routes })
}

/// Baseline (a)'s table, distributed by school too when the database is a Citus coordinator.
async fn seed_plain(db: &Client, size: Size) -> Result<(), String> {
    let citus: bool = db
        .query_one(
            "select exists (select from pg_extension where extname = 'citus')",
            &[],
        )
        .await
        .map_err(|e| database::describe("look for citus", &e))?
        .get(0);
    let mut statements = vec![dataset::PLAIN_TABLE_SQL.to_owned()];
    if citus {
        statements.push("select create_distributed_table('student_plain', 'tenant_id')".into());
    }
    statements.push(dataset::insert_plain_sql(size));
    statements.push("vacuum analyze student_plain".into());
    for statement in statements {
        db.batch_execute(&statement)
            .await
            .map_err(|e| database::describe("seed the plain table", &e))?;
    }
    Ok(())
}

/// `Task Count` of the request path's read shapes, planned with real values on the coordinator.
async fn tasks_per_query(admin: &Client) -> Result<Vec<(&'static str, String)>, String> {
    let school = dataset::school_id(7);
    let student = dataset::student_id(7, 3);
    let shapes = [
        ("GET /students/{id}", format!("select * from wizreg.student where tenant_id = '{school}' and id = '{student}'")),
        ("GET /students", format!("select * from wizreg.student where tenant_id = '{school}' order by id limit 50")),
        ("PATCH /students/{id}", format!("update wizreg.student set name = 'x' where tenant_id = '{school}' and id = '{student}'")),
        ("policy only, no tenant filter", format!("select * from wizreg.student where id = '{student}'")),
    ];
    let mut counts = Vec::new();
    for (label, sql) in shapes {
        let plan = admin
            .query(&format!("explain {sql}"), &[])
            .await
            .map_err(|e| database::describe("explain", &e))?;
        let count = plan
            .iter()
            .find_map(|row| {
                let line: String = row.get(0);
                line.split("Task Count: ").nth(1).map(str::to_owned)
            })
            .unwrap_or_else(|| "?".into());
        counts.push((label, count));
    }
    Ok(counts)
}

/// PostgreSQL round trips per request between the server and the coordinator, one request at
/// a time through a counting proxy (as the single-node run counts them).
async fn round_trips(
    args: &Args,
    work: &Path,
    socket: &Path,
    size: Size,
) -> Result<Vec<(Route, f64)>, String> {
    let probe = Probe::start(socket, 5432).map_err(|e| format!("probe: {e}"))?;
    let proxied = probe.socket_dir().display().to_string();
    let url = |role: &str, db: &str| embedded::socket_url(Path::new(&proxied), role, db);
    let server = serve(args, work, &url, DB_NAME, "server-citus-probe.log").await?;
    let target = warm(&server, size, args).await?;
    let second = Duration::from_secs(1);
    let mut trips = Vec::new();
    for route in Route::ALL {
        load::run(&target, route, 1, None, second, second).await;
        let before = probe.tally();
        let outcome = load::run(&target, route, 1, None, Duration::ZERO, second).await;
        let tally = probe.tally().since(&before);
        trips.push((
            route,
            tally.round_trips as f64 / outcome.all_requests.max(1) as f64,
        ));
    }
    Ok(trips)
}

fn render(
    args: &Args,
    single: &Figures,
    citus: &Figures,
    tasks: &[(&str, String)],
    trips: &[(Route, f64)],
    large: &Outcome,
    notes: &str,
) -> String {
    let mut out = format!(
        "Measured by `scripts/bench.sh --citus`: 100 schools × 1,000 students, {} connections, {} s per run after {} s of warm-up, closed loop; the same release binary and settings on one PostgreSQL 15 and on Citus 13 (a coordinator and 2 workers, each a PostgreSQL on this machine).\n\n",
        args.connections, args.seconds, args.warmup
    );
    out.push_str("| | one PostgreSQL | | | Citus, 2 workers | | | Citus ÷ one | round trips per request (Citus) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    out.push_str("| | req/s | p50 ms | p99 ms | req/s | p50 ms | p99 ms | | |\n");
    for (b_single, b_citus) in single.baselines.iter().zip(&citus.baselines) {
        out.push_str(&format!(
            "| pgbench {} | {:.0} tx/s | {:.2} (avg) | | {:.0} tx/s | {:.2} (avg) | | {:.2} | |\n",
            b_single.name,
            b_single.tps,
            b_single.latency_avg_ms,
            b_citus.tps,
            b_citus.latency_avg_ms,
            b_citus.tps / b_single.tps
        ));
    }
    for ((route, one), (_, many)) in single.routes.iter().zip(&citus.routes) {
        let trip = trips
            .iter()
            .find(|(r, _)| r == route)
            .map_or(String::new(), |(_, t)| format!("{t:.2}"));
        out.push_str(&format!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} | {trip} |\n",
            route.label(),
            one.rate(),
            one.percentile_ms(50.0),
            one.percentile_ms(99.0),
            many.rate(),
            many.percentile_ms(50.0),
            many.percentile_ms(99.0),
            many.rate() / one.rate()
        ));
    }
    let errors: u64 = single
        .routes
        .iter()
        .chain(&citus.routes)
        .map(|(_, o)| o.failures + o.wrong_tenant)
        .sum();
    out.push_str(&format!(
        "\nFailed or wrong-school answers over all runs: {}.\n\n",
        errors + large.failures + large.wrong_tenant
    ));
    out.push_str("Tasks per query on the coordinator (`EXPLAIN`, real values):\n\n| query | Task Count |\n|---|---:|\n");
    for (label, count) in tasks {
        out.push_str(&format!("| {label} | {count} |\n"));
    }
    let small = citus
        .routes
        .iter()
        .find(|(r, _)| *r == Route::GetById)
        .map(|(_, o)| o);
    if let Some(small) = small {
        out.push_str(&format!(
            "\nSchools on Citus, `GET /students/{{id}}`: 100 schools × 1,000 students {:.0} req/s (p99 {:.2} ms); 10,000 schools × 100 students {:.0} req/s (p99 {:.2} ms); ratio {:.2}.\n",
            small.rate(), small.percentile_ms(99.0), large.rate(), large.percentile_ms(99.0), large.rate() / small.rate()
        ));
    }
    out.push_str(&format!("\n{notes}\n"));
    out
}

/// Replaces the text between the markers in `doc` (or appends the section with them).
fn write_section(doc: &Path, table: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(doc).unwrap_or_default();
    let section = format!("{START}\n{table}{END}");
    let updated = match (text.find(START), text.find(END)) {
        (Some(start), Some(end)) if end > start => {
            format!("{}{section}{}", &text[..start], &text[end + END.len()..])
        }
        _ => format!("{text}\n{section}\n"),
    };
    std::fs::write(doc, updated).map_err(|e| format!("{}: {e}", doc.display()))
}
