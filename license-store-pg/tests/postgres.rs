//! The store on a real PostgreSQL: the core contract, the shared behaviours, Row-Level
//! Security, migrations and concurrent reapers. One throwaway cluster per test binary, one
//! database per test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, OnceLock};

use chrono::{NaiveDate, TimeDelta};
use futures::future::join;
use license_core::event_log::{EventLogStore, NewLogEntry};
use license_core::log_retention::LogCut;
use license_core::testing::store_contract;
use license_core::{
    EndReason, LicenseStore, QueueTicketStore, SessionStore, Store, TenantKeyStore,
};
use license_store_pg::SqlStore;
use license_testkit::postgres::PostgresServer;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement, TransactionTrait};

static SERVER: OnceLock<PostgresServer> = OnceLock::new();

fn server() -> &'static PostgresServer {
    SERVER.get_or_init(PostgresServer::start)
}

/// A migrated store on a fresh database; also returns the database URL.
async fn fresh(db: &str) -> (SqlStore, String) {
    let url = server().create_database(db);
    let store = SqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    (store, url)
}

async fn count(db: &impl ConnectionTrait, table: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT count(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::test]
async fn postgres_store_keeps_the_store_contract() {
    let (store, _) = fresh("contract").await;
    store_contract(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_store_keeps_the_shared_behaviours() {
    let (store, _) = fresh("behaviours").await;
    common::all(&store).await;
}

#[tokio::test]
async fn row_level_security_hides_rows_from_queries_without_the_tenant_setting() {
    let (store, url) = fresh("rls").await;
    let (a, la) = common::tenant_with_license(&store).await;
    let (b, _) = common::tenant_with_license(&store).await;
    let s = common::session(&la, "hw-1", common::now() + TimeDelta::minutes(5));
    store.insert_session(&s, 1).await.unwrap();
    let waiting = license_core::QueueTicket {
        tenant_id: a.id,
        license_id: la.id,
        ticket: license_core::SessionId::new(),
        seat: license_core::HardwareId::parse("hw-2").unwrap(),
        priority: 0,
        arrival: 1,
        joined_at: common::now(),
        wait_until: common::now() + TimeDelta::minutes(5),
        tally: license_core::SeatTally::default(),
    };
    store.record_ticket(&waiting).await.unwrap();

    // The same role the store uses, on a plain connection that never calls set_config.
    let raw = Database::connect(&url).await.unwrap();
    let role = raw
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_user::text AS name, rolsuper, rolbypassrls \
             FROM pg_roles WHERE rolname = current_user",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(role.try_get::<String>("", "name").unwrap(), "app");
    assert!(!role.try_get::<bool>("", "rolsuper").unwrap());
    assert!(!role.try_get::<bool>("", "rolbypassrls").unwrap());

    for table in [
        "licenses",
        "sessions",
        "usage_days",
        "audit_events",
        "queue_tickets",
    ] {
        assert_eq!(count(&raw, table).await, 0, "{table} without the setting");
    }
    assert_eq!(
        count(&raw, "tenants").await,
        2,
        "tenants is the operator's directory"
    );

    // With the setting, a query without any WHERE sees exactly that tenant's rows.
    let txn = raw.begin().await.unwrap();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config('app.tenant_id', $1, true)",
        [a.id.to_string().into()],
    ))
    .await
    .unwrap();
    assert_eq!(count(&txn, "licenses").await, 1);
    assert_eq!(count(&txn, "sessions").await, 1);
    assert_eq!(count(&txn, "queue_tickets").await, 1);
    // Writing a row for another tenant under this setting is refused.
    let foreign_insert = txn
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO usage_days (license_id, day, tenant_id) VALUES ($1, CURRENT_DATE, $2)",
            [la.id.as_uuid().into(), b.id.as_uuid().into()],
        ))
        .await;
    assert!(foreign_insert.is_err(), "{foreign_insert:?}");
    txn.rollback().await.unwrap();

    // After a transaction that set it, the setting is gone again on that connection.
    let conn = raw.begin().await.unwrap();
    assert_eq!(count(&conn, "licenses").await, 0);
    conn.commit().await.unwrap();
}

/// Signing keys are tenant rows like the others; the one cross-tenant read (the change scan)
/// goes through the migration's SQL function, returns tenant ids only, and leaves no opening
/// behind it.
#[tokio::test]
async fn signing_keys_are_isolated_and_only_the_change_scan_crosses_tenants() {
    let (store, url) = fresh("rls_keys").await;
    let a = common::tenant(&store).await;
    let b = common::tenant(&store).await;
    let t = common::now();
    for (tenant, seed) in [(a.id, 1), (b.id, 2)] {
        let key = common::tenant_keys::key(tenant, 1, seed, t);
        store.insert_tenant_key(&key, None).await.unwrap();
    }

    let raw = Database::connect(&url).await.unwrap();
    assert_eq!(
        count(&raw, "tenant_signing_keys").await,
        0,
        "without the setting"
    );

    let txn = raw.begin().await.unwrap();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config('app.tenant_id', $1, true)",
        [a.id.to_string().into()],
    ))
    .await
    .unwrap();
    assert_eq!(count(&txn, "tenant_signing_keys").await, 1);
    let moved = txn
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE tenant_signing_keys SET tenant_id = $1",
            [b.id.as_uuid().into()],
        ))
        .await;
    assert!(moved.is_err(), "{moved:?}");
    txn.rollback().await.unwrap();

    let txn = raw.begin().await.unwrap();
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT tenant_id FROM tenant_keys_changed_since($1)",
            [t.into()],
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "both tenants, once each");
    assert_eq!(
        count(&txn, "tenant_signing_keys").await,
        0,
        "the scan's setting ends with the call"
    );
    txn.commit().await.unwrap();
}

#[tokio::test]
async fn audit_log_is_append_only_for_the_application_role() {
    let (store, url) = fresh("append_only").await;
    let (a, _) = common::tenant_with_license(&store).await;
    let raw = Database::connect(&url).await.unwrap();
    let txn = raw.begin().await.unwrap();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config('app.tenant_id', $1, true)",
        [a.id.to_string().into()],
    ))
    .await
    .unwrap();
    let before = count(&txn, "audit_events").await;
    assert_eq!(before, 2, "tenant.create and license.create");
    for sql in [
        "UPDATE audit_events SET action = 'forged'",
        "DELETE FROM audit_events",
    ] {
        let res = txn
            .execute_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap();
        assert_eq!(res.rows_affected(), 0, "{sql}");
    }
    assert_eq!(count(&txn, "audit_events").await, before);
    txn.commit().await.unwrap();
}

/// Event-log rows are tenant rows; the log itself takes no `UPDATE` from the application role
/// and no `DELETE` above the tenant's retention cut, and a head cannot be moved to another
/// tenant.
#[tokio::test]
async fn event_log_is_isolated_and_append_only_for_the_application_role() {
    let (store, url) = fresh("event_log_rls").await;
    let a = common::tenant(&store).await;
    let b = common::tenant(&store).await;
    for (tenant, n) in [(a.id, 3), (b.id, 2)] {
        let entries = (0..n)
            .map(|i| NewLogEntry {
                at: common::now(),
                replica: "r1".into(),
                body: format!(r#"{{"n":{i}}}"#),
            })
            .collect();
        store.append_events(tenant, entries).await.unwrap();
    }
    // The retention cuts a's log after entry 1: entries 2 and 3 stay out of reach.
    let first = store.read_events(a.id, 0, 1).await.unwrap();
    let cut = LogCut {
        seq: 1,
        hash: first[0].hash,
        at: first[0].at,
        kept_from: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        carry: Vec::new(),
    };
    assert_eq!(store.trim_events(a.id, None, &cut, &[]).await.unwrap(), 1);

    let raw = Database::connect(&url).await.unwrap();
    for table in [
        "event_log",
        "event_log_heads",
        "event_log_cuts",
        "kept_days",
    ] {
        assert_eq!(count(&raw, table).await, 0, "{table} without the setting");
    }
    let txn = raw.begin().await.unwrap();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config('app.tenant_id', $1, true)",
        [a.id.to_string().into()],
    ))
    .await
    .unwrap();
    assert_eq!(count(&txn, "event_log").await, 2);
    assert_eq!(count(&txn, "event_log_heads").await, 1);
    assert_eq!(count(&txn, "event_log_cuts").await, 1);
    for sql in ["UPDATE event_log SET body = '{}'", "DELETE FROM event_log"] {
        let res = txn
            .execute_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap();
        assert_eq!(res.rows_affected(), 0, "{sql}: nothing above the cut");
    }
    assert_eq!(count(&txn, "event_log").await, 2);
    let moved = txn
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE event_log_heads SET tenant_id = $1",
            [b.id.as_uuid().into()],
        ))
        .await;
    assert!(moved.is_err(), "{moved:?}");
    txn.rollback().await.unwrap();
    assert_eq!(store.read_events(b.id, 0, 10).await.unwrap().len(), 2);
}

/// Replicas on separate pools appending to one tenant at once queue on its head row.
#[tokio::test]
async fn event_log_writers_on_separate_pools_make_one_chain() {
    let (one, url) = fresh("event_log_pools").await;
    let two = SqlStore::connect(&url).await.unwrap();
    let single = common::event_log::writers_on_separate_pools_make_one_chain(&[&one]).await;
    let pooled = common::event_log::writers_on_separate_pools_make_one_chain(&[&one, &two]).await;
    eprintln!(
        "postgres: 8 writers x 5 batches x 3 entries: one pool {single:?}, two pools {pooled:?}"
    );
}

#[tokio::test]
async fn migrations_are_idempotent_and_serialised_across_replicas() {
    let url = server().create_database("migrate_race");
    let one = SqlStore::connect(&url).await.unwrap();
    let two = SqlStore::connect(&url).await.unwrap();
    let (x, y) = join(one.migrate(), two.migrate()).await;
    x.unwrap();
    y.unwrap();
    one.migrate().await.unwrap();
    let raw = Database::connect(&url).await.unwrap();
    assert_eq!(
        count(&raw, "seaql_migrations").await,
        14,
        "each migration (m0001 to m0014) once"
    );
    common::tenant_with_license(&two).await;
}

#[tokio::test]
async fn reapers_on_separate_pools_mark_each_session_once() {
    let (one, url) = fresh("reapers").await;
    let two = SqlStore::connect(&url).await.unwrap();
    let (a, l) = common::tenant_with_license(&one).await;
    let past = common::now() - TimeDelta::seconds(10);
    let mut ids = Vec::new();
    for i in 0..60 {
        let s = common::session(&l, &format!("hw-{i}"), past);
        one.insert_session(&s, 1).await.unwrap();
        ids.push(s.id);
    }
    let at = common::now();
    let mut total = 0;
    loop {
        let (x, y) = join(
            one.expire_due(a.id, l.id, at, 5),
            two.expire_due(a.id, l.id, at, 5),
        )
        .await;
        let (x, y) = (x.unwrap().len(), y.unwrap().len());
        assert!(x <= 5 && y <= 5);
        total += x + y;
        if x + y == 0 {
            break;
        }
    }
    assert_eq!(total, 60);
    for id in ids {
        let s = two.get_session(a.id, id).await.unwrap();
        assert_eq!(s.end_reason, Some(EndReason::Expired));
    }
    one.ping().await.unwrap();
}

#[tokio::test]
async fn debug_output_never_shows_credentials() {
    server().create_database("debug_output");
    let url = format!(
        "postgres://app:hunter2@127.0.0.1:{}/debug_output",
        server().port()
    );
    let store = SqlStore::connect(&url).await.unwrap();
    let shown = format!("{store:?}");
    assert!(shown.contains("Postgres"), "{shown}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("127.0.0.1"),
        "{shown}"
    );
}

/// Rows written before m0005 (no holder, no secret hash, no `require_session_secret` given)
/// read back as sessions bound to no one on licenses that ask for no secret; and, written
/// before m0006 (no seat-rule columns given), as plain sessions on licenses with every rule
/// off; and, written before m0007, as the machine's seats, counted toward nothing, on licenses
/// leased per machine with no policy; and, written before m0009, on licenses without a queue.
#[tokio::test]
async fn rows_from_before_session_holders_are_bound_to_no_one() {
    let (store, url) = fresh("holders").await;
    let (a, la) = common::tenant_with_license(&store).await;
    let raw = Database::connect(&url).await.unwrap();
    let txn = raw.begin().await.unwrap();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config('app.tenant_id', $1, true)",
        [a.id.to_string().into()],
    ))
    .await
    .unwrap();
    let old_license = uuid::Uuid::now_v7();
    let old_session = uuid::Uuid::now_v7();
    for (sql, row) in [
        (
            "INSERT INTO licenses (id, tenant_id, license_key, product, seats, overdraft, \
             status, lease_ttl_seconds, heartbeat_interval_seconds, entitlements, created_at, \
             updated_at) \
             VALUES ($1, $2, 'OLD-KEY-0001', 'CAD', 1, 0, 'active', 360, 120, '[]', now(), now())",
            old_license,
        ),
        (
            "INSERT INTO sessions (id, tenant_id, license_id, hardware_id, acquired_at, \
             last_heartbeat_at, expires_at) \
             VALUES ($1, $2, $3, 'pc-1', now(), now(), now() + interval '5 minutes')",
            old_session,
        ),
    ] {
        let mut values = vec![row.into(), a.id.as_uuid().into()];
        if row == old_session {
            values.push(old_license.into());
        }
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await
        .unwrap();
    }
    txn.commit().await.unwrap();

    let license = store
        .get_license(a.id, license_core::LicenseId::from_uuid(old_license))
        .await
        .unwrap();
    assert!(!license.require_session_secret);
    assert_eq!(license.rules, license_core::SeatRules::default());
    // Written before m0009: no queue (no wait allowed), the default queue length.
    assert_eq!(
        (
            license.rules.max_wait_seconds,
            license.rules.max_queue_length
        ),
        (0, None)
    );
    let session = store
        .get_session(a.id, license_core::SessionId::from_uuid(old_session))
        .await
        .unwrap();
    // Written before m0007: leased per machine, no policy, the machine's seat, no counters.
    assert!(license.policy.is_empty());
    assert_eq!(session.seat(), &session.hardware_id);
    assert!(session.seat_key.is_none() && session.counters.is_empty());
    assert_eq!((session.holder, session.secret_hash), (None, None));
    assert!(!session.borrowed && !session.overdraft);
    assert_eq!((session.linger_until, session.eviction), (None, None));
    assert!(
        !store
            .get_license(a.id, la.id)
            .await
            .unwrap()
            .require_session_secret
    );
}

/// Webhook endpoints and deliveries are tenant rows; the one cross-tenant step (claiming due
/// endpoints) goes through the migration's function and leaves no opening behind it.
#[tokio::test]
async fn webhooks_are_isolated_and_only_the_claim_crosses_tenants() {
    use license_core::webhooks::{
        EventTypes, UrlPolicy, WebhookClaim, WebhookEndpoint, WebhookSecret, WebhookStore,
        WebhookUrl,
    };
    let (store, url) = fresh("webhooks_rls").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let t = common::tenant(&store).await;
        let e = WebhookEndpoint::new(
            t.id,
            WebhookUrl::parse("https://hooks.example.com/", UrlPolicy::default()).unwrap(),
            EventTypes::all(),
            WebhookSecret::generate().unwrap(),
            "",
            common::now(),
        )
        .unwrap();
        store
            .create_webhook(&e, &common::audit(t.id, "webhook.create"))
            .await
            .unwrap();
        let entry = NewLogEntry {
            at: common::now(),
            replica: "r1".into(),
            body: r#"{"type":"granted"}"#.into(),
        };
        store.append_events(t.id, vec![entry]).await.unwrap();
        ids.push(e.id);
    }
    let raw = Database::connect(&url).await.unwrap();
    for table in ["webhook_endpoints", "webhook_deliveries", "event_log_heads"] {
        assert_eq!(count(&raw, table).await, 0, "{table} without the setting");
    }
    let at = common::now();
    let claim = WebhookClaim {
        by: "r1".into(),
        now: at,
        until: at + TimeDelta::seconds(30),
    };
    let claimed = store.claim_due_webhooks(&claim, 10).await.unwrap();
    let mut got: Vec<_> = claimed.iter().map(|e| e.id).collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids, "the claim sees every tenant's due endpoints");
    // The function put its setting back: a transaction calling it sees nothing afterwards.
    let txn = raw.begin().await.unwrap();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT count(*) FROM webhook_claim_due('r2', $1, $2, 10)",
        [at.into(), at.into()],
    ))
    .await
    .unwrap();
    assert_eq!(count(&txn, "webhook_endpoints").await, 0);
    txn.commit().await.unwrap();
}
