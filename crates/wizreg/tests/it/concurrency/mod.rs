//! The concurrency proof: thousands of requests from many schools interleaved through a pool of
//! two connections, about a tenth of them cancelled mid-flight, and every row of every answer
//! checked against the caller's school. Pooled connections are verified by the server at each
//! reuse (`verify_checkout`): none may be handed out inside a transaction or with a tenant set.
//! `pgbouncer.rs` runs the same load through PgBouncer.

mod load;
pub use load::{run_load, Figures};

use wizreg::config::Config;

use crate::harness::{on_both_backends, TestApp};

pub const SCHOOLS: usize = 20;
pub const REQUESTS: usize = 5_000;
const IN_FLIGHT: usize = 6;

/// The settings under test: two connections, every reuse verified, no rate limits (the load
/// is the point), and room to wait for a connection rather than get a 503.
pub fn load_config(config: &mut Config) {
    config.pool_size = 2;
    config.verify_checkout = true;
    config.pool_timeout_ms = 30_000;
    config.rate_limit_per_sec = 0;
    config.tenant_max_concurrency = None;
}

/// The assertions both runs share, after printing the figures for the record.
pub fn assert_isolated(label: &str, figures: &Figures) {
    println!(
        "{label}: {} requests across {SCHOOLS} schools, {} completed, {} cancelled by the client ({} caught inside a transaction), {} rows checked, {} foreign rows; {} pooled checkouts verified, {} violations, {} discarded in a transaction",
        figures.requests, figures.completed, figures.cancelled, figures.rolled_back_on_drop, figures.rows_checked, figures.foreign_rows, figures.verified_checkouts, figures.violations, figures.discarded_in_transaction
    );
    assert_eq!(
        figures.foreign_rows, 0,
        "rows of another school were returned"
    );
    assert_eq!(
        figures.violations, 0,
        "a connection was handed out inside a transaction or with a tenant set"
    );
    assert!(
        figures.unexpected_statuses.is_empty(),
        "{:?}",
        &figures.unexpected_statuses[..figures.unexpected_statuses.len().min(5)]
    );
    assert!(figures.requests >= 5_000);
    let tenth = figures.requests / 10;
    assert!(
        figures.cancelled > tenth / 2 && figures.cancelled < tenth * 2,
        "about 10% cancelled: {}",
        figures.cancelled
    );
    assert!(
        figures.rolled_back_on_drop > 0,
        "some cancellations landed inside a transaction"
    );
    assert!(
        figures.verified_checkouts as usize > figures.completed / 2,
        "the checkout check ran"
    );
    assert!(
        figures.rows_checked > figures.completed,
        "lists returned rows to check"
    );
}

on_both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_requests_from_twenty_schools_through_two_connections_with_cancellations_never_cross_schools(backend) {
    let mut config = None;
    let app = TestApp::with_config_on(backend, |c| {
        load_config(c);
        config = Some(c.clone());
    })
    .await;
    let config = config.expect("configured");
    let state = wizreg::serve::app_state(&config, &app.database)
        .await
        .expect("state");
    let figures = run_load(&app, state, 4).await;
    assert_isolated("direct", &figures);
}
}
