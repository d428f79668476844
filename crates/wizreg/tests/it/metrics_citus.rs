//! Citus's per-school statistics (`citus_stat_tenants`) in `/metrics`: on Citus with per-school
//! labels on, once the operator turns tracking on as docs/scale-out.md says, the queries each
//! school ran on the cluster are there, under the same bounded labels as the request series
//! (a labelled school by its slug, every other one summed into `other`). Without per-school
//! labels, or on one PostgreSQL, there is no such series (and no read of Citus's statistics).

use axum::http::StatusCode;

use crate::harness::{Backend, TestApp};
use crate::observability::sample;

async fn scrape(app: &TestApp, server: &axum::Router) -> String {
    let (status, _, bytes) = app.get("/metrics").admin().via(server).send_raw().await;
    assert_eq!(status, StatusCode::OK);
    String::from_utf8(bytes).expect("utf-8")
}

#[tokio::test]
async fn on_citus_metrics_carry_each_labelled_schools_citus_queries_and_sum_the_rest_as_other() {
    // One school label: the first school served gets it, the next one is `other`.
    let app = TestApp::with_config_on(Backend::Citus, |c| c.metrics_tenant_labels = 1).await;
    app.privileged()
        .await
        .batch_execute(&format!(
            "alter role wizreg_app in database {} set citus.stat_tenants_track = 'all'",
            app.dbname
        ))
        .await
        .expect("turn tracking on (Citus carries it to the workers)");
    // Sessions opened from now on are tracked: a server started after the setting.
    let server = app.another_instance().await;
    for (school, times) in [("hogwarts", 3), ("castelobruxo", 2)] {
        for _ in 0..times {
            let listed = app
                .get("/students")
                .tenant(school)
                .via(&server)
                .send()
                .await;
            assert_eq!(listed.status, StatusCode::OK);
        }
    }

    let text = scrape(&app, &server).await;
    assert_eq!(
        sample(&text, "wizreg_citus_tenant_stats_up", &[]),
        Some(1.0),
        "{text}"
    );
    let current = |name: &str, school: &str| {
        let tenant = format!("tenant=\"{school}\"");
        sample(&text, name, &[&tenant, "period=\"current\""]).unwrap_or(0.0)
    };
    for name in ["wizreg_citus_tenant_queries", "wizreg_citus_tenant_reads"] {
        assert!(current(name, "hogwarts") >= 3.0, "{name}: {text}");
        assert!(current(name, "other") >= 2.0, "{name}: {text}");
    }
    assert!(
        sample(
            &text,
            "wizreg_citus_tenant_cpu_seconds",
            &["tenant=\"hogwarts\""]
        )
        .is_some(),
        "{text}"
    );
    let citus_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("wizreg_citus_tenant_") && l.contains('{'))
        .collect();
    assert!(!citus_lines.is_empty());
    for line in citus_lines {
        assert!(
            line.contains("tenant=\"hogwarts\"") || line.contains("tenant=\"other\""),
            "only labelled schools and other: {line}"
        );
    }
}

#[tokio::test]
async fn without_school_labels_or_on_one_postgresql_metrics_carry_no_citus_series() {
    for (backend, labels) in [(Backend::Citus, 0), (Backend::Postgres, 5)] {
        let app = TestApp::with_config_on(backend, |c| c.metrics_tenant_labels = labels).await;
        assert_eq!(
            app.get("/students").tenant("hogwarts").send().await.status,
            StatusCode::OK
        );
        let text = scrape(&app, &app.router).await;
        assert!(text.contains("wizreg_http_requests_total"), "{text}");
        assert!(
            !text.contains("wizreg_citus_"),
            "{backend:?}, {labels} labels: {text}"
        );
    }
}
