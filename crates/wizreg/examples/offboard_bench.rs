//! Measures the tenant lifecycle at scale: export, import and offboarding of one school with
//! 1,000,000 students (or `--students N`), on a fresh embedded PostgreSQL with its default
//! (durable) settings.
//!
//! ```sh
//! cargo run --release -p wizreg --example offboard_bench -- --students 1000000
//! ```
//!
//! Seeding runs inside the server (`generate_series`); the measured steps run the same library
//! code as the admin API and the CLI (through tenant transactions as the runtime role). For each
//! step it prints the wall time, the rate and this process's peak RSS during the step (the
//! kernel's high-water mark is reset before each step), which shows whether memory stays flat.

use std::path::PathBuf;
use std::time::Instant;

use tenancy::embedded::{EmbeddedOptions, EmbeddedPostgres, SUPERUSER};
use tenancy::Slug;
use tokio::io::BufWriter;
use tokio_postgres::NoTls;
use wizreg::database::{Database, Role};
use wizreg::offboard::{self, Offboarded};
use wizreg::portability::export::{self, WriteSink};
use wizreg::portability::import;

const DB: &str = "offboard_bench";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let students: i64 = match std::env::args().skip_while(|a| a != "--students").nth(1) {
        Some(n) => n.parse()?,
        None => 1_000_000,
    };
    let dir = PathBuf::from(format!("/tmp/wizreg-offboard-bench-{}", std::process::id()));
    let options = EmbeddedOptions {
        data_dir: dir.clone(),
        pg_bin: None,
        ephemeral: false,
        ..Default::default()
    };
    let cluster = EmbeddedPostgres::start(&options)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run(&cluster, students, &dir));
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(
    cluster: &EmbeddedPostgres,
    students: i64,
    dir: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let (postgres, connection) = cluster.config(SUPERUSER, "postgres").connect(NoTls).await?;
    tokio::spawn(connection);
    postgres
        .batch_execute(&format!("create database {DB}"))
        .await?;
    let database = Database::from_embedded_cluster(cluster, DB);
    database.migrate().await?;
    let platform = database.connect(Role::Platform).await?;
    let superuser = database.connect(Role::Admin).await?;
    let tenancy = database.command_tenancy();
    let source = wizreg::tenants::create(&platform, &Slug::parse("bench")?, "Bench").await?;
    let target = wizreg::tenants::create(&platform, &Slug::parse("bench-copy")?, "Copy").await?;

    let started = Instant::now();
    seed_houses(&superuser, source.id.as_uuid()).await?;
    superuser
        .execute(
            "insert into wizreg.student (tenant_id, id, name, email, house_id)
             select $1, gen_random_uuid(), 'Student ' || n,
                    case when n % 2 = 0 then 'student' || n || '@example.org' end,
                    (select id from wizreg.house where tenant_id = $1 order by id offset n % 5 limit 1)
             from generate_series(1, $2::bigint) n",
            &[&source.id.as_uuid(), &students],
        )
        .await?;
    superuser.batch_execute("vacuum analyze").await?;
    println!(
        "seeded {students} students (half with email, 4/5 in a house) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let file = dir.join("bench.ndjson");
    reset_peak_rss();
    let started = Instant::now();
    let mut sink = WriteSink(BufWriter::new(tokio::fs::File::create(&file).await?));
    let end = export::export(&tenancy, source.id, &mut sink, |_| {}).await?;
    tokio::io::AsyncWriteExt::shutdown(&mut sink.0).await?;
    let records = end.houses + end.students;
    report(
        "export",
        records,
        started,
        Some(std::fs::metadata(&file)?.len()),
    );

    reset_peak_rss();
    let started = Instant::now();
    let input = tokio::io::BufReader::new(tokio::fs::File::open(&file).await?);
    let counts = import::import(&tenancy, target.id, input, u64::MAX, |_| {}).await?;
    report("import", counts.houses + counts.students, started, None);

    reset_peak_rss();
    let started = Instant::now();
    let outcome = offboard::delete_tenant(&platform, &tenancy, source.id, |_| {}).await?;
    let Offboarded::Deleted { rows } = outcome else {
        return Err("the school vanished".into());
    };
    report("delete", rows, started, None);
    let left: i64 = superuser
        .query_one(
            "select (select count(*) from wizreg.student where tenant_id = $1) + (select count(*) from wizreg.house where tenant_id = $1)",
            &[&source.id.as_uuid()],
        )
        .await?
        .get(0);
    println!("rows of the deleted school left: {left}");
    Ok(())
}

/// Houses with time-ordered ids, as the API makes them.
async fn seed_houses(
    superuser: &tokio_postgres::Client,
    tenant: uuid::Uuid,
) -> Result<(), tokio_postgres::Error> {
    for n in 1..=4 {
        superuser
            .execute(
                "insert into wizreg.house (tenant_id, id, name) values ($1, $2, $3)",
                &[&tenant, &uuid::Uuid::now_v7(), &format!("House {n}")],
            )
            .await?;
    }
    Ok(())
}

fn report(step: &str, rows: u64, started: Instant, bytes: Option<u64>) {
    let secs = started.elapsed().as_secs_f64();
    let size = bytes.map_or(String::new(), |b| format!(", {:.0} MB", b as f64 / 1e6));
    println!(
        "{step}: {rows} rows in {secs:.1} s = {:.0} rows/s{size}; peak RSS during the step {} MB",
        rows as f64 / secs,
        peak_rss_kb() / 1024
    );
}

/// Resets the kernel's peak-RSS mark for this process (Linux: `echo 5 > /proc/self/clear_refs`).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}
