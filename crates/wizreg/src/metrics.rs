//! Prometheus metrics: what is counted, under which labels, and the rule that keeps the number
//! of label values bounded whatever clients send.
//!
//! Label rules (a label value never comes from raw client input):
//! - `route` is the matched route template (`/students/{id}`, trailing slash trimmed), or
//!   `unmatched` for requests no route took;
//! - `method` is one of the standard methods, or `other`;
//! - `status` is the three-digit status code;
//! - `tenant` is `other` for every school unless the operator opts in: then the slug of one of
//!   the first `WIZREG_METRICS_TENANT_LABELS` schools this process served, `other` for any
//!   school after those; `none` when the request resolved no school (unknown, malformed or
//!   absent references never become labels). Off by default because slugs name customers.
//!
//! The registry is process-wide, like the process it describes. Recording a request costs two
//! hash look-ups on pre-existing series (no allocation once a series exists).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use axum::http::{Method, StatusCode};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use tenancy::{DbError, DbErrorKind, TenantId};

/// Default for `WIZREG_METRICS_TENANT_LABELS`: no school is named unless the operator opts in.
pub const DEFAULT_TENANT_LABELS: usize = 0;

/// The label of requests that served no school.
pub const NO_TENANT: &str = "none";
/// The label of schools past the labelled ones.
pub const OTHER_TENANT: &str = "other";

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const REQUEST_LABELS: &[&str] = &["route", "method", "status", "tenant"];

/// The series Wizreg records as it serves. Gauges and totals that other parts keep (the pool,
/// the limits) are read when `/metrics` is scraped ([`ScrapeValues`]).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    db_errors: IntCounterVec,
}

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// Values read at scrape time from the runtime pool and the per-school limits.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScrapeValues {
    pub pool_max_size: usize,
    pub pool_size: usize,
    pub pool_idle: usize,
    pub pool_waiting: usize,
    /// Totals since start.
    pub pool_acquire_timeouts: u64,
    pub rate_limited: u64,
    pub concurrency_limited: u64,
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("wizreg_http_requests_total", "HTTP requests answered."),
            REQUEST_LABELS,
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "wizreg_http_request_duration_seconds",
                "Time from receiving a request's head to its response head.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            REQUEST_LABELS,
        )
        .expect("valid metric");
        let db_errors = IntCounterVec::new(
            Opts::new(
                "wizreg_db_errors_total",
                "Database errors met while serving requests, by SQLSTATE class (`none`: no SQLSTATE, such as a lost connection or a pool timeout) and kind.",
            ),
            &["class", "kind"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(db_errors.clone()),
        ] {
            registry.register(collector).expect("names are unique");
        }
        Self {
            registry,
            requests,
            latency,
            db_errors,
        }
    }

    /// Records one answered request.
    pub fn observe_request(
        &self,
        route: &str,
        method: &Method,
        status: StatusCode,
        tenant: &str,
        seconds: f64,
    ) {
        let labels = [route, method_label(method), status.as_str(), tenant];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// Counts a database error by its SQLSTATE class and kind.
    pub fn count_db_error(&self, err: &DbError) {
        let class = err
            .sqlstate()
            .and_then(|state| state.get(..2))
            .filter(|class| class.bytes().all(|b| b.is_ascii_alphanumeric()))
            .unwrap_or("none");
        self.db_errors
            .with_label_values(&[class, kind_label(err.kind())])
            .inc();
    }

    /// The Prometheus text exposition: the recorded series plus `values` as of now.
    pub fn render(&self, values: ScrapeValues) -> String {
        self.render_with(values, Vec::new())
    }

    /// [`Metrics::render`] plus `extra` series read at scrape time (Citus's per-school
    /// statistics, [`crate::citus_stats`]).
    pub fn render_with(
        &self,
        values: ScrapeValues,
        extra: Vec<prometheus::proto::MetricFamily>,
    ) -> String {
        let mut families = self.registry.gather();
        families.extend(scrape_families(values));
        families.extend(extra);
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::with_capacity(16 * 1024);
        TextEncoder::new()
            .encode(&families, &mut out)
            .expect("the text encoder writes to memory");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

/// The scrape-time series, built fresh for each scrape.
fn scrape_families(values: ScrapeValues) -> Vec<prometheus::proto::MetricFamily> {
    let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let registry = Registry::new();
    let register = |collector: Box<dyn prometheus::core::Collector>| {
        registry.register(collector).expect("names are unique");
    };
    let connections = IntGaugeVec::new(
        Opts::new(
            "wizreg_db_pool_connections",
            "Runtime pool connections by state.",
        ),
        &["state"],
    )
    .expect("valid metric");
    connections
        .with_label_values(&["in_use"])
        .set(gauge(values.pool_size.saturating_sub(values.pool_idle)));
    connections
        .with_label_values(&["idle"])
        .set(gauge(values.pool_idle));
    register(Box::new(connections));
    for (name, help, value) in [
        (
            "wizreg_db_pool_max_connections",
            "Runtime pool size limit.",
            values.pool_max_size,
        ),
        (
            "wizreg_db_pool_waiting",
            "Requests waiting for a runtime connection.",
            values.pool_waiting,
        ),
    ] {
        let metric = IntGauge::new(name, help).expect("valid metric");
        metric.set(gauge(value));
        register(Box::new(metric));
    }
    let timeouts = IntCounter::new(
        "wizreg_db_pool_acquire_timeouts_total",
        "Requests that got no runtime connection within the acquire timeout (answered 503).",
    )
    .expect("valid metric");
    timeouts.inc_by(values.pool_acquire_timeouts);
    register(Box::new(timeouts));
    let limited = IntCounterVec::new(
        Opts::new(
            "wizreg_limit_rejections_total",
            "Requests refused with 429 by a per-school limit (`rate` or `concurrency`).",
        ),
        &["limit"],
    )
    .expect("valid metric");
    limited
        .with_label_values(&["rate"])
        .inc_by(values.rate_limited);
    limited
        .with_label_values(&["concurrency"])
        .inc_by(values.concurrency_limited);
    register(Box::new(limited));
    registry.gather()
}

/// The `tenant` label rule of one server: the first `limit` schools it serves get their slug as
/// a label; the rest share `other`.
#[derive(Debug)]
pub struct TenantLabels {
    limit: usize,
    seen: RwLock<HashMap<TenantId, Arc<str>>>,
    other: Arc<str>,
}

impl TenantLabels {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            seen: RwLock::new(HashMap::new()),
            other: OTHER_TENANT.into(),
        }
    }

    /// The label for a resolved school.
    pub fn label(&self, id: TenantId, slug: &str) -> Arc<str> {
        // The default (no school named): no lock at all.
        if self.limit == 0 {
            return self.other.clone();
        }
        if let Some(label) = self
            .seen
            .read()
            .ok()
            .and_then(|seen| seen.get(&id).cloned())
        {
            return label;
        }
        let Ok(mut seen) = self.seen.write() else {
            return self.other.clone();
        };
        if seen.len() >= self.limit {
            return self.other.clone();
        }
        seen.entry(id).or_insert_with(|| slug.into()).clone()
    }

    /// The label a school already has, without giving it one: for series that come from the
    /// database rather than from a request (Citus's per-school statistics).
    pub fn labelled(&self, id: TenantId) -> Option<Arc<str>> {
        if self.limit == 0 {
            return None;
        }
        self.seen.read().ok()?.get(&id).cloned()
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn kind_label(kind: DbErrorKind) -> &'static str {
    match kind {
        DbErrorKind::UniqueViolation => "unique_violation",
        DbErrorKind::ForeignKeyViolation => "foreign_key_violation",
        DbErrorKind::InvalidData => "invalid_data",
        DbErrorKind::InsufficientPrivilege => "insufficient_privilege",
        DbErrorKind::Timeout => "timeout",
        DbErrorKind::Unavailable => "unavailable",
        // Kinds a later tenancy adds count as other until they get their own label.
        _ => "other",
    }
}
