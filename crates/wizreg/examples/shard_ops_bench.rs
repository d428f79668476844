//! Measures `tenant isolate` and `tenant move` for one school with 100,000 students (or
//! `--students N`) on a fresh embedded Citus cluster (a coordinator and 2 workers, durable
//! settings), while the school keeps being read and written.
//!
//! ```sh
//! cargo run --release -p wizreg --example shard_ops_bench -- --students 100000
//! ```
//!
//! The school shares the cluster with 99 others. During each step one reader and one writer
//! loop on the school through tenant transactions as the runtime role (as requests do); the
//! output gives the step's wall time and, for reads and writes during it, how many succeeded,
//! failed, and the slowest one: the slowest write is how long writes paused.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tenancy::embedded::{EmbeddedCitus, EmbeddedOptions};
use tenancy::{Slug, TenantId};
use tokio_postgres::NoTls;
use wizreg::database::{Database, Role};
use wizreg::shards::{self, NodeAddr};

const DB: &str = "shard_ops_bench";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let students: i64 = match std::env::args().skip_while(|a| a != "--students").nth(1) {
        Some(n) => n.parse()?,
        None => 100_000,
    };
    let dir = PathBuf::from(format!(
        "/tmp/wizreg-shard-ops-bench-{}",
        std::process::id()
    ));
    let options = EmbeddedOptions {
        data_dir: dir.clone(),
        pg_bin: None,
        ephemeral: false,
        ..Default::default()
    };
    let cluster = EmbeddedCitus::start(&options, 2)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run(&cluster, students));
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(cluster: &EmbeddedCitus, students: i64) -> Result<(), Box<dyn std::error::Error>> {
    cluster.prepare_database(DB).await?;
    let database = Database::from_embedded_cluster(cluster.coordinator(), DB);
    database.migrate().await?;
    let platform = database.connect(Role::Platform).await?;
    let owner = database.connect(Role::Admin).await?;
    for n in 1..100 {
        let slug = Slug::parse(&format!("school-{n}"))?;
        wizreg::tenants::create(&platform, &slug, slug.as_str()).await?;
    }
    let big = wizreg::tenants::create(&platform, &Slug::parse("big")?, "Big").await?;
    let started = Instant::now();
    owner
        .execute(
            "insert into wizreg.student (tenant_id, id, name, email)
             select $1, gen_random_uuid(), 'Student ' || n, 'student' || n || '@example.org'
             from generate_series(1, $2::bigint) n",
            &[&big.id.as_uuid(), &students],
        )
        .await?;
    owner.batch_execute("vacuum analyze wizreg.student").await?;
    println!(
        "seeded {students} students in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let before = shards::placement(&owner, big.id).await?;
    println!(
        "before: shard {} on {} with {} school(s)",
        before.shard_id, before.nodes[0], before.schools_in_shard
    );
    let (change, traffic) = under_traffic(&database, big.id, shards::isolate(&owner, big.id)).await;
    let change = change?;
    println!(
        "isolate: {:.2} s ({:?}); {traffic}",
        traffic.wall.as_secs_f64(),
        change.transfer_mode
    );

    let from = change.placement.nodes[0].clone();
    let other = owner
        .query_one(
            "select nodename, nodeport from pg_dist_node
             where noderole = 'primary' and groupid <> 0 and not (nodename = $1 and nodeport = $2)",
            &[&from.host, &i32::from(from.port)],
        )
        .await?;
    let to = NodeAddr {
        host: other.get(0),
        port: u16::try_from(other.get::<_, i32>(1))?,
    };
    let (change, traffic) =
        under_traffic(&database, big.id, shards::move_to(&owner, big.id, &to)).await;
    let change = change?;
    println!(
        "move {from} -> {to}: {:.2} s ({:?}); {traffic}",
        traffic.wall.as_secs_f64(),
        change.transfer_mode
    );
    Ok(())
}

/// Reads and writes seen during a step.
#[derive(Default)]
struct Traffic {
    wall: Duration,
    reads: Loop,
    writes: Loop,
}

#[derive(Default)]
struct Loop {
    ok: u64,
    failed: u64,
    slowest: Duration,
}

impl std::fmt::Display for Traffic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "reads during it: {} ok, {} failed, slowest {:.0} ms; writes: {} ok, {} failed, slowest {:.0} ms",
            self.reads.ok,
            self.reads.failed,
            self.reads.slowest.as_secs_f64() * 1000.0,
            self.writes.ok,
            self.writes.failed,
            self.writes.slowest.as_secs_f64() * 1000.0
        )
    }
}

/// Runs `step` while one reader and one writer loop on `tenant`.
async fn under_traffic<T>(
    database: &Database,
    tenant: TenantId,
    step: impl std::future::Future<Output = T>,
) -> (T, Traffic) {
    let stop = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn(traffic_loop(
        database.config(Role::App),
        tenant,
        stop.clone(),
        false,
    ));
    let writer = tokio::spawn(traffic_loop(
        database.config(Role::App),
        tenant,
        stop.clone(),
        true,
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let result = step.await;
    let wall = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let reads = reader.await.unwrap_or_default();
    let writes = writer.await.unwrap_or_default();
    (
        result,
        Traffic {
            wall,
            reads,
            writes,
        },
    )
}

/// A tenant transaction after another, as the runtime role, until `stop`.
async fn traffic_loop(
    config: tokio_postgres::Config,
    tenant: TenantId,
    stop: Arc<AtomicBool>,
    write: bool,
) -> Loop {
    let mut seen = Loop::default();
    let Ok((mut client, connection)) = config.connect(NoTls).await else {
        return seen;
    };
    tokio::spawn(connection);
    let id = tenant.as_uuid();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let outcome = async {
            let tx = client.transaction().await?;
            tx.execute("select wizreg.enter_tenant($1)", &[&id]).await?;
            if write {
                tx.execute(
                    "insert into wizreg.student (tenant_id, id, name) values ($1, gen_random_uuid(), 'During')",
                    &[&id],
                )
                .await?;
            } else {
                tx.query(
                    "select id, name from wizreg.student where tenant_id = $1 order by id limit 10",
                    &[&id],
                )
                .await?;
            }
            tx.commit().await
        }
        .await;
        let took = started.elapsed();
        seen.slowest = seen.slowest.max(took);
        match outcome {
            Ok(()) => seen.ok += 1,
            Err(_) => {
                seen.failed += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    seen
}
