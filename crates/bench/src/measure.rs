//! One measured run of one route against a running server: the load generator's numbers plus
//! the server's and the database's counters over the same window, as a table row.

use std::time::Duration;

use tokio_postgres::Client;

use crate::database::{Baseline, Cluster};
use crate::load::{self, Route, Target};
use crate::report::Row;
use crate::server::{children_cpu_time, Server};
use crate::Args;

/// Where a run's counters come from.
#[derive(Debug)]
pub struct Meters<'a> {
    pub server: &'a Server,
    pub cluster: &'a Cluster,
    /// A superuser connection to the database holding `pg_stat_statements`.
    pub stats: &'a Client,
    pub baselines: &'a [Baseline],
}

const STATEMENTS_SQL: &str = "select coalesce(sum(calls), 0)::float8 from pg_stat_statements s \
     join pg_roles r on r.oid = s.userid where r.rolname = 'wizreg_app'";

/// Runs `route` closed-loop (`rate` = None) or at a fixed rate, and fills a row named `name`.
pub async fn route(
    args: &Args,
    meters: &Meters<'_>,
    target: &Target,
    route: Route,
    rate: Option<f64>,
    mode: &str,
) -> Result<Row, String> {
    route_on_threads(args, meters, target, route, rate, 1, mode).await
}

/// [`route`] with the load generator on `threads` threads (closed loop only when above 1).
pub async fn route_on_threads(
    args: &Args,
    meters: &Meters<'_>,
    target: &Target,
    route: Route,
    rate: Option<f64>,
    threads: usize,
    mode: &str,
) -> Result<Row, String> {
    let db_error = |e: tokio_postgres::Error| format!("pg_stat_statements: {e}");
    meters
        .stats
        .execute("select pg_stat_statements_reset()", &[])
        .await
        .map_err(db_error)?;
    meters.server.reset_peak_rss();
    let server_cpu = meters.server.cpu_time();
    let postmaster = meters.cluster.postmaster_pid();
    let db_cpu = children_cpu_time(postmaster);
    let outcome = if threads > 1 {
        load::run_on_threads(
            threads,
            target,
            route,
            args.connections,
            args.warmup(),
            args.measured(),
        )
        .await
    } else {
        load::run(
            target,
            route,
            args.connections,
            rate,
            args.warmup(),
            args.measured(),
        )
        .await
    };
    let server_cpu = meters.server.cpu_time().saturating_sub(server_cpu);
    let db_cpu = children_cpu_time(postmaster).saturating_sub(db_cpu);
    let statements: f64 = meters
        .stats
        .query_one(STATEMENTS_SQL, &[])
        .await
        .map_err(db_error)?
        .get(0);
    let all = outcome.all_requests.max(1) as f64;
    let per_request_us = |d: Duration| d.as_secs_f64() * 1e6 / all;
    let rate = outcome.rate();
    let ratio = |i: usize| meters.baselines.get(i).map(|b| rate / b.tps);
    let closed = rate_is_closed(mode);
    Ok(Row {
        name: route.label().to_owned(),
        mode: mode.to_owned(),
        requests_per_s: rate,
        p50_ms: Some(outcome.percentile_ms(50.0)),
        p90_ms: Some(outcome.percentile_ms(90.0)),
        p99_ms: Some(outcome.percentile_ms(99.0)),
        ratio_to_a: ratio(0).filter(|_| closed),
        ratio_to_b: ratio(1).filter(|_| closed),
        peak_rss_mib: Some(meters.server.peak_rss_kib() as f64 / 1024.0),
        server_cpu_us_per_request: Some(per_request_us(server_cpu)),
        db_cpu_us_per_request: Some(per_request_us(db_cpu)),
        statements_per_request: Some(statements / all),
        round_trips_per_request: None,
        failures: outcome.failures,
        wrong_tenant: outcome.wrong_tenant,
    })
}

fn rate_is_closed(mode: &str) -> bool {
    mode.starts_with("closed")
}

/// Median times (ms) of `n` school creations through `POST /admin/tenants` on each of
/// `servers`, alternating between them request by request so that both see the same moment of
/// a shared, drifting machine; after a warm-up.
pub async fn school_creation(servers: &[&Server], n: usize) -> Result<Vec<f64>, String> {
    let mut conns = Vec::new();
    for server in servers {
        conns.push(
            crate::http::Conn::open(server.addr)
                .await
                .map_err(|e| format!("connect: {e}"))?,
        );
    }
    let auth = format!("Bearer {}", crate::server::ADMIN_TOKEN);
    let mut times = vec![Vec::new(); servers.len()];
    for i in 0..n + 5 {
        for (conn, times) in conns.iter_mut().zip(times.iter_mut()) {
            let body = format!("{{\"slug\":\"new-{i}\",\"name\":\"New School {i}\"}}");
            let request = crate::http::request(
                "POST",
                "/admin/tenants",
                &[("authorization", &auth)],
                Some(&body),
            );
            let started = std::time::Instant::now();
            let (status, _) = conn
                .send(&request)
                .await
                .map_err(|e| format!("create a school: {e}"))?;
            if status != 201 {
                return Err(format!("POST /admin/tenants answered {status}"));
            }
            if i >= 5 {
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    Ok(times
        .into_iter()
        .map(|mut t| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        })
        .collect())
}

/// Issues one API key per school `1..=schools`, in school order.
pub async fn api_keys(server: &Server, schools: u32) -> Result<Vec<String>, String> {
    let mut conn = crate::http::Conn::open(server.addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let auth = format!("Bearer {}", crate::server::ADMIN_TOKEN);
    let mut keys = Vec::new();
    for t in 1..=schools {
        let path = format!("/admin/tenants/{}/api-keys", crate::dataset::school_slug(t));
        let request = crate::http::request("POST", &path, &[("authorization", &auth)], None);
        let (status, body) = conn
            .send(&request)
            .await
            .map_err(|e| format!("issue a key: {e}"))?;
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        match (status, json["key"].as_str()) {
            (201, Some(key)) => keys.push(key.to_owned()),
            _ => return Err(format!("POST {path} answered {status}")),
        }
    }
    Ok(keys)
}
