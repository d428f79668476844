//! The limits each route is judged against, in the same run: the HTTP floor H (`GET /healthz`
//! through every middleware, no database), the database floor P (pgbench of the route's own
//! transaction at its best client count, `floors.rs`), and their composite
//! L = 1 / (1/H + 1/P): the server and PostgreSQL share the same two cores, so neither floor
//! alone is reachable. Each route is driven by the load generator on one thread (the main
//! table's closed-loop rows) and on two, so the client is not what limits it.

use super::{find, Bench};
use crate::floors::Floors;
use crate::load::{Route, Target};
use crate::measure::{self, Meters};
use crate::report::Row;

/// One route against its limits.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RouteLimit {
    pub route: Route,
    pub one_thread: f64,
    pub two_threads: f64,
    /// P: the route's transaction in pgbench, best client count.
    pub db_floor: f64,
    /// L = 1 / (1/H + 1/P).
    pub limit: f64,
    pub server_cpu_us: Option<f64>,
    pub db_cpu_us: Option<f64>,
}

impl RouteLimit {
    pub fn best(&self) -> f64 {
        self.one_thread.max(self.two_threads)
    }
    /// The route's best rate over its limit.
    pub fn ratio(&self) -> f64 {
        self.best() / self.limit
    }
}

/// What [`Bench::limits`] measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Limits {
    pub floors: Floors,
    /// H with the load generator on one thread and on two.
    pub http_floor_one_thread: f64,
    pub http_floor_two_threads: f64,
    pub routes: Vec<RouteLimit>,
}

impl Limits {
    pub fn http_floor(&self) -> f64 {
        self.http_floor_one_thread.max(self.http_floor_two_threads)
    }

    pub fn route(&self, route: Route) -> Option<&RouteLimit> {
        self.routes.iter().find(|r| r.route == route)
    }

    /// The Markdown table of the limits, for the report.
    pub fn markdown(&self) -> String {
        let h = self.http_floor();
        let mut out = format!(
            "HTTP floor H (`GET /healthz`, every middleware, no database): {:.0}/s with the load \
             generator on one thread, {:.0}/s on two.\n\n\
             | route | req/s, 1 thread | req/s, 2 threads | H | P (pgbench, best clients) | L = 1/(1/H+1/P) | req/s ÷ L | server CPU µs/req | DB CPU µs/req |\n\
             |---|--:|--:|--:|--:|--:|--:|--:|--:|\n",
            self.http_floor_one_thread, self.http_floor_two_threads
        );
        for r in &self.routes {
            let clients = self.floors.route(r.route).map_or(0, |floor| floor.clients);
            out.push_str(&format!(
                "| {} | {:.0} | {:.0} | {h:.0} | {:.0} ({clients}) | {:.0} | {:.2} | {} | {} |\n",
                r.route.label(),
                r.one_thread,
                r.two_threads,
                r.db_floor,
                r.limit,
                r.ratio(),
                r.server_cpu_us.map_or("–".into(), |v| format!("{v:.0}")),
                r.db_cpu_us.map_or("–".into(), |v| format!("{v:.0}")),
            ));
        }
        let f = &self.floors;
        let get = self.route(Route::GetById).map_or(0.0, RouteLimit::best);
        out.push_str(&format!(
            "\nDatabase floors in tx/s by pgbench clients ({}):\n\n| transaction | {} | best |\n|---|{}--:|\n",
            crate::floors::CLIENT_COUNTS.map(|c| c.to_string()).join(", "),
            crate::floors::CLIENT_COUNTS.map(|c| format!("{c} clients")).join(" | "),
            "--:|".repeat(crate::floors::CLIENT_COUNTS.len()),
        ));
        let floors = std::iter::once(&f.plain_read)
            .chain(f.routes.iter().map(|(_, floor)| floor))
            .chain([&f.enter_old, &f.enter_set_config]);
        for floor in floors {
            let cells: Vec<String> = floor.by_clients.iter().map(|v| format!("{v:.0}")).collect();
            out.push_str(&format!(
                "| {} | {} | {:.0} |\n",
                floor.name,
                cells.join(" | "),
                floor.tps
            ));
        }
        out.push_str(&format!(
            "\n- Plain read (a) at its best ({} clients): {:.0} tx/s; `GET /students/{{id}}` at its best reaches {:.2} of it.\n\
             - Tenant entry, the read transaction with today's `enter_tenant` ÷ with migration 0004's plpgsql one: {:.2} \
             (bare `set_config`: {:.0} tx/s).\n",
            f.plain_read.clients,
            f.plain_read.tps,
            get / f.plain_read.tps,
            f.enter_ratio().unwrap_or(0.0),
            f.enter_set_config.tps,
        ));
        out
    }
}

impl Bench<'_> {
    /// H on one and two load-generator threads, each route on two threads (the one-thread
    /// figures are `rows`' closed-loop rows), and L per route from `floors`.
    pub(super) async fn limits(
        &self,
        meters: &Meters<'_>,
        target: &Target,
        floors: Floors,
        rows: &mut Vec<Row>,
    ) -> Result<Limits, String> {
        let conns = self.args.connections;
        let mut http = [0.0; 2];
        for (threads, rate) in [1, 2].into_iter().zip(http.iter_mut()) {
            eprintln!("bench: GET /healthz, {threads} load thread(s) …");
            let mode = format!("closed, {conns} conns, {threads} load thread(s)");
            let row = measure::route_on_threads(
                self.args,
                meters,
                target,
                Route::Healthz,
                None,
                threads,
                &mode,
            )
            .await?;
            *rate = row.requests_per_s;
            rows.push(row);
        }
        let h = http[0].max(http[1]);
        let mut routes = Vec::new();
        for route in Route::ALL {
            eprintln!("bench: {}, 2 load threads …", route.label());
            let mode = format!("closed, {conns} conns, 2 load threads");
            let two =
                measure::route_on_threads(self.args, meters, target, route, None, 2, &mode).await?;
            let one = find(rows, route, "closed").ok_or("a closed-loop row is missing")?;
            let p = floors.route(route).map_or(0.0, |floor| floor.tps);
            routes.push(RouteLimit {
                route,
                one_thread: one.requests_per_s,
                two_threads: two.requests_per_s,
                db_floor: p,
                limit: 1.0 / (1.0 / h + 1.0 / p),
                server_cpu_us: one.server_cpu_us_per_request,
                db_cpu_us: one.db_cpu_us_per_request,
            });
            rows.push(two);
        }
        Ok(Limits {
            floors,
            http_floor_one_thread: http[0],
            http_floor_two_threads: http[1],
            routes,
        })
    }
}
