//! The server over real HTTP on real services: replicas built by `build_adapters` from a
//! `Config` naming one PostgreSQL database and one Redis (or Redis Cluster), started by
//! `license-testkit` on loopback. Pins the seat invariant across replicas under concurrent
//! load, and what clients see while Redis or PostgreSQL is down and once it is back.
//!
//! One PostgreSQL cluster serves every test here that does not stop it, with a fresh database
//! per test; each test starts its own `redis-server` (milliseconds).

use std::collections::HashSet;
use std::future::Future;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use futures::future::join_all;
use license_testkit::postgres::PostgresServer;
use license_testkit::redis::{RedisCluster, RedisServer};

use crate::helpers::{Api, ComposedApp, Fixture, Reply, signing_key, spawn_composed};

/// Shared by the tests that do not stop PostgreSQL (here and in `seat_rules`); each makes its
/// own database.
static POSTGRES: LazyLock<PostgresServer> = LazyLock::new(PostgresServer::start);

/// The longest a request may take while a dependency is down: the Redis ledger gives up after
/// 2 s, the store's pool after 5 s; the margin absorbs a loaded CI machine.
const OUTAGE_ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// The longest the server may take to notice a dependency is back.
const RECOVERY_WITHIN: Duration = Duration::from_secs(20);

/// A fresh, empty database on the shared PostgreSQL.
pub(crate) async fn fresh_database(name: &'static str) -> String {
    tokio::task::spawn_blocking(move || POSTGRES.create_database(name))
        .await
        .unwrap()
}

/// `n` replicas on one store and one ledger, signing with one key, started together (their
/// migrations meet at PostgreSQL's advisory lock).
pub(crate) async fn replicas(n: usize, store_url: &str, ledger_url: &str) -> Vec<ComposedApp> {
    let key = signing_key();
    join_all((0..n).map(|_| spawn_composed(store_url, ledger_url, &key))).await
}

/// The Redis sorted set holding a license's live seats, one member per machine
/// (`lic:{tenant:license}:v2:seats`).
fn seats_key(fixture: &Fixture) -> String {
    format!(
        "lic:{{{}:{}}}:v2:seats",
        fixture.tenant_id, fixture.license_id
    )
}

/// Seats Redis holds for the license now (`ZCARD`; expired members are dropped by the next
/// script call, and no test here outlives a TTL).
fn redis_seats(redis: &RedisServer, fixture: &Fixture) -> u64 {
    redis
        .command(&["ZCARD", &seats_key(fixture)])
        .parse()
        .unwrap()
}

/// `live_seats` of the usage endpoint.
async fn live_seats(api: &Api, fixture: &Fixture) -> u64 {
    api.usage(&fixture.admin, &fixture.license_id, "")
        .await
        .expect(200)
        .body["live_seats"]
        .as_u64()
        .unwrap()
}

/// The value of an unlabelled counter on `/metrics`.
async fn counter(api: &Api, name: &str) -> u64 {
    let text = api.metrics().await;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no counter {name} in /metrics:\n{text}"))
}

/// Runs `request` and asserts it answers within `limit`.
async fn within<T>(limit: Duration, what: &str, request: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let reply = request.await;
    let took = started.elapsed();
    assert!(took <= limit, "{what} took {took:?}, more than {limit:?}");
    reply
}

/// Polls `probe` (20 times a second) until it returns `Some`, failing after `limit`.
async fn eventually<T, F>(limit: Duration, what: &str, mut probe: impl FnMut() -> F) -> T
where
    F: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clears its flag when dropped, also when the test panics: a sampler on the blocking pool
/// must stop, or the runtime would wait for it forever instead of reporting the failure.
struct Lower(Arc<AtomicBool>);

impl Drop for Lower {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Asserts the reply is `503 unavailable` naming `dependency`.
#[track_caller]
fn assert_unavailable(reply: Reply, dependency: &str) {
    let reply = reply.expect_error(503, "unavailable");
    assert_eq!(reply.body["dependency"], dependency, "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_on_one_postgres_and_one_redis_never_exceed_the_seats() {
    const SEATS: usize = 25;
    const MACHINES: usize = 300;
    let store_url = fresh_database("three_replicas").await;
    let redis = Arc::new(RedisServer::start());
    let apps = replicas(3, &store_url, &redis.url()).await;
    let apis: Vec<Api> = apps.iter().map(|app| app.api.clone()).collect();

    // One root: every replica publishes the same kid.
    let mut kids = HashSet::new();
    for api in &apis {
        let jwks = api.jwks().await.expect(200);
        kids.insert(jwks.body["keys"][0]["kid"].as_str().unwrap().to_owned());
    }
    assert_eq!(kids.len(), 1, "replicas publish different keys: {kids:?}");

    let acme = apis[0].fixture("Acme", SEATS as u32).await;
    // The ledger is initialised before the burst: a rebuild running while acquires are in
    // flight counts their records too (ADR 0017: never more leases, but ZCARD may exceed the
    // seats until they are given back), and this test holds ZCARD itself to the seats.
    assert_eq!(live_seats(&apis[0], &acme).await, 0);

    // Samplers: the ledger's count (ZCARD) and the usage endpoint, round robin, throughout.
    let sampling = Arc::new(AtomicBool::new(true));
    let stop_sampling = Lower(sampling.clone());
    let zcard = {
        let (redis, acme, sampling) = (redis.clone(), acme.clone(), sampling.clone());
        tokio::task::spawn_blocking(move || {
            let mut samples = Vec::new();
            while sampling.load(Ordering::Relaxed) {
                samples.push(redis_seats(&redis, &acme));
                // A new connection per sample: pace them so sockets in TIME_WAIT stay few.
                std::thread::sleep(Duration::from_millis(2));
            }
            samples
        })
    };
    let usage = {
        let (apis, acme, sampling) = (apis.clone(), acme.clone(), sampling.clone());
        tokio::spawn(async move {
            let mut samples = Vec::new();
            for api in apis.iter().cycle() {
                // Each sample is an HTTP round trip competing with the load: under a busy CI
                // machine the run may end before ten are taken, so the last few may come
                // just after it (they must hold the invariant too).
                if !sampling.load(Ordering::Relaxed) && samples.len() > 10 {
                    break;
                }
                samples.push(live_seats(api, &acme).await);
            }
            samples
        })
    };

    // 1. 300 machines at once, round robin over the replicas; each machine that gets a seat
    //    heartbeats it through the next replica. No releases: exactly SEATS grants.
    let attempts = (0..MACHINES).map(|i| {
        let (api, next) = (apis[i % 3].clone(), apis[(i + 1) % 3].clone());
        let acme = acme.clone();
        tokio::spawn(async move {
            let reply = api
                .acquire(&acme.client, &acme.license_key, &format!("machine-{i}"))
                .await;
            if reply.status == 200 {
                next.heartbeat(&acme.client, &reply.str("session_id"))
                    .await
                    .expect(200);
            }
            reply
        })
    });
    let mut held = Vec::new();
    let mut refused = 0;
    for reply in join_all(attempts).await {
        let reply = reply.unwrap();
        match reply.status {
            200 => held.push(reply),
            _ => {
                reply.expect_error(402, "no_seats_available");
                refused += 1;
            }
        }
    }
    assert_eq!(held.len(), SEATS, "grants");
    assert_eq!(refused, MACHINES - SEATS, "refusals");
    assert_eq!(redis_seats(&redis, &acme), SEATS as u64);
    for api in &apis {
        assert_eq!(live_seats(api, &acme).await, SEATS as u64);
    }
    let sessions = apis[1]
        .license_sessions(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    assert_eq!(sessions.body["items"].as_array().unwrap().len(), SEATS);
    // A lease from one replica verifies on another.
    apis[2]
        .validate(&acme.client, &held[0].str("token"))
        .await
        .expect(200);

    // 2. Churn: 10 releases, heartbeats on the other 15 and 100 new machines, all at once.
    let (leaving, staying) = held.split_at(10);
    let releases = leaving.iter().enumerate().map(|(i, lease)| {
        let (api, acme, session) = (apis[i % 3].clone(), acme.clone(), lease.str("session_id"));
        tokio::spawn(async move {
            api.release(&acme.client, &session).await.expect(200);
        })
    });
    let beats = staying.iter().enumerate().map(|(i, lease)| {
        let (api, acme, session) = (apis[i % 3].clone(), acme.clone(), lease.str("session_id"));
        tokio::spawn(async move {
            api.heartbeat(&acme.client, &session).await.expect(200);
        })
    });
    let newcomers = (MACHINES..MACHINES + 100).map(|i| {
        let (api, acme) = (apis[i % 3].clone(), acme.clone());
        tokio::spawn(async move {
            api.acquire(&acme.client, &acme.license_key, &format!("machine-{i}"))
                .await
        })
    });
    let (released, beaten, arrived) =
        tokio::join!(join_all(releases), join_all(beats), join_all(newcomers));
    released.into_iter().chain(beaten).for_each(|r| r.unwrap());
    let mut regranted = 0;
    for reply in arrived {
        let reply = reply.unwrap();
        if reply.status == 200 {
            regranted += 1;
        } else {
            reply.expect_error(402, "no_seats_available");
        }
    }
    assert!(regranted <= 10, "{regranted} grants after 10 releases");
    assert_eq!(redis_seats(&redis, &acme), (SEATS - 10 + regranted) as u64);

    // 3. After the releases, the freed seats are granted again — exactly the ones left.
    let mut granted_after = 0;
    for i in 0.. {
        let reply = apis[i % 3]
            .acquire(&acme.client, &acme.license_key, &format!("late-{i}"))
            .await;
        if reply.status == 402 {
            break;
        }
        reply.expect(200);
        granted_after += 1;
    }
    assert_eq!(granted_after, 10 - regranted);
    assert_eq!(redis_seats(&redis, &acme), SEATS as u64);

    drop(stop_sampling);
    let (zcard, usage) = (zcard.await.unwrap(), usage.await.unwrap());
    assert!(
        zcard.len() > 10 && usage.len() > 10,
        "too few samples: {} of ZCARD, {} of usage",
        zcard.len(),
        usage.len()
    );
    let most = zcard.iter().chain(&usage).max().copied().unwrap();
    assert!(most <= SEATS as u64, "{most} seats live at once on {SEATS}");

    // 4. The seat-event log (ADR 0030): the three replicas appended to one chain in
    //    PostgreSQL; every grant, refusal and release of the run is on it once.
    for app in &apps {
        while app.state.recorder.queued() > 0 {
            app.state.recorder.write_pending().await.unwrap();
        }
    }
    let log = read_event_log(&apis[1], &acme).await;
    assert_eq!(
        license_core::event_log::verify_chain(&log, None),
        Ok(()),
        "one unbroken chain from three replicas"
    );
    let count = |kind: &str| {
        log.iter()
            .filter(|e| e.body.contains(&format!("\"type\":\"{kind}\"")))
            .count()
    };
    assert_eq!(count("granted"), SEATS + 10, "grants on record");
    assert_eq!(count("released"), 10, "releases on record");
    assert_eq!(
        count("denied"),
        (MACHINES - SEATS) + (100 - regranted) + 1,
        "refusals on record"
    );
    assert_eq!(count("renewed"), 0, "renewals are not logged one by one");

    // 5. The usage report (ADR 0031), computed from that log in PostgreSQL: every seat was
    //    taken at once, never more; every refusal is counted.
    let today = chrono::Utc::now().date_naive();
    let period = format!(
        "?from={}&to={today}&bucket=hour",
        today - chrono::TimeDelta::days(1)
    );
    let report = apis[2]
        .report(&acme.admin, &acme.license_id, &period)
        .await
        .expect(200);
    let rows = report.body["rows"].as_array().unwrap();
    let peak = rows.iter().map(|r| r["peak_seats"].as_u64().unwrap()).max();
    assert_eq!(
        peak,
        Some(SEATS as u64),
        "the report's peak: {}",
        report.body
    );
    let denials: u64 = rows.iter().map(|r| r["denials"].as_u64().unwrap()).sum();
    assert_eq!(denials as usize, count("denied"), "the report's refusals");
    assert_eq!(report.body["through_seq"], log.len() as u64);
}

/// The whole seat-event log of `fixture`'s tenant, in ranges of 1 000.
async fn read_event_log(api: &Api, fixture: &Fixture) -> Vec<license_core::event_log::LogEntry> {
    let mut log = Vec::new();
    loop {
        let after = log.len();
        let reply = api
            .events(&fixture.admin, &format!("?after={after}&limit=1000"))
            .await
            .expect(200);
        let range: Vec<license_core::event_log::LogEntry> =
            serde_json::from_value(reply.body["entries"].clone()).unwrap();
        if range.is_empty() {
            return log;
        }
        log.extend(range);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_503_and_the_server_recovers_with_the_seats_rebuilt_from_postgres() {
    let store_url = fresh_database("redis_outage").await;
    let mut redis = RedisServer::start();
    let apps = replicas(1, &store_url, &redis.url()).await;
    let app = &apps[0];
    let acme = app.fixture("Acme", 2).await;
    let first = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    app.acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect(200);
    app.ready().await.expect(200);

    redis.stop();
    let acquire = within(
        OUTAGE_ANSWER_WITHIN,
        "acquire without Redis",
        app.acquire(&acme.client, &acme.license_key, "m3"),
    )
    .await;
    assert_unavailable(acquire, "ledger");
    let ready = within(OUTAGE_ANSWER_WITHIN, "ready without Redis", app.ready()).await;
    assert_unavailable(ready, "ledger");
    app.health().await.expect(200);
    let rebuilds_before = counter(app, "license_ledger_rebuilds_total").await;

    // Back on the same port, empty (no persistence), the server untouched.
    redis.restart();
    assert_eq!(redis_seats(&redis, &acme), 0, "Redis came back empty");
    eventually(RECOVERY_WITHIN, "ready after Redis restarted", || async {
        (app.ready().await.status == 200).then_some(())
    })
    .await;
    // The two seats taken before the outage still count: rebuilt from PostgreSQL.
    app.acquire(&acme.client, &acme.license_key, "m3")
        .await
        .expect_error(402, "no_seats_available");
    assert_eq!(redis_seats(&redis, &acme), 2);
    assert!(counter(app, "license_ledger_rebuilds_total").await > rebuilds_before);
    app.heartbeat(&acme.client, &first.str("session_id"))
        .await
        .expect(200);
    app.release(&acme.client, &first.str("session_id"))
        .await
        .expect(200);
    app.acquire(&acme.client, &acme.license_key, "m3")
        .await
        .expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_seats_refuse_a_third_machine_on_postgres_and_redis_cluster() {
    let store_url = fresh_database("redis_cluster").await;
    let cluster = tokio::task::spawn_blocking(RedisCluster::start)
        .await
        .unwrap();
    let apps = replicas(2, &store_url, &cluster.url()).await;
    let (a, b) = (&apps[0], &apps[1]);
    let acme = a.fixture("Acme", 2).await;

    let first = a
        .acquire(&acme.client, &acme.license_key, "machine-1")
        .await
        .expect(200);
    b.acquire(&acme.client, &acme.license_key, "machine-2")
        .await
        .expect(200);
    a.acquire(&acme.client, &acme.license_key, "machine-3")
        .await
        .expect_error(402, "no_seats_available");
    b.heartbeat(&acme.client, &first.str("session_id"))
        .await
        .expect(200);
    b.release(&acme.client, &first.str("session_id"))
        .await
        .expect(200);
    a.acquire(&acme.client, &acme.license_key, "machine-3")
        .await
        .expect(200);
    assert_eq!(live_seats(b, &acme).await, 2);
    a.ready().await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_is_503_naming_the_store_and_grants_nothing() {
    // Its own PostgreSQL: this test stops it.
    let mut postgres = tokio::task::spawn_blocking(PostgresServer::start)
        .await
        .unwrap();
    let redis = RedisServer::start();
    let apps = replicas(1, &postgres.url(), &redis.url()).await;
    let app = &apps[0];
    let acme = app.fixture("Acme", 1).await;

    postgres.stop();
    let acquire = within(
        OUTAGE_ANSWER_WITHIN,
        "acquire without PostgreSQL",
        app.acquire(&acme.client, &acme.license_key, "m1"),
    )
    .await;
    assert_unavailable(acquire, "store");
    let ready = within(
        OUTAGE_ANSWER_WITHIN,
        "ready without PostgreSQL",
        app.ready(),
    )
    .await;
    assert_unavailable(ready, "store");
    app.health().await.expect(200);
    assert_eq!(redis_seats(&redis, &acme), 0, "a seat was taken in Redis");

    postgres.restart();
    eventually(
        RECOVERY_WITHIN,
        "ready after PostgreSQL restarted",
        || async { (app.ready().await.status == 200).then_some(()) },
    )
    .await;
    // The only seat is free: the outage left nothing taken.
    app.acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    app.acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect_error(402, "no_seats_available");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_postgres_cannot_record_takes_no_seat_in_redis() {
    let store_url = fresh_database("compensation").await;
    let redis = RedisServer::start();
    let apps = replicas(1, &store_url, &redis.url()).await;
    let app = &apps[0];
    let acme = app.fixture("Acme", 1).await;

    // PostgreSQL answers, but refuses to record sessions as a restarting server would
    // (SQLSTATE 57P01). The session is recorded before Redis is asked (ADR 0017), so Redis
    // never grants the seat.
    psql(
        &store_url,
        "CREATE FUNCTION refuse_sessions() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'injected outage' USING ERRCODE = '57P01'; END $$; \
         CREATE TRIGGER refuse_sessions BEFORE INSERT ON sessions \
         FOR EACH ROW EXECUTE FUNCTION refuse_sessions();",
    );
    let refused = app.acquire(&acme.client, &acme.license_key, "m1").await;
    assert_unavailable(refused, "store");
    assert_eq!(
        redis_seats(&redis, &acme),
        0,
        "an unrecorded session holds a seat"
    );
    assert_eq!(counter(app, "license_ledger_compensations_total").await, 0);

    psql(&store_url, "DROP TRIGGER refuse_sessions ON sessions;");
    app.acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect(200);
    assert_eq!(redis_seats(&redis, &acme), 1);
}

/// Runs SQL with `psql` (from the PostgreSQL the testkit uses) against `url`.
fn psql(url: &str, sql: &str) {
    let output = Command::new(psql_binary())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `psql` of the newest PostgreSQL under /usr/lib/postgresql, where the testkit finds it.
fn psql_binary() -> PathBuf {
    std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            let psql = entry.path().join("bin/psql");
            psql.is_file().then_some((major, psql))
        })
        .max()
        .map(|(_, psql)| psql)
        .expect("psql not found under /usr/lib/postgresql/*/bin: apt-get install postgresql-15")
}
