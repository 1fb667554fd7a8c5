use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures::future::join;
use serde_json::json;

use crate::SeatRules;
use crate::SessionEnd;
use crate::api_key::{ApiKey, ApiKeySecret, Scope};
use crate::audit::{Actor, AuditEvent};
use crate::error::{Error, Resource};
use crate::ids::{ApiKeyId, LicenseId, SessionId, TenantId};
use crate::license::{LeasePolicy, License, LicenseKey, LicenseStatus, SeatCount};
use crate::seat_policy::SeatPolicy;
use crate::session::{EndReason, HardwareId, Session, UserEmail};
use crate::store::{HeartbeatRecord, Page, Store, UsagePeak, WriteBehindBatch};
use crate::tenant::Tenant;

const UNLIMITED: crate::quota::TenantQuotas = crate::quota::TenantQuotas::UNLIMITED;

pub(super) fn ok<T>(r: crate::Result<T>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

pub(super) fn assert_not_found<T: std::fmt::Debug>(
    r: crate::Result<T>,
    resource: Resource,
    what: &str,
) {
    match r {
        Err(Error::NotFound(found)) if found == resource => {}
        other => panic!(
            "{what}: a foreign or missing id must answer {resource} not found, got {other:?}"
        ),
    }
}

pub(super) fn audit(tenant: TenantId, action: &str, at: DateTime<Utc>) -> AuditEvent {
    AuditEvent::new(
        tenant,
        Actor::Operator,
        action,
        format!("test:{action}"),
        at,
        json!({"n": 1}),
    )
}

// Whole seconds: every backend stores at least microseconds, and comparisons stay exact.
pub(super) fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

pub(super) async fn tenant(store: &dyn Store, name: &str) -> Tenant {
    let t = ok(
        Tenant::new(&format!("{name} {}", TenantId::new()), now()),
        "tenant",
    );
    ok(
        store
            .create_tenant(&t, &audit(t.id, "tenant.create", now()))
            .await,
        "create_tenant",
    );
    t
}

pub(super) fn license(tenant: TenantId, key: &str, seats: u32) -> License {
    let at = now();
    License {
        id: LicenseId::new(),
        tenant_id: tenant,
        key: ok(LicenseKey::parse(key), "key"),
        product: "CAD Pro".into(),
        seats: ok(SeatCount::new(seats), "seats"),
        overdraft: 1,
        status: LicenseStatus::Active,
        expires_at: Some(at + TimeDelta::days(30)),
        lease: ok(LeasePolicy::new(300, 100), "lease"),
        entitlements: vec![ok(crate::license::Entitlement::parse("pro"), "ent")],
        require_session_secret: false,
        rules: SeatRules::default(),
        policy: SeatPolicy::default(),
        created_at: at,
        updated_at: at,
    }
}

pub(super) fn session(l: &License, hw: &str, expires_at: DateTime<Utc>) -> Session {
    let at = now();
    Session {
        id: SessionId::new(),
        tenant_id: l.tenant_id,
        license_id: l.id,
        hardware_id: ok(HardwareId::parse(hw), "hw"),
        user_email: Some(ok(UserEmail::parse("ada@example.com"), "email")),
        acquired_at: at,
        last_heartbeat_at: at,
        expires_at,
        ended_at: None,
        end_reason: None,
        holder: Some(Actor::ApiKey(ApiKeyId::new())),
        secret_hash: None,
        borrowed: false,
        overdraft: false,
        linger_until: None,
        eviction: None,
        seat_key: None,
        counters: Vec::new(),
        confirmed: false,
    }
}

/// Runs every rule of the [`Store`] contract against a store (which may hold other data:
/// every check makes its own tenants).
pub async fn store_contract(store: Arc<dyn Store>) {
    let store = store.as_ref();
    ok(store.ping().await, "ping");
    tenants_and_licenses(store).await;
    sessions_and_usage(store).await;
    concurrent_reapers_count_each_session_once(store).await;
    api_keys(store).await;
    audit_log(store).await;
    super::event_log::event_log(store).await;
    super::webhooks::webhooks(store).await;
    super::tenant_keys::tenant_keys(store).await;
    super::quotas::quotas(store).await;
    super::quotas::concurrent_creates_cannot_overshoot_a_quota(store).await;
    super::session_pages::live_sessions_come_in_pages(store).await;
    super::session_pages::ended_sessions_are_deleted_and_usage_kept(store).await;
    super::holder::holders_and_secrets(store).await;
    super::seat_rules::seat_rules(store).await;
    super::seat_policies::seat_policies(store).await;
    super::queue_tickets::queue_tickets(store).await;
}

async fn tenants_and_licenses(store: &dyn Store) {
    let a = tenant(store, "Acme").await;
    let b = tenant(store, "Globex").await;
    assert_eq!(ok(store.get_tenant(a.id).await, "get_tenant"), a);
    assert_not_found(
        store.get_tenant(TenantId::new()).await,
        Resource::Tenant,
        "get_tenant",
    );
    let dup = Tenant {
        id: TenantId::new(),
        ..a.clone()
    };
    assert!(
        matches!(
            store.create_tenant(&dup, &audit(dup.id, "t", now())).await,
            Err(Error::Conflict(_))
        ),
        "a second tenant with the same name is a conflict"
    );
    let all = ok(store.list_tenants().await, "list_tenants");
    assert!(all.contains(&a) && all.contains(&b));

    let la = license(a.id, "ACME-KEY-0001", 5);
    ok(
        store
            .create_license(&la, &UNLIMITED, &audit(a.id, "license.create", now()))
            .await,
        "create_license",
    );
    assert_eq!(ok(store.get_license(a.id, la.id).await, "get_license"), la);
    assert_eq!(
        ok(store.find_license_by_key(a.id, &la.key).await, "by key"),
        la
    );
    // The same key in another tenant is another license.
    let lb = license(b.id, "ACME-KEY-0001", 2);
    ok(
        store
            .create_license(&lb, &UNLIMITED, &audit(b.id, "license.create", now()))
            .await,
        "same key, other tenant",
    );
    let dup = License {
        id: LicenseId::new(),
        ..la.clone()
    };
    assert!(
        matches!(
            store
                .create_license(&dup, &UNLIMITED, &audit(a.id, "l", now()))
                .await,
            Err(Error::Conflict(_))
        ),
        "a duplicate key within a tenant is a conflict"
    );
    // Isolation: b's ids under a answer like missing ones.
    assert_not_found(
        store.get_license(a.id, lb.id).await,
        Resource::License,
        "get_license foreign",
    );
    assert_not_found(
        store.get_license(a.id, LicenseId::new()).await,
        Resource::License,
        "get_license missing",
    );
    assert_eq!(
        ok(store.find_license_by_key(b.id, &lb.key).await, "by key b").id,
        lb.id
    );
    let unknown = ok(LicenseKey::parse("NO-SUCH-KEY-1"), "key");
    assert_not_found(
        store.find_license_by_key(a.id, &unknown).await,
        Resource::License,
        "by key missing",
    );
    // Updates are scoped too, and do not change identity fields.
    let mut changed = la.clone();
    changed.seats = ok(SeatCount::new(7), "seats");
    changed.status = LicenseStatus::Suspended;
    changed.expires_at = None;
    changed.updated_at = now() + TimeDelta::seconds(5);
    ok(
        store
            .update_license(&changed, &UNLIMITED, &audit(a.id, "license.update", now()))
            .await,
        "update_license",
    );
    assert_eq!(
        ok(store.get_license(a.id, la.id).await, "get after update"),
        changed
    );
    let foreign = License {
        tenant_id: b.id,
        ..changed.clone()
    };
    assert_not_found(
        store
            .update_license(&foreign, &UNLIMITED, &audit(b.id, "x", now()))
            .await,
        Resource::License,
        "update foreign",
    );
    assert_eq!(
        ok(store.get_license(a.id, la.id).await, "unchanged")
            .seats
            .get(),
        7
    );
    // Pagination: oldest first, keyset after an id, tenant-scoped.
    let mut ids = vec![la.id];
    for i in 2..=4 {
        let l = license(a.id, &format!("ACME-KEY-000{i}"), 1);
        ok(
            store
                .create_license(&l, &UNLIMITED, &audit(a.id, "license.create", now()))
                .await,
            "create",
        );
        ids.push(l.id);
    }
    let first = ok(
        store.list_licenses(a.id, Page::new(None, 2)).await,
        "page 1",
    );
    assert_eq!(first.iter().map(|l| l.id).collect::<Vec<_>>(), ids[..2]);
    let second = ok(
        store.list_licenses(a.id, Page::new(Some(ids[1]), 10)).await,
        "page 2",
    );
    assert_eq!(second.iter().map(|l| l.id).collect::<Vec<_>>(), ids[2..]);
    let in_b = ok(
        store.list_licenses(b.id, Page::new(None, 10)).await,
        "list b",
    );
    assert_eq!(in_b.len(), 1, "b sees only its own license");
}

async fn sessions_and_usage(store: &dyn Store) {
    let a = tenant(store, "Initech").await;
    let b = tenant(store, "Umbrella").await;
    let la = license(a.id, "INIT-KEY-0001", 3);
    ok(
        store
            .create_license(&la, &UNLIMITED, &audit(a.id, "license.create", now()))
            .await,
        "license",
    );
    let lb = license(b.id, "UMBR-KEY-0001", 3);
    ok(
        store
            .create_license(&lb, &UNLIMITED, &audit(b.id, "license.create", now()))
            .await,
        "license b",
    );

    let t0 = now();
    let s1 = session(&la, "hw-1", t0 + TimeDelta::seconds(300));
    let s2 = session(&la, "hw-2", t0 + TimeDelta::seconds(300));
    ok(store.insert_session(&s1, 1).await, "insert s1");
    ok(store.insert_session(&s2, 2).await, "insert s2");
    assert_eq!(ok(store.get_session(a.id, s1.id).await, "get_session"), s1);
    assert_not_found(
        store.get_session(b.id, s1.id).await,
        Resource::Session,
        "get_session foreign",
    );
    assert_not_found(
        store.get_session(a.id, SessionId::new()).await,
        Resource::Session,
        "get_session missing",
    );

    // A session must belong to one of the tenant's licenses.
    let stray = Session {
        tenant_id: a.id,
        ..session(&lb, "hw-9", t0 + TimeDelta::seconds(300))
    };
    assert_not_found(
        store.insert_session(&stray, 1).await,
        Resource::License,
        "insert on a foreign license",
    );
    let orphan = AuditEvent {
        tenant_id: TenantId::new(),
        ..audit(a.id, "x", t0)
    };
    assert_not_found(
        store.append_audit(&orphan).await,
        Resource::Tenant,
        "audit of a missing tenant",
    );

    let live = ok(store.live_sessions(a.id, la.id, t0).await, "live");
    assert_eq!(live.len(), 2);
    assert!(
        ok(store.live_sessions(b.id, la.id, t0).await, "live foreign").is_empty(),
        "foreign tenant sees no sessions"
    );

    // A write-behind batch moves expiries forward only, skips other tenants' sessions, and
    // raises peaks; a batch landing late (an older renewal) changes nothing.
    let t1 = t0 + TimeDelta::seconds(60);
    let beat = |tenant: TenantId, id: SessionId, at: DateTime<Utc>| HeartbeatRecord {
        tenant_id: tenant,
        session_id: id,
        at,
        expires_at: at + TimeDelta::seconds(300),
    };
    let batch = WriteBehindBatch {
        heartbeats: vec![beat(a.id, s1.id, t1), beat(b.id, s2.id, t1)],
        peaks: vec![UsagePeak {
            tenant_id: a.id,
            license_id: la.id,
            day: t0.date_naive(),
            in_use: 2,
            overdraft: 0,
        }],
    };
    assert!(
        !ok(store.get_session(a.id, s1.id).await, "before flush").confirmed,
        "a grant is not on record before its renewal record"
    );
    ok(store.flush_write_behind(&batch).await, "flush");
    let s1_now = ok(store.get_session(a.id, s1.id).await, "after flush");
    assert_eq!(
        (s1_now.last_heartbeat_at, s1_now.expires_at),
        (t1, t1 + TimeDelta::seconds(300))
    );
    assert!(s1_now.confirmed, "a renewal record confirms the grant");
    let s2_now = ok(store.get_session(a.id, s2.id).await, "s2 after flush");
    assert_eq!(
        (s2_now.expires_at, s2_now.confirmed),
        (s2.expires_at, false),
        "a foreign tenant's renewal is ignored"
    );
    // A grant's record that does not move the stored expiry still confirms it.
    let same = session(&la, "hw-9", t0 + TimeDelta::seconds(300));
    ok(store.insert_session(&same, 0).await, "insert same");
    let unmoved = WriteBehindBatch {
        heartbeats: vec![HeartbeatRecord {
            tenant_id: a.id,
            session_id: same.id,
            at: same.acquired_at,
            expires_at: same.expires_at,
        }],
        peaks: vec![],
    };
    ok(store.flush_write_behind(&unmoved).await, "flush unmoved");
    let same_now = ok(store.get_session(a.id, same.id).await, "same after flush");
    assert_eq!(
        (
            same_now.expires_at,
            same_now.last_heartbeat_at,
            same_now.confirmed
        ),
        (same.expires_at, same.acquired_at, true)
    );
    ok(
        store
            .end_session(
                a.id,
                same.id,
                &SessionEnd::new(t0, EndReason::Released),
                None,
            )
            .await,
        "end same",
    );
    let late = WriteBehindBatch {
        heartbeats: vec![beat(a.id, s1.id, t0)],
        peaks: vec![],
    };
    ok(store.flush_write_behind(&late).await, "late flush");
    let s1_now = ok(store.get_session(a.id, s1.id).await, "after late flush");
    assert_eq!(
        s1_now.expires_at,
        t1 + TimeDelta::seconds(300),
        "never backwards"
    );

    // A recorded session whose seat was never granted is deleted; only the tenant's.
    let ungranted = session(&la, "hw-8", t0 + TimeDelta::seconds(300));
    ok(
        store.insert_session(&ungranted, 0).await,
        "insert ungranted",
    );
    ok(
        store.discard_session(b.id, ungranted.id).await,
        "discard foreign",
    );
    ok(
        store.get_session(a.id, ungranted.id).await,
        "a foreign discard deletes nothing",
    );
    ok(store.discard_session(a.id, ungranted.id).await, "discard");
    assert_not_found(
        store.get_session(a.id, ungranted.id).await,
        Resource::Session,
        "discarded",
    );
    ok(
        store.discard_session(a.id, ungranted.id).await,
        "discard again",
    );

    // Ending is idempotent: first reason and time win; an ended session refuses heartbeats.
    assert_not_found(
        store
            .end_session(b.id, s2.id, &SessionEnd::new(t1, EndReason::Released), None)
            .await,
        Resource::Session,
        "end foreign",
    );
    let ended = ok(
        store
            .end_session(a.id, s2.id, &SessionEnd::new(t1, EndReason::Released), None)
            .await,
        "end",
    );
    assert_eq!(
        (ended.session.ended_at, ended.session.end_reason),
        (Some(t1), Some(EndReason::Released))
    );
    assert!(ended.by_this_call, "the first end is this call's");
    let again = ok(
        store
            .end_session(
                a.id,
                s2.id,
                &SessionEnd::new(t1 + TimeDelta::seconds(9), EndReason::Revoked),
                None,
            )
            .await,
        "end again",
    );
    assert_eq!(
        (again.session.ended_at, again.session.end_reason),
        (Some(t1), Some(EndReason::Released))
    );
    assert!(!again.by_this_call, "a second end changes nothing");
    // A renewal of an ended session changes nothing.
    let t2 = t1 + TimeDelta::seconds(30);
    let after_end = WriteBehindBatch {
        heartbeats: vec![beat(a.id, s2.id, t2)],
        peaks: vec![],
    };
    ok(
        store.flush_write_behind(&after_end).await,
        "flush after end",
    );
    let s2_now = ok(store.get_session(a.id, s2.id).await, "ended");
    assert_eq!(
        s2_now.expires_at, s2.expires_at,
        "an ended session is not renewed"
    );
    assert_eq!(
        ok(store.live_sessions(a.id, la.id, t1).await, "live").len(),
        1
    );

    // Reaper: only sessions past expiry, only the tenant's, counted once.
    let due = session(&la, "hw-3", t0 - TimeDelta::seconds(1));
    ok(store.insert_session(&due, 2).await, "insert due");
    let foreign_due = session(&lb, "hw-3", t0 - TimeDelta::seconds(1));
    ok(
        store.insert_session(&foreign_due, 1).await,
        "insert foreign due",
    );
    assert_eq!(
        ok(
            store.expire_due(a.id, lb.id, t1, 100).await,
            "expire other license"
        )
        .len(),
        0
    );
    assert_eq!(
        ok(store.expire_due(a.id, la.id, t1, 100).await, "expire")
            .iter()
            .map(|s| (s.id, s.end_reason, s.ended_at))
            .collect::<Vec<_>>(),
        [(due.id, Some(EndReason::Expired), Some(due.expires_at))],
        "the marked session, as it is now"
    );
    assert_eq!(
        ok(store.expire_due(a.id, la.id, t1, 100).await, "expire again").len(),
        0
    );
    let reaped = ok(store.get_session(a.id, due.id).await, "reaped");
    assert_eq!(reaped.end_reason, Some(EndReason::Expired));
    assert!(
        ok(store.get_session(b.id, foreign_due.id).await, "b untouched")
            .ended_at
            .is_none()
    );

    // Usage: daily peak from grants, denials counted, foreign license not found.
    ok(store.record_denial(a.id, la.id, t1).await, "denial");
    ok(store.record_denial(a.id, la.id, t1).await, "denial 2");
    assert_not_found(
        store.record_denial(a.id, lb.id, t1).await,
        Resource::License,
        "denial foreign",
    );
    let day = t0.date_naive();
    let usage = ok(store.usage(a.id, la.id, day, day).await, "usage");
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert_eq!((usage[0].peak_seats, usage[0].denials), (2, 2));
    assert_not_found(
        store.usage(a.id, lb.id, day, day).await,
        Resource::License,
        "usage foreign",
    );
    assert!(
        ok(
            store
                .usage(
                    a.id,
                    la.id,
                    day.succ_opt().unwrap_or(day),
                    day.succ_opt().unwrap_or(day)
                )
                .await,
            "other day"
        )
        .len()
            <= 1
    );
}

async fn concurrent_reapers_count_each_session_once(store: &dyn Store) {
    let a = tenant(store, "Hooli").await;
    let l = license(a.id, "HOOLI-KEY-001", 100);
    ok(
        store
            .create_license(&l, &UNLIMITED, &audit(a.id, "license.create", now()))
            .await,
        "license",
    );
    let past = now() - TimeDelta::seconds(10);
    for i in 0..40 {
        ok(
            store
                .insert_session(&session(&l, &format!("hw-{i}"), past), 1)
                .await,
            "insert",
        );
    }
    let at = now();
    let mut total = 0;
    loop {
        let (x, y) = join(
            store.expire_due(a.id, l.id, at, 7),
            store.expire_due(a.id, l.id, at, 7),
        )
        .await;
        let (x, y) = (ok(x, "reaper 1").len(), ok(y, "reaper 2").len());
        assert!(x <= 7 && y <= 7, "a batch never exceeds its limit");
        total += x + y;
        if x + y == 0 {
            break;
        }
    }
    assert_eq!(
        total, 40,
        "two reapers together mark each session exactly once"
    );
}

async fn api_keys(store: &dyn Store) {
    let a = tenant(store, "Stark").await;
    let b = tenant(store, "Wayne").await;
    let secret = ok(ApiKeySecret::generate(a.id), "secret");
    let key = ApiKey {
        id: ApiKeyId::new(),
        tenant_id: a.id,
        name: "ci".into(),
        prefix: secret.prefix().to_owned(),
        hash: secret.hash(),
        scopes: vec![Scope::Client, Scope::Admin],
        created_at: now(),
        last_used_at: None,
        revoked_at: None,
    };
    ok(
        store
            .create_api_key(&key, &UNLIMITED, &audit(a.id, "api_key.create", now()))
            .await,
        "create key",
    );
    let found = ok(store.find_api_key(a.id, secret.prefix()).await, "find key");
    assert_eq!(found, key);
    assert!(found.matches(&secret));
    assert_not_found(
        store.find_api_key(b.id, secret.prefix()).await,
        Resource::ApiKey,
        "find foreign",
    );
    assert_eq!(ok(store.list_api_keys(a.id).await, "list").len(), 1);
    assert!(ok(store.list_api_keys(b.id).await, "list b").is_empty());
    let used = now() + TimeDelta::seconds(1);
    ok(store.touch_api_key(a.id, key.id, used).await, "touch");
    assert_not_found(
        store.touch_api_key(b.id, key.id, used).await,
        Resource::ApiKey,
        "touch foreign",
    );
    assert_eq!(
        ok(store.find_api_key(a.id, secret.prefix()).await, "f").last_used_at,
        Some(used)
    );
    assert_not_found(
        store
            .revoke_api_key(b.id, key.id, used, &audit(b.id, "api_key.revoke", used))
            .await,
        Resource::ApiKey,
        "revoke foreign",
    );
    ok(
        store
            .revoke_api_key(a.id, key.id, used, &audit(a.id, "api_key.revoke", used))
            .await,
        "revoke",
    );
    let later = used + TimeDelta::seconds(5);
    ok(
        store
            .revoke_api_key(a.id, key.id, later, &audit(a.id, "api_key.revoke", later))
            .await,
        "revoke again",
    );
    let revoked = ok(store.find_api_key(a.id, secret.prefix()).await, "revoked");
    assert_eq!(
        revoked.revoked_at,
        Some(used),
        "the first revocation time stays"
    );
    assert!(!revoked.allows(Scope::Client));
}

async fn audit_log(store: &dyn Store) {
    let a = tenant(store, "Tyrell").await;
    let b = tenant(store, "Cyberdyne").await;
    let t = now();
    for i in 0..3 {
        ok(
            store
                .append_audit(&audit(
                    a.id,
                    &format!("custom.{i}"),
                    t + TimeDelta::seconds(i),
                ))
                .await,
            "append",
        );
    }
    let events = ok(store.list_audit(a.id, 2).await, "list audit");
    assert_eq!(
        events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["custom.2", "custom.1"],
        "newest first, limited"
    );
    assert_eq!(events[0].details, json!({"n": 1}));
    let theirs = ok(store.list_audit(b.id, 100).await, "list b");
    assert!(
        theirs.iter().all(|e| e.tenant_id == b.id),
        "b sees only its own events"
    );
    assert!(
        theirs.iter().any(|e| e.action == "tenant.create"),
        "tenant creation was audited"
    );
}
