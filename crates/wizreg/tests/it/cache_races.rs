//! A lookup that read the database before a suspension or a revocation committed, and answers
//! after the process heard of it, must not leave its stale answer to be served.
//!
//! The interleaving is forced, not hoped for: the lookups' pool connects through the wire
//! probe, which holds the server's answers. A lookup's query has run (its snapshot predates
//! the change) but the client has not heard back; the change commits; the process forgets the
//! school or key (what the notification does; called here so the moment is known); many more
//! lookups start; then the answers flow. Every lookup that started after the process heard of
//! the change must see it, and so must every later one.

use std::time::{Duration, Instant};

use tenancy::{build_pool, PoolOptions, Tenancy, TenantRef};
use tokio_postgres::NoTls;
use wire_probe::Probe;
use wizreg::auth::api_keys::ApiKeys;
use wizreg::config::Secret;
use wizreg::database::Role;
use wizreg::registry::{Registry, TenantStatus};

use crate::harness::{cluster_socket, TestApp, KEY_SECRET};

/// Lookups started after the change was heard of.
const RACERS: usize = 50;

/// A one-connection tenancy whose every answer passes through `probe`.
fn probed_tenancy(app: &TestApp, probe: &Probe) -> Tenancy {
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(probe.socket_dir())
        .port(5432)
        .user("wizreg_app")
        .dbname(&app.dbname);
    let options = PoolOptions {
        max_size: 1,
        acquire_timeout: Duration::from_secs(30),
        ..PoolOptions::default()
    };
    Tenancy::with_convention(
        build_pool(config, NoTls, options),
        &app.database.convention(),
    )
}

/// Holds the probe's answers and waits until a request sent by `start` has been answered by
/// the server (so its snapshot is taken) without the client having heard back.
async fn start_held<T: Send + 'static>(
    probe: &Probe,
    start: impl std::future::Future<Output = T> + Send + 'static,
) -> tokio::task::JoinHandle<T> {
    let before = probe.held_replies();
    probe.hold_replies(true);
    let task = tokio::spawn(start);
    let deadline = Instant::now() + Duration::from_secs(30);
    while probe.held_replies() == before {
        assert!(
            Instant::now() < deadline,
            "the lookup never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_lookup_started_after_a_suspension_was_heard_of_serves_the_school() {
    let app = TestApp::new().await;
    let probe = Probe::start(cluster_socket(), 5432).expect("probe");
    let registry = Registry::new(probed_tenancy(&app, &probe), Duration::from_secs(3600));
    let hogwarts = TenantRef::Slug(app.hogwarts.slug.clone());
    // The connection and the slug statement exist before answers are held.
    registry
        .find(&TenantRef::Slug(app.castelobruxo.slug.clone()))
        .await
        .expect("warm");

    let first = {
        let (registry, hogwarts) = (registry.clone(), hogwarts.clone());
        start_held(&probe, async move { registry.find(&hogwarts).await }).await
    };
    let platform = app
        .database
        .connect(Role::Platform)
        .await
        .expect("platform");
    wizreg::tenants::update(
        &platform,
        app.hogwarts.id,
        Some(TenantStatus::Suspended),
        None,
    )
    .await
    .expect("suspended");
    registry.forget(app.hogwarts.id);
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let (registry, hogwarts) = (registry.clone(), hogwarts.clone());
            tokio::spawn(async move { registry.find(&hogwarts).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    probe.hold_replies(false);

    // The first lookup began before the change: either answer is honest for it.
    first.await.expect("joined").expect("looked up");
    let mut served = 0;
    for racer in racers {
        let record = racer
            .await
            .expect("joined")
            .expect("looked up")
            .expect("exists");
        served += usize::from(record.status == TenantStatus::Active);
    }
    assert_eq!(
        served, 0,
        "lookups begun after the suspension was heard of served the school"
    );
    let later = registry
        .find(&hogwarts)
        .await
        .expect("looked up")
        .expect("exists");
    assert_eq!(
        later.status,
        TenantStatus::Suspended,
        "a stale answer was cached"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_verification_started_after_a_revocation_was_heard_of_accepts_the_key() {
    let app = TestApp::new().await;
    let probe = Probe::start(cluster_socket(), 5432).expect("probe");
    let secret = Secret::new(KEY_SECRET);
    let keys = ApiKeys::new(
        secret.clone(),
        probed_tenancy(&app, &probe),
        Duration::from_secs(3600),
    );
    let tenant = app.hogwarts.id;
    let revoked = keys.create(tenant).await.expect("key");
    let other = keys.create(tenant).await.expect("key");
    // Prepares the verification statements before answers are held.
    keys.verify(&other.key).await.expect("valid");

    let first = {
        let (keys, key) = (keys.clone(), revoked.key.clone());
        start_held(&probe, async move { keys.verify(&key).await.is_ok() }).await
    };
    let direct = ApiKeys::new(secret, app_tenancy(&app), Duration::from_secs(1));
    assert!(direct
        .revoke(tenant, revoked.summary.id)
        .await
        .expect("revoked"));
    keys.forget(tenant, revoked.summary.id).await;
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let (keys, key) = (keys.clone(), revoked.key.clone());
            tokio::spawn(async move { keys.verify(&key).await.is_ok() })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    probe.hold_replies(false);

    first.await.expect("joined");
    let mut accepted = 0;
    for racer in racers {
        accepted += usize::from(racer.await.expect("joined"));
    }
    assert_eq!(
        accepted, 0,
        "verifications begun after the revocation was heard of accepted it"
    );
    assert!(
        keys.verify(&revoked.key).await.is_err(),
        "a stale hash was cached"
    );
    assert!(
        keys.verify(&other.key).await.is_ok(),
        "the other key still works"
    );
}

/// A tenancy on the test's database without the probe.
fn app_tenancy(app: &TestApp) -> Tenancy {
    let pool = build_pool(
        app.database.config(Role::App),
        app.database.tls(Role::App),
        PoolOptions::default(),
    );
    Tenancy::with_convention(pool, &app.database.convention())
}
