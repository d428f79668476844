//! The database floors: pgbench running exactly the transaction the API sends for each route
//! (`BEGIN`, `enter_tenant`, the route's own statement with the API's SQL text, `COMMIT`,
//! pipelined, durable), each at its best of several client counts; the plain primary-key read
//! (baseline (a)); and the tenant entry itself, old (migration 0004's plpgsql) against new,
//! with a bare `set_config` beside them. Every script runs at every client count before the
//! next count starts, so the comparisons inside a count are taken at the same moment.

use std::path::Path;
use std::process::Command;

use uuid::Uuid;
use wizreg::domain::students::{self, NewStudent, Page, StudentPatch};

use crate::database::{Cluster, DB_NAME, PLAIN_DB_NAME};
use crate::dataset::{school_id_sql, student_id_sql, Size};
use crate::load::{Route, LIST_LIMIT};

/// The client counts tried; a floor is the best of them.
pub const CLIENT_COUNTS: [u32; 4] = [4, 8, 16, 64];

/// One script's best rate.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Floor {
    pub name: String,
    pub tps: f64,
    pub clients: u32,
    /// The rate at every client count tried, in [`CLIENT_COUNTS`] order.
    pub by_clients: Vec<f64>,
}

/// Everything this module measures.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Floors {
    /// (a): the plain primary-key read, no RLS, no transaction.
    pub plain_read: Floor,
    /// P per route, in [`Route::ALL`] order.
    pub routes: Vec<(Route, Floor)>,
    /// The read transaction entering the tenant with migration 0004's plpgsql function.
    pub enter_old: Floor,
    /// The same with a bare `set_config(…, true)` in place of `enter_tenant`.
    pub enter_set_config: Floor,
}

impl Floors {
    pub fn route(&self, route: Route) -> Option<&Floor> {
        self.routes
            .iter()
            .find(|(r, _)| *r == route)
            .map(|(_, f)| f)
    }

    /// The read transaction with today's `enter_tenant`, over migration 0004's.
    pub fn enter_ratio(&self) -> Option<f64> {
        let new = self.route(Route::GetById)?;
        Some(new.tps / self.enter_old.tps)
    }
}

/// The old function, installed beside the new one for the comparison.
const OLD_ENTER: &str = "wizreg_bench.enter_tenant_0004";

/// Installs migration 0004's `enter_tenant` as [`OLD_ENTER`] (a schema of its own, executable
/// by the runtime role), so both forms run against the same data in the same run.
pub async fn install_old_enter(db: &tokio_postgres::Client) -> Result<(), String> {
    let migration = wizreg::migrate::MIGRATIONS
        .iter()
        .find(|(version, _, _)| *version == 4)
        .map(|(_, _, sql)| *sql)
        .ok_or("migration 0004 is missing")?;
    let start = migration
        .find("create or replace function wizreg.enter_tenant")
        .ok_or("0004 has no enter_tenant")?;
    let body_end = migration[start..]
        .find("$$;")
        .map(|end| start + end + 3)
        .ok_or("0004's enter_tenant has no end")?;
    let function = migration[start..body_end].replace("wizreg.enter_tenant", OLD_ENTER);
    let sql = format!(
        "create schema if not exists wizreg_bench;\n{function}\n\
         grant usage on schema wizreg_bench to wizreg_app;\n\
         grant execute on function {OLD_ENTER}(uuid) to wizreg_app;"
    );
    db.batch_execute(&sql)
        .await
        .map_err(|e| crate::database::describe("install the old enter_tenant", &e))
}

/// `sql` with `$1`, `$2`, … replaced by `values` (SQL expressions), highest number first so
/// that `$1` never eats the start of `$10`.
fn substitute(sql: &str, values: &[&str]) -> String {
    let mut out = sql.to_owned();
    for (i, value) in values.iter().enumerate().rev() {
        out = out.replace(&format!("${}", i + 1), value);
    }
    out
}

/// A time-ordered id like the API's UUIDv7 (milliseconds first, then random bits), so inserts
/// land at the end of each school's key range as the API's do.
const V7_LIKE_ID: &str =
    "(select (lpad(to_hex(ms >> 16), 8, '0') || '-' || lpad(to_hex(ms & 65535), 4, '0') \
     || substr(gen_random_uuid()::text, 14))::uuid \
     from (select (extract(epoch from clock_timestamp()) * 1000)::bigint as ms) now_ms)";

/// The API's statement for `route`, its parameters replaced by pgbench expressions.
fn route_statement(route: Route, tenant: &str, student: &str) -> String {
    let name = "'Bench ' || :n";
    match route {
        Route::GetById => substitute(students::get(Uuid::nil()).sql(), &[tenant, student]),
        Route::List => {
            let page = Page {
                limit: LIST_LIMIT,
                after: Uuid::nil(),
                name_contains: String::new(),
            };
            let limit = (LIST_LIMIT + 1).to_string();
            substitute(
                students::list(page).sql(),
                &[
                    tenant,
                    "'00000000-0000-0000-0000-000000000000'::uuid",
                    "''",
                    &limit,
                ],
            )
        }
        Route::Create => {
            let new = NewStudent {
                name: String::new(),
                email: None,
                house_id: None,
            };
            substitute(
                students::insert(new).sql(),
                &[tenant, V7_LIKE_ID, name, "null::text", "null::uuid"],
            )
        }
        Route::Update => {
            let patch = StudentPatch::parse(wizreg::domain::input::Input::new(Default::default()))
                .expect("an empty patch is valid");
            substitute(
                students::update(Uuid::nil(), patch).sql(),
                &[
                    tenant,
                    student,
                    name,
                    "false",
                    "null::text",
                    "false",
                    "null::uuid",
                ],
            )
        }
        Route::Healthz | Route::CreateKeyed => String::new(),
    }
}

/// The pgbench scripts, named: (a), each route with today's `enter_tenant`, and the read with
/// the old function and with a bare `set_config`.
fn scripts(size: Size) -> Vec<(String, &'static str, &'static str, String)> {
    let draw = format!(
        "\\set t random(1, {})\n\\set n random(1, {})\n",
        size.schools, size.students_per_school
    );
    let tenant = school_id_sql(":t::int");
    let student = student_id_sql(":t::int", ":n::int");
    let tx = |enter: &str, statement: &str| {
        format!("{draw}\\startpipeline\nbegin;\n{enter};\n{statement};\ncommit;\n\\endpipeline\n")
    };
    let enter_new = format!("select wizreg.enter_tenant({tenant})");
    let read = route_statement(Route::GetById, &tenant, &student);
    let plain = substitute(
        &students::get(Uuid::nil())
            .sql()
            .replace("wizreg.student", "student_plain"),
        &[&tenant, &student],
    );
    let mut scripts = vec![(
        "(a) plain PK read, no RLS".to_owned(),
        tenancy::embedded::SUPERUSER,
        PLAIN_DB_NAME,
        format!("{draw}{plain};\n"),
    )];
    for route in Route::ALL {
        let statement = route_statement(route, &tenant, &student);
        scripts.push((
            route.label().to_owned(),
            "wizreg_app",
            DB_NAME,
            tx(&enter_new, &statement),
        ));
    }
    scripts.push((
        "read, old enter_tenant (0004 plpgsql)".to_owned(),
        "wizreg_app",
        DB_NAME,
        tx(&format!("select {OLD_ENTER}({tenant})"), &read),
    ));
    // The baseline the tenant entry is judged against. `{tenant}` is a pgbench expression of
    // the variable `:t`, not a value: under `-M prepared` pgbench sends it as a bind parameter,
    // exactly as the API binds `$1`.
    scripts.push((
        "read, bare set_config".to_owned(),
        "wizreg_app",
        DB_NAME,
        tx(
            &format!("select set_config('wizreg.current_tenant', ({tenant})::text, true)"),
            &read,
        ),
    ));
    scripts
}

/// Runs every script at every client count for `seconds` each, and keeps each one's best.
pub fn measure(cluster: &Cluster, work: &Path, size: Size, seconds: u64) -> Result<Floors, String> {
    let scripts = scripts(size);
    let mut rates = vec![Vec::new(); scripts.len()];
    for clients in CLIENT_COUNTS {
        eprintln!("bench: database floors, {clients} clients …");
        for (i, (name, role, dbname, script)) in scripts.iter().enumerate() {
            let file = work.join(format!("floor-{i}.sql"));
            std::fs::write(&file, script).map_err(|e| format!("{}: {e}", file.display()))?;
            rates[i].push(pgbench(
                cluster, &file, role, dbname, clients, seconds, name,
            )?);
        }
    }
    let mut floors = scripts
        .iter()
        .zip(rates)
        .map(|((name, ..), by_clients)| best(name, by_clients));
    let mut next = || floors.next().ok_or("a floor is missing".to_owned());
    let plain_read = next()?;
    let mut routes = Vec::new();
    for route in Route::ALL {
        routes.push((route, next()?));
    }
    Ok(Floors {
        plain_read,
        routes,
        enter_old: next()?,
        enter_set_config: next()?,
    })
}

fn best(name: &str, by_clients: Vec<f64>) -> Floor {
    let (at, tps) = by_clients
        .iter()
        .copied()
        .enumerate()
        .fold(
            (0, 0.0),
            |best, (i, v)| if v > best.1 { (i, v) } else { best },
        );
    Floor {
        name: name.to_owned(),
        tps,
        clients: CLIENT_COUNTS[at],
        by_clients,
    }
}

fn pgbench(
    cluster: &Cluster,
    file: &Path,
    role: &str,
    dbname: &str,
    clients: u32,
    seconds: u64,
    name: &str,
) -> Result<f64, String> {
    let out = Command::new(cluster.bin.join("pgbench"))
        .args(["-n", "-M", "prepared", "-j", "1"])
        .args(["-c", &clients.to_string(), "-T", &seconds.to_string()])
        .arg("-f")
        .arg(file)
        .arg("-d")
        .arg(cluster.url(role, dbname))
        .output()
        .map_err(|e| format!("pgbench: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .ok_or_else(|| {
            format!(
                "pgbench {name} ({clients} clients) failed: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}
