//! The whole benchmark, in order: cluster, seed, pgbench baselines, the API under load (open
//! mode, then api-key mode), round trips through a counting proxy, the scale comparison, school
//! creation with few and many schools present; then the report.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::database::{self, Baseline, Cluster, DB_NAME};
use crate::dataset::{self, Size};
use crate::floors::Floors;
use crate::load::{Route, Target};
use crate::measure::{self, Meters};
use crate::report::Row;
use crate::server::{Launch, Server};
use crate::Args;

pub mod citus;
mod creation;
pub(crate) mod limits;
mod round_trips;
mod scale;

/// Seconds per pgbench run of the database floors (each script at each client count).
const FLOOR_SECONDS: u64 = 3;

pub(crate) struct Bench<'a> {
    args: &'a Args,
    pub cluster: Cluster,
    work: PathBuf,
    pub notes: Vec<String>,
}

impl Bench<'_> {
    async fn server(
        &self,
        dbname: &str,
        runtime_host: Option<&Path>,
        env: Vec<(&'static str, String)>,
        log: &str,
    ) -> Result<Server, String> {
        let mut runtime_url = self.cluster.url("wizreg_app", dbname);
        if let Some(host) = runtime_host {
            let socket = self.cluster.socket_dir().display().to_string();
            runtime_url = runtime_url.replace(&socket, &host.display().to_string());
        }
        Server::start(Launch {
            binary: &self.args.wizreg,
            runtime_url,
            admin_url: self.cluster.url(tenancy::embedded::SUPERUSER, dbname),
            log: &self.work.join(log),
            env,
        })
        .await
    }

    /// A load target on `server`, with every school's first request already made (so the
    /// measurement does not include filling the tenant cache).
    async fn warm_target(
        &self,
        server: &Server,
        size: Size,
        api_keys: Option<Arc<Vec<String>>>,
    ) -> Result<Target, String> {
        let target = Target {
            addr: server.addr,
            size,
            api_keys,
        };
        crate::load::touch_every_school(&target, self.args.connections).await?;
        Ok(target)
    }

    fn meters<'m>(
        &'m self,
        server: &'m Server,
        stats: &'m tokio_postgres::Client,
        baselines: &'m [Baseline],
    ) -> Meters<'m> {
        Meters {
            server,
            cluster: &self.cluster,
            stats,
            baselines,
        }
    }

    /// Closed loop, then fixed rate at half of its throughput, for each route.
    async fn routes(
        &self,
        meters: &Meters<'_>,
        target: &Target,
        label: &str,
        with_half: bool,
    ) -> Result<Vec<Row>, String> {
        let mut rows = Vec::new();
        for route in Route::ALL {
            eprintln!("bench: {}{label} …", route.label());
            let closed = measure::route(
                self.args,
                meters,
                target,
                route,
                None,
                &format!("closed, {} conns{label}", self.args.connections),
            )
            .await?;
            let half = closed.requests_per_s / 2.0;
            rows.push(closed);
            if with_half {
                rows.push(
                    measure::route(
                        self.args,
                        meters,
                        target,
                        route,
                        Some(half),
                        &format!("fixed {half:.0}/s{label}"),
                    )
                    .await?,
                );
            }
        }
        Ok(rows)
    }
}

/// Baselines (a) and (b) at their best client counts: the plain read, and the API's read
/// transaction (its database floor).
fn baselines(floors: &Floors) -> Result<Vec<Baseline>, String> {
    let read = floors
        .route(Route::GetById)
        .ok_or("the read floor is missing")?;
    Ok(vec![
        Baseline {
            name: "(a) plain PK read, no RLS",
            role: tenancy::embedded::SUPERUSER,
            tps: floors.plain_read.tps,
            latency_avg_ms: 0.0,
        },
        Baseline {
            name: "(b) RLS read, tenant tx pipelined",
            role: "wizreg_app",
            tps: read.tps,
            latency_avg_ms: 0.0,
        },
    ])
}

fn baseline_rows(baselines: &[Baseline], floors: &Floors) -> Vec<Row> {
    let clients = [
        floors.plain_read.clients,
        floors.route(Route::GetById).map_or(0, |f| f.clients),
    ];
    baselines
        .iter()
        .zip(clients)
        .map(|(b, clients)| Row {
            name: b.name.to_owned(),
            mode: format!(
                "baseline: pgbench -M prepared, best of 4/8/16/64 clients ({clients}), role {}",
                b.role
            ),
            requests_per_s: b.tps,
            ..Row::default()
        })
        .collect()
}

pub(crate) fn find<'r>(rows: &'r [Row], route: Route, mode: &str) -> Option<&'r Row> {
    rows.iter()
        .find(|r| r.name == route.label() && r.mode.starts_with(mode))
}

pub async fn all(args: &Args) -> Result<(), String> {
    let work = PathBuf::from(format!("/tmp/wizreg-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let load_at_start = crate::summary::load_average();
    let cluster = Cluster::start(&work.join("pg"))?;
    let mut bench = Bench {
        args,
        cluster,
        work,
        notes: Vec::new(),
    };
    let size = if args.large {
        Size::LARGE
    } else {
        Size::DEFAULT
    };
    eprintln!(
        "bench: seeding {} schools × {} students",
        size.schools, size.students_per_school
    );

    let db = bench.cluster.superuser(DB_NAME).await?;
    let mut server = bench
        .server(DB_NAME, None, Vec::new(), "server-open.log")
        .await?;
    seed_sql(&db, &dataset::insert_schools_sql(1, 10)).await?;
    database::seed(&db, size, 10).await?;
    database::seed_plain_and_stats(&bench.cluster, size).await?;
    let stats = bench.cluster.superuser(database::STATS_DB_NAME).await?;

    crate::floors::install_old_enter(&db).await?;
    let floors = crate::floors::measure(&bench.cluster, &bench.work, size, FLOOR_SECONDS)?;
    let baselines = baselines(&floors)?;
    let mut rows = baseline_rows(&baselines, &floors);
    let target = bench.warm_target(&server, size, None).await?;
    let meters = bench.meters(&server, &stats, &baselines);
    rows.extend(bench.routes(&meters, &target, "", true).await?);
    let limits = bench.limits(&meters, &target, floors, &mut rows).await?;

    let keyed = if args.skip_api_key || args.large {
        bench.notes.push(
            "api-key mode: not measured in this run (measured in the default-size run).".into(),
        );
        None
    } else {
        let env = vec![
            ("WIZREG_AUTH", "api-key".to_owned()),
            (
                "WIZREG_KEY_SECRET",
                "bench-key-secret-0123456789abcdef".to_owned(),
            ),
        ];
        let server = bench
            .server(DB_NAME, None, env, "server-api-key.log")
            .await?;
        let keys = measure::api_keys(&server, size.schools).await?;
        let target = bench
            .warm_target(&server, size, Some(Arc::new(keys)))
            .await?;
        let meters = bench.meters(&server, &stats, &baselines);
        rows.extend(bench.routes(&meters, &target, ", api-key", false).await?);
        Some((server, target))
    };

    let small = if args.large {
        Some(scale::few_schools(&bench, &baselines, &stats, &mut rows).await?)
    } else {
        bench
            .notes
            .push("10,000 ÷ 100 schools: measured by `scripts/bench.sh --large`.".into());
        None
    };

    let mut compared = vec![("open", &target)];
    if let Some((_, keyed)) = &keyed {
        compared.push(("api-key", keyed));
    }
    if let Some((_, small)) = &small {
        compared.push(("100 schools", small));
    }
    let paired =
        crate::paired::interleaved(args, &bench.cluster, &bench.work, size, &compared).await?;
    bench.notes.push(paired.note());
    drop((keyed, small));
    server.stop();

    let trips = bench.round_trips(size).await?;
    round_trips::attach(&mut rows, &trips, args.connections);

    let creation_ratio = creation::school_creation(&mut bench, &db, size).await?;

    bench.notes.push(format!(
        "Load average (1, 5, 15 min) at the start: {load_at_start}; at the end: {}. Other work on the machine shares the cores; every target is a ratio within this run for that reason.",
        crate::summary::load_average()
    ));
    let report = crate::summary::finish(
        args,
        &bench,
        baselines,
        rows,
        &trips,
        &paired,
        creation_ratio,
        limits,
    )
    .await?;
    println!("{}\n{}", report.table(), report.targets_table());
    let work = bench.work.clone();
    drop(bench); // stops PostgreSQL
    let _ = std::fs::remove_dir_all(work);
    Ok(())
}

/// Runs seeding SQL, naming the step in the error.
async fn seed_sql(db: &tokio_postgres::Client, sql: &str) -> Result<(), String> {
    db.batch_execute(sql)
        .await
        .map_err(|e| crate::database::describe("seed", &e))
}
