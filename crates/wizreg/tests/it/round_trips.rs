//! Round trips and statements per request, counted on the wire: the runtime pool talks to
//! PostgreSQL through a counting proxy ([`wire_probe::Probe`]), and each test compares the
//! proxy's counts before and after one request. Counts, never timings.

use serde_json::json;
use wire_probe::{Probe, Tally};

use crate::harness::{cluster_socket, TestApp};

/// A test app whose runtime connections (one, so reuse is visible) go through a probe.
pub async fn probed_app() -> (TestApp, Probe) {
    let probe = Probe::start(cluster_socket(), 5432).expect("start the probe");
    let probe_dir = probe.socket_dir().display().to_string();
    let cluster_dir = cluster_socket().display().to_string();
    let app = TestApp::with_config(|config| {
        let url = config
            .database_url
            .take()
            .expect("the harness sets a runtime URL");
        let probed = url.replace(&format!("host={cluster_dir}"), &format!("host={probe_dir}"));
        assert_ne!(probed, url, "the runtime URL names the cluster's socket");
        config.database_url = Some(probed);
        config.pool_size = 1;
    })
    .await;
    wait_until_listening(&app).await;
    (app, probe)
}

/// Waits for the tenant change listener's LISTEN to finish: it clears the tenant cache when it
/// does, and a clear landing inside a counted request would add a tenant lookup to its count.
async fn wait_until_listening(app: &TestApp) {
    let privileged = app.privileged().await;
    let listening = "select count(*) from pg_stat_activity
                     where datname = current_database() and application_name = $1
                       and state = 'idle' and query ilike 'listen %'";
    while privileged
        .query_one(listening, &[&wizreg::tenant_events::APPLICATION_NAME])
        .await
        .expect("the listener's session")
        .get::<_, i64>(0)
        == 0
    {
        tokio::task::yield_now().await;
    }
}

/// Runs `request` and returns what crossed the wire meanwhile.
pub async fn counted<F: std::future::Future<Output = ()>>(probe: &Probe, request: F) -> Tally {
    let before = probe.tally();
    request.await;
    probe.tally().since(&before)
}

#[tokio::test]
async fn a_tenant_read_is_one_round_trip_with_statements_prepared_once() {
    let (app, probe) = probed_app().await;
    let id = app
        .post("/students", json!({"name": "Harry Potter"}))
        .tenant("hogwarts")
        .send()
        .await
        .id();
    let path = format!("/students/{id}");
    // The first read prepares its statement on the connection (once).
    let first = counted(&probe, async {
        assert_eq!(app.get(&path).tenant("hogwarts").send().await.status, 200);
    })
    .await;
    assert_eq!(
        first.count('P'),
        1,
        "the select is prepared once: {first:?}"
    );

    let read = counted(&probe, async {
        let reply = app.get(&path).tenant("hogwarts").send().await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body["name"], "Harry Potter");
    })
    .await;

    assert_eq!(read.round_trips, 1, "{read:?}");
    assert_eq!(
        read.count('P'),
        0,
        "no statement is prepared again: {read:?}"
    );
    assert_eq!(read.count('Q'), 2, "BEGIN and COMMIT: {read:?}");
    assert_eq!(read.count('E'), 2, "enter_tenant and the select: {read:?}");
    assert_eq!(read.count('S'), 2, "{read:?}");
    assert_eq!(read.connections, 0, "the pooled connection is reused");
}

#[tokio::test]
async fn a_list_page_is_one_round_trip() {
    let (app, probe) = probed_app().await;
    app.post("/students", json!({"name": "Harry Potter"}))
        .tenant("hogwarts")
        .send()
        .await;
    app.get("/students?limit=50")
        .tenant("hogwarts")
        .send()
        .await;

    let list = counted(&probe, async {
        let reply = app
            .get("/students?limit=50")
            .tenant("hogwarts")
            .send()
            .await;
        assert_eq!(reply.body.as_array().map(Vec::len), Some(1));
    })
    .await;

    assert_eq!(list.round_trips, 1, "{list:?}");
    assert_eq!(list.count('P'), 0, "{list:?}");
}

#[tokio::test]
async fn creating_and_updating_a_student_are_one_round_trip_each() {
    let (app, probe) = probed_app().await;
    // Warm up: the tenant is cached and both statements are prepared.
    let warm = app
        .post("/students", json!({"name": "Warm Up"}))
        .tenant("hogwarts")
        .send()
        .await
        .id();
    app.patch(&format!("/students/{warm}"), json!({"name": "Warmer"}))
        .tenant("hogwarts")
        .send()
        .await;

    let mut id = String::new();
    let create = counted(&probe, async {
        let reply = app
            .post("/students", json!({"name": "Hermine Granger"}))
            .tenant("hogwarts")
            .send()
            .await;
        assert_eq!(reply.status, 201);
        id = reply.id();
    })
    .await;
    let update = counted(&probe, async {
        let reply = app
            .patch(
                &format!("/students/{id}"),
                json!({"email": "hermine@hogwarts.example"}),
            )
            .tenant("hogwarts")
            .send()
            .await;
        assert_eq!(reply.status, 200);
    })
    .await;

    for (what, tally) in [("create", &create), ("update", &update)] {
        assert_eq!(tally.round_trips, 1, "{what}: {tally:?}");
        assert_eq!(tally.count('P'), 0, "{what}: {tally:?}");
        assert_eq!(tally.count('E'), 2, "{what}: {tally:?}");
    }
}

#[tokio::test]
async fn a_keyed_create_is_two_round_trips_first_time_and_on_replay() {
    let (app, probe) = probed_app().await;
    let keyed = |key: &'static str, name: &'static str| {
        app.post("/students", json!({"name": name}))
            .tenant("hogwarts")
            .header("idempotency-key", key)
            .send()
    };
    // Warm up: the tenant is cached and the claim, insert and store are prepared.
    assert_eq!(keyed("warm-up", "Warm Up").await.status, 201);

    let mut first_body = serde_json::Value::Null;
    let first = counted(&probe, async {
        let reply = keyed("enrol-neville", "Neville Longbottom").await;
        assert_eq!(reply.status, 201);
        first_body = reply.body;
    })
    .await;
    let replay = counted(&probe, async {
        let reply = keyed("enrol-neville", "Neville Longbottom").await;
        assert_eq!(reply.status, 201);
        assert_eq!(reply.header("idempotent-replayed"), Some("true"));
        assert_eq!(reply.body, first_body);
    })
    .await;
    let mismatch = counted(&probe, async {
        assert_eq!(keyed("enrol-neville", "Luna Lovegood").await.status, 422);
    })
    .await;

    assert_eq!(
        first.round_trips, 2,
        "claim + insert, then store + commit: {first:?}"
    );
    assert_eq!(
        replay.round_trips, 2,
        "claim + insert, then rollback: {replay:?}"
    );
    assert_eq!(mismatch.round_trips, 2, "{mismatch:?}");
    for (what, tally) in [
        ("first", &first),
        ("replay", &replay),
        ("mismatch", &mismatch),
    ] {
        assert_eq!(
            tally.count('P'),
            0,
            "{what}: nothing prepared again: {tally:?}"
        );
    }
    assert_eq!(
        first.count('E'),
        4,
        "enter_tenant, claim, insert, store: {first:?}"
    );
    assert_eq!(
        replay.count('E'),
        3,
        "enter_tenant, claim, insert: {replay:?}"
    );
    let students = app
        .privileged()
        .await
        .query_one("select count(*) from wizreg.student", &[])
        .await
        .expect("count")
        .get::<_, i64>(0);
    assert_eq!(
        students, 2,
        "the replay's and the mismatch's inserts rolled back"
    );
}

#[tokio::test]
async fn a_cached_tenant_costs_no_round_trip_and_a_new_one_costs_exactly_one() {
    let (app, probe) = probed_app().await;
    app.get("/students").tenant("hogwarts").send().await;

    let cached = counted(&probe, async {
        app.get("/students").tenant("hogwarts").send().await;
    })
    .await;
    let uncached = counted(&probe, async {
        app.get("/students").tenant("castelobruxo").send().await;
    })
    .await;

    assert_eq!(
        cached.round_trips, 1,
        "only the tenant transaction: {cached:?}"
    );
    assert_eq!(
        uncached.round_trips, 2,
        "one lookup, then the transaction: {uncached:?}"
    );
}

#[tokio::test]
async fn a_tenant_change_makes_the_cache_forget_that_school_only() {
    let (app, probe) = probed_app().await;
    app.get("/students").tenant("hogwarts").send().await;
    app.get("/students").tenant("castelobruxo").send().await;

    // What the change listener does when castelobruxo changes.
    app.registry.forget(app.castelobruxo.id);
    let untouched = counted(&probe, async {
        app.get("/students").tenant("hogwarts").send().await;
    })
    .await;
    let forgotten = counted(&probe, async {
        app.get("/students").tenant("castelobruxo").send().await;
    })
    .await;

    assert_eq!(
        untouched.round_trips, 1,
        "hogwarts stays cached: {untouched:?}"
    );
    assert_eq!(
        forgotten.round_trips, 2,
        "castelobruxo is looked up again: {forgotten:?}"
    );
}

#[tokio::test]
async fn a_school_cached_as_unknown_is_found_once_created() {
    let app = TestApp::new().await;
    let before = app.get("/students").tenant("beauxbatons").send().await;
    assert_eq!(before.status, axum::http::StatusCode::NOT_FOUND);

    let platform = app
        .database
        .connect(wizreg::database::Role::Platform)
        .await
        .expect("platform connection");
    let slug = tenancy::Slug::parse("beauxbatons").expect("slug");
    let created = wizreg::tenants::create(&platform, &slug, "Beauxbatons")
        .await
        .expect("created");
    // The change listener forgets by id; a cached "unknown" under the slug must go too.
    app.registry.forget(created.id);
    let after = app.get("/students").tenant("beauxbatons").send().await;
    assert_eq!(after.status, axum::http::StatusCode::OK);
}

#[tokio::test]
async fn the_probe_counts_each_awaited_statement_as_its_own_round_trip() {
    let (app, probe) = probed_app().await;
    let client = {
        let url = app.database.config(wizreg::database::Role::App);
        let mut config = url.clone();
        config.host_path(probe.socket_dir());
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connect through the probe");
        tokio::spawn(connection);
        client
    };

    let sequential = counted(&probe, async {
        client.batch_execute("begin").await.expect("begin");
        client.simple_query("select 1").await.expect("select");
        client.batch_execute("commit").await.expect("commit");
    })
    .await;

    assert_eq!(sequential.round_trips, 3, "{sequential:?}");
}
