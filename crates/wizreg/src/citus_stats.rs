//! Per-school statistics from Citus (`citus_stat_tenants`) in `/metrics`, on a Citus
//! coordinator when per-school labels are on (`WIZREG_METRICS_TENANT_LABELS` > 0).
//!
//! Citus counts, per distribution value, the queries, reads and CPU time its nodes spent on a
//! school in the current and the last period (`citus.stat_tenants_period`, 60 s by default), for
//! its top `citus.stat_tenants_limit` schools, once tracking is on
//! (`citus.stat_tenants_track = 'all'`, see docs/scale-out.md). Those are windows that reset,
//! not counters, so they are exported as gauges with a `period` label (`current`, `last`).
//!
//! Labels follow the request series' rule ([`crate::metrics`]): a school gets its slug only if
//! it already has one there (one of the first N schools this server served); every other
//! school Citus reports is summed into `other`. The label set is thus a subset of the request
//! series' one, whatever Citus tracks.
//!
//! Cost: at most one platform-role query per [`CACHE_FOR`] (scrapes in between get the cached
//! figures), which Citus fans out to every node, under a 2 s statement timeout. A failed read
//! exports `wizreg_citus_tenant_stats_up 0` and no school series, and logs its SQLSTATE only.
//!
//! The platform role may read them because every migrate on Citus grants it Citus's statistics
//! functions on every node ([`grant_to_platform`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::proto::MetricFamily;
use prometheus::{GaugeVec, IntGauge, IntGaugeVec, Opts, Registry};
use tenancy::{DbError, TenantId};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::error::StartupError;
use crate::metrics::{TenantLabels, OTHER_TENANT};
use crate::platform::Platform;

/// How long one read of `citus_stat_tenants` answers scrapes.
pub const CACHE_FOR: Duration = Duration::from_secs(10);

/// Every node's figures for the schools of Wizreg's co-location group, summed per school (a
/// school whose shards moved may be counted on two nodes).
const READ: &str = "select s.tenant_attribute,
        sum(s.read_count_in_this_period)::int8, sum(s.read_count_in_last_period)::int8,
        sum(s.query_count_in_this_period)::int8, sum(s.query_count_in_last_period)::int8,
        sum(s.cpu_usage_in_this_period)::float8, sum(s.cpu_usage_in_last_period)::float8
    from pg_catalog.citus_stat_tenants(false) s
    join pg_catalog.pg_dist_partition p on p.colocationid = s.colocation_id
    where p.logicalrelid = to_regclass('wizreg.student')
    group by 1";

const PERIODS: [&str; 2] = ["current", "last"];

/// One school's figures, per period (`[current, last]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TenantStat {
    pub tenant: Uuid,
    pub reads: [i64; 2],
    pub queries: [i64; 2],
    pub cpu_seconds: [f64; 2],
}

/// Reads `citus_stat_tenants` for `/metrics`, at most once per [`CACHE_FOR`].
#[derive(Debug)]
pub struct CitusTenantStats {
    platform: Platform,
    /// When the last read ran, and what it found.
    last: Mutex<Option<(Instant, Reading)>>,
}

/// What one read found: every school's figures, or `None` when the read failed.
type Reading = Option<Arc<[TenantStat]>>;

impl CitusTenantStats {
    /// A reader when `/metrics` should carry these series: per-school labels on
    /// (`tenant_labels` > 0) and the database a Citus coordinator. `None` otherwise.
    pub fn for_deployment(
        platform: &Platform,
        tenant_labels: usize,
        on_citus: bool,
    ) -> Option<Self> {
        (tenant_labels > 0 && on_citus).then(|| Self {
            platform: platform.clone(),
            last: Mutex::new(None),
        })
    }

    /// The figures as of at most [`CACHE_FOR`] ago; `None` when they could not be read.
    pub async fn read(&self) -> Reading {
        let mut last = self.last.lock().await;
        if let Some((at, stats)) = last.as_ref() {
            if at.elapsed() < CACHE_FOR {
                return stats.clone();
            }
        }
        let stats = match self.fetch().await {
            Ok(stats) => Some(Arc::from(stats)),
            Err(err) => {
                tracing::warn!(sqlstate = ?err.sqlstate(), "could not read citus_stat_tenants");
                None
            }
        };
        *last = Some((Instant::now(), stats.clone()));
        stats
    }

    async fn fetch(&self) -> Result<Vec<TenantStat>, DbError> {
        let mut conn = self.platform.connection().await?;
        let tx = conn.client_mut().transaction().await?;
        tx.batch_execute("set local statement_timeout = 2000")
            .await?;
        let rows = tx.query(READ, &[]).await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let tenant = Uuid::parse_str(row.get::<_, Option<&str>>(0)?).ok()?;
                Some(TenantStat {
                    tenant,
                    reads: [row.get(1), row.get(2)],
                    queries: [row.get(3), row.get(4)],
                    cpu_seconds: [row.get(5), row.get(6)],
                })
            })
            .collect())
    }
}

/// Citus's per-school statistics functions, which `/metrics` reads as the platform role
/// ([`crate::citus_stats`]): `citus_stat_tenants` on the coordinator asks every node for its
/// own figures as the same role. Citus grants them to `pg_monitor` only and does not carry
/// grants on its own functions to the workers, so they are given on every node (again on each
/// migrate, which reaches workers added since). Reading them shows counts per school id,
/// never a school's rows.
pub async fn grant_to_platform(admin: &tokio_postgres::Client) -> Result<(), StartupError> {
    let fail =
        |e| StartupError::database("grant Citus's tenant statistics to the platform role", e);
    let (available, superuser): (bool, bool) = admin
        .query_one(
            "select to_regprocedure('pg_catalog.citus_stat_tenants(boolean)') is not null,
                    (select rolsuper from pg_roles where rolname = current_user)",
            &[],
        )
        .await
        .map(|row| (row.get(0), row.get(1)))
        .map_err(fail)?;
    if !available {
        return Ok(());
    }
    if !superuser {
        // Only the functions' owner (a superuser) may grant them; /metrics then shows
        // wizreg_citus_tenant_stats_up 0 until a superuser runs migrate.
        tracing::warn!("not a superuser: the platform role gets no access to citus_stat_tenants (per-school Citus statistics in /metrics)");
        return Ok(());
    }
    admin
        .batch_execute(GRANT_TENANT_STATS)
        .await
        .map_err(fail)?;
    let rows = admin
        .query(
            "select nodename, nodeport, success, result from run_command_on_workers($1)",
            &[&GRANT_TENANT_STATS],
        )
        .await
        .map_err(fail)?;
    crate::citus::every_worker_succeeded(
        &rows,
        "grant Citus's tenant statistics to the platform role",
    )
}

const GRANT_TENANT_STATS: &str = "grant execute on function
    pg_catalog.citus_stat_tenants(boolean), pg_catalog.citus_stat_tenants_local(boolean),
    pg_catalog.citus_stat_tenants_local_internal(boolean) to wizreg_platform";

/// The series for `stats` (`None`: the read failed), labelled by `labels`' rule.
pub fn families(stats: Option<&[TenantStat]>, labels: &TenantLabels) -> Vec<MetricFamily> {
    let registry = Registry::new();
    let up = IntGauge::new(
        "wizreg_citus_tenant_stats_up",
        "Whether the last read of Citus's per-school statistics (citus_stat_tenants) succeeded.",
    )
    .expect("valid metric");
    up.set(i64::from(stats.is_some()));
    registry.register(Box::new(up)).expect("names are unique");
    let Some(stats) = stats else {
        return registry.gather();
    };
    let gauges = |name: &str, what: &str| {
        let help = format!(
            "{what} Citus attributed to the school in the period (`current` or `last`, citus.stat_tenants_period), over every node. Needs citus.stat_tenants_track = 'all'."
        );
        IntGaugeVec::new(Opts::new(name, help), &["tenant", "period"]).expect("valid metric")
    };
    let queries = gauges("wizreg_citus_tenant_queries", "Queries");
    let reads = gauges("wizreg_citus_tenant_reads", "Read queries");
    let cpu = GaugeVec::new(
        Opts::new(
            "wizreg_citus_tenant_cpu_seconds",
            "CPU time Citus attributed to the school's queries in the period (`current` or `last`, citus.stat_tenants_period), over every node.",
        ),
        &["tenant", "period"],
    )
    .expect("valid metric");
    for stat in stats {
        let label = labels
            .labelled(TenantId::from_uuid(stat.tenant))
            .unwrap_or_else(|| OTHER_TENANT.into());
        for (i, period) in PERIODS.iter().enumerate() {
            let series = [label.as_ref(), period];
            queries.with_label_values(&series).add(stat.queries[i]);
            reads.with_label_values(&series).add(stat.reads[i]);
            cpu.with_label_values(&series).add(stat.cpu_seconds[i]);
        }
    }
    for collector in [
        Box::new(queries) as Box<dyn prometheus::core::Collector>,
        Box::new(reads),
        Box::new(cpu),
    ] {
        registry.register(collector).expect("names are unique");
    }
    registry.gather()
}

#[cfg(test)]
mod tests {
    use prometheus::{Encoder, TextEncoder};

    use super::*;

    fn text(families: &[MetricFamily]) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(families, &mut out)
            .expect("encode");
        String::from_utf8(out).expect("utf-8")
    }

    fn stat(tenant: Uuid, queries: i64) -> TenantStat {
        TenantStat {
            tenant,
            reads: [queries, 0],
            queries: [queries, 1],
            cpu_seconds: [0.5, 0.25],
        }
    }

    #[test]
    fn a_labelled_school_has_its_slug_and_every_other_school_is_summed_into_other() {
        let labels = TenantLabels::new(1);
        let (hogwarts, durmstrang, beauxbatons) =
            (TenantId::new_v7(), TenantId::new_v7(), TenantId::new_v7());
        labels.label(hogwarts, "hogwarts");
        // Past the limit: not labelled.
        labels.label(durmstrang, "durmstrang");
        let stats = [
            stat(hogwarts.as_uuid(), 3),
            stat(durmstrang.as_uuid(), 2),
            stat(beauxbatons.as_uuid(), 5),
        ];

        let out = text(&families(Some(&stats), &labels));

        assert!(out.contains("wizreg_citus_tenant_stats_up 1"), "{out}");
        for line in [
            r#"wizreg_citus_tenant_queries{period="current",tenant="hogwarts"} 3"#,
            r#"wizreg_citus_tenant_queries{period="current",tenant="other"} 7"#,
            r#"wizreg_citus_tenant_queries{period="last",tenant="other"} 2"#,
            r#"wizreg_citus_tenant_reads{period="current",tenant="other"} 7"#,
            r#"wizreg_citus_tenant_cpu_seconds{period="last",tenant="hogwarts"} 0.25"#,
        ] {
            assert!(out.lines().any(|l| l == line), "{line} in {out}");
        }
        assert!(
            !out.contains("durmstrang") && !out.contains("beauxbatons"),
            "{out}"
        );
    }

    #[test]
    fn a_failed_read_is_up_0_with_no_school_series() {
        let labels = TenantLabels::new(5);
        labels.label(TenantId::new_v7(), "hogwarts");
        let out = text(&families(None, &labels));
        assert!(out.contains("wizreg_citus_tenant_stats_up 0"), "{out}");
        assert!(!out.contains("tenant="), "{out}");
    }
}
