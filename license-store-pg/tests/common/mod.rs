//! Behaviours of `SqlStore` beyond the core store contract, run on PostgreSQL and on SQLite
//! alike (each test binary calls the ones it needs).
#![allow(dead_code)]

/// The event log: separate pools, large batches.
pub mod event_log;
/// Tenant signing keys.
pub mod tenant_keys;

use chrono::{DateTime, TimeDelta, Utc};
use license_core::{
    Actor, AuditEvent, EndReason, Entitlement, Error, HardwareId, LeasePolicy, License, LicenseId,
    LicenseKey, LicenseStatus, Resource, SeatCount, SeatPolicy, SeatRules, Session, SessionEnd,
    SessionId, Store, Tenant, TenantId, TenantQuotas,
};
use serde_json::json;

/// Whole seconds, like the contract: every backend stores them exactly.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap()
}

pub fn audit(tenant: TenantId, action: &str) -> AuditEvent {
    AuditEvent::new(
        tenant,
        Actor::Operator,
        action,
        format!("test:{action}"),
        now(),
        json!({}),
    )
}

pub async fn tenant(store: &dyn Store) -> Tenant {
    let t = Tenant::new(&format!("Tenant {}", TenantId::new()), now()).unwrap();
    store
        .create_tenant(&t, &audit(t.id, "tenant.create"))
        .await
        .unwrap();
    t
}

pub fn license(tenant: TenantId, key: &str) -> License {
    let at = now();
    License {
        id: LicenseId::new(),
        tenant_id: tenant,
        key: LicenseKey::parse(key).unwrap(),
        product: "CAD Pro".into(),
        seats: SeatCount::new(10).unwrap(),
        overdraft: 0,
        status: LicenseStatus::Active,
        expires_at: None,
        lease: LeasePolicy::default(),
        entitlements: vec![Entitlement::parse("pro").unwrap()],
        require_session_secret: false,
        rules: SeatRules::default(),
        policy: SeatPolicy::default(),
        created_at: at,
        updated_at: at,
    }
}

pub async fn tenant_with_license(store: &dyn Store) -> (Tenant, License) {
    let t = tenant(store).await;
    let l = license(t.id, "TEST-KEY-0001");
    store
        .create_license(&l, &TenantQuotas::UNLIMITED, &audit(t.id, "license.create"))
        .await
        .unwrap();
    (t, l)
}

pub fn session(l: &License, hw: &str, expires_at: DateTime<Utc>) -> Session {
    let at = now();
    Session {
        id: SessionId::new(),
        tenant_id: l.tenant_id,
        license_id: l.id,
        hardware_id: HardwareId::parse(hw).unwrap(),
        user_email: None,
        acquired_at: at,
        last_heartbeat_at: at,
        expires_at,
        ended_at: None,
        end_reason: None,
        holder: None,
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

/// A session naming another tenant's license is refused like a missing license, and nothing
/// is stored.
pub async fn session_on_a_foreign_license_is_not_found(store: &dyn Store) {
    let (a, _) = tenant_with_license(store).await;
    let (_, lb) = tenant_with_license(store).await;
    let mut s = session(&lb, "hw-1", now() + TimeDelta::minutes(5));
    s.tenant_id = a.id;
    match store.insert_session(&s, 1).await {
        Err(Error::NotFound(Resource::License)) => {}
        other => panic!("expected license not found, got {other:?}"),
    }
    assert!(matches!(
        store.get_session(a.id, s.id).await,
        Err(Error::NotFound(Resource::Session))
    ));
    let missing = session(&license(a.id, "NO-SUCH-LICENSE"), "hw-1", now());
    assert!(matches!(
        store.insert_session(&missing, 1).await,
        Err(Error::NotFound(Resource::License))
    ));
}

/// A change that fails writes neither the change nor its audit event (one transaction), and
/// the conflict's message quotes no SQL.
pub async fn failed_change_leaves_no_audit_event(store: &dyn Store) {
    let (a, l) = tenant_with_license(store).await;
    let before = store.list_audit(a.id, 100).await.unwrap().len();
    let dup = License {
        id: LicenseId::new(),
        ..l.clone()
    };
    let err = store
        .create_license(
            &dup,
            &TenantQuotas::UNLIMITED,
            &audit(a.id, "license.create"),
        )
        .await
        .unwrap_err();
    let Error::Conflict(message) = &err else {
        panic!("expected a conflict, got {err:?}");
    };
    for leaked in ["INSERT", "licenses", "TEST-KEY", "duplicate key"] {
        assert!(!message.contains(leaked), "{message:?} leaks {leaked:?}");
    }
    assert_eq!(store.list_audit(a.id, 100).await.unwrap().len(), before);
    // A foreign update writes no event either.
    let (b, _) = tenant_with_license(store).await;
    let foreign = License {
        tenant_id: b.id,
        ..l.clone()
    };
    let b_before = store.list_audit(b.id, 100).await.unwrap().len();
    assert!(matches!(
        store
            .update_license(
                &foreign,
                &TenantQuotas::UNLIMITED,
                &audit(b.id, "license.update")
            )
            .await,
        Err(Error::NotFound(Resource::License))
    ));
    assert_eq!(store.list_audit(b.id, 100).await.unwrap().len(), b_before);
    // A successful change writes exactly its event, with every field intact.
    let event = AuditEvent::new(
        a.id,
        Actor::User("auth0|42".into()),
        "license.update",
        format!("license:{}", l.id),
        now(),
        json!({"seats": 10, "note": "ünïcode"}),
    );
    store
        .update_license(&l, &TenantQuotas::UNLIMITED, &event)
        .await
        .unwrap();
    assert_eq!(store.list_audit(a.id, 1).await.unwrap(), vec![event]);
}

/// The daily peak only rises; denials add up; the day is the UTC day of the grant.
pub async fn usage_keeps_the_daily_peak_and_counts_denials(store: &dyn Store) {
    let (a, l) = tenant_with_license(store).await;
    let later = now() + TimeDelta::minutes(5);
    for in_use in [3, 5, 2] {
        store
            .insert_session(&session(&l, "hw", later), in_use)
            .await
            .unwrap();
    }
    for _ in 0..3 {
        store.record_denial(a.id, l.id, now()).await.unwrap();
    }
    let yesterday = now() - TimeDelta::days(1);
    let mut old = session(&l, "hw-old", later);
    old.acquired_at = yesterday;
    store.insert_session(&old, 1).await.unwrap();

    let today = now().date_naive();
    let days = store
        .usage(a.id, l.id, yesterday.date_naive(), today)
        .await
        .unwrap();
    let got: Vec<_> = days
        .iter()
        .map(|d| (d.day, d.peak_seats, d.denials))
        .collect();
    assert_eq!(
        got,
        [(yesterday.date_naive(), 1, 0), (today, 5, 3)],
        "oldest first, peak is the maximum, denials the count"
    );
    assert_eq!(
        store.usage(a.id, l.id, today, today).await.unwrap().len(),
        1,
        "the range is inclusive and filters days"
    );
}

/// Each call marks at most `limit`, and the counts add up to the sessions that were due;
/// sessions not yet due, or already ended, are left alone.
pub async fn reaper_batches_are_bounded_and_exact(store: &dyn Store) {
    let (a, l) = tenant_with_license(store).await;
    let t = now();
    let mut due = Vec::new();
    for i in 0..5 {
        let s = session(&l, &format!("hw-{i}"), t - TimeDelta::seconds(i + 1));
        store.insert_session(&s, 1).await.unwrap();
        due.push(s);
    }
    let at_boundary = session(&l, "hw-boundary", t);
    store.insert_session(&at_boundary, 1).await.unwrap();
    let not_due = session(&l, "hw-later", t + TimeDelta::seconds(1));
    store.insert_session(&not_due, 1).await.unwrap();
    let released = session(&l, "hw-released", t - TimeDelta::seconds(30));
    store.insert_session(&released, 1).await.unwrap();
    store
        .end_session(
            a.id,
            released.id,
            &SessionEnd::new(t, EndReason::Released),
            None,
        )
        .await
        .unwrap();

    let mut counts = Vec::new();
    loop {
        let n = store.expire_due(a.id, l.id, t, 2).await.unwrap().len();
        counts.push(n);
        if n == 0 {
            break;
        }
    }
    assert_eq!(
        counts,
        [2, 2, 2, 0],
        "5 past expiry + 1 at it, in batches of 2"
    );
    assert_eq!(
        store
            .expire_due(a.id, l.id, t, u32::MAX)
            .await
            .unwrap()
            .len(),
        0,
        "a huge limit is fine"
    );
    for s in due.iter().chain([&at_boundary]) {
        let got = store.get_session(a.id, s.id).await.unwrap();
        assert_eq!(
            (got.ended_at, got.end_reason),
            (Some(s.expires_at), Some(EndReason::Expired)),
            "a reaped session ends at its expiry"
        );
    }
    assert!(
        store
            .get_session(a.id, not_due.id)
            .await
            .unwrap()
            .ended_at
            .is_none()
    );
    assert_eq!(
        store
            .get_session(a.id, released.id)
            .await
            .unwrap()
            .end_reason,
        Some(EndReason::Released),
        "the reaper does not overwrite an earlier end"
    );
    assert_eq!(
        store.live_sessions(a.id, l.id, t).await.unwrap(),
        vec![not_due],
        "live means not ended and expiring after now"
    );
}

/// Times keep microseconds (sub-microsecond digits are dropped), and ordering comparisons
/// (expiry vs now) hold for fractional seconds.
pub async fn times_keep_microseconds(store: &dyn Store) {
    let (a, l) = tenant_with_license(store).await;
    let base = now();
    let precise = base + TimeDelta::nanoseconds(123_456_789);
    let s = session(&l, "hw-1", precise);
    store.insert_session(&s, 1).await.unwrap();
    let got = store.get_session(a.id, s.id).await.unwrap();
    assert_eq!(got.expires_at, base + TimeDelta::microseconds(123_456));
    let just_before = base + TimeDelta::microseconds(123_455);
    assert_eq!(
        store
            .live_sessions(a.id, l.id, just_before)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .expire_due(a.id, l.id, just_before, 10)
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        store
            .expire_due(a.id, l.id, base + TimeDelta::seconds(1), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Updating a license keeps its identity and creation time, and replaces the rest.
pub async fn update_keeps_identity(store: &dyn Store) {
    let (a, l) = tenant_with_license(store).await;
    let mut changed = l.clone();
    changed.key = LicenseKey::parse("OTHER-KEY-0002").unwrap();
    changed.created_at = l.created_at + TimeDelta::days(1);
    changed.product = "CAD Ultimate".into();
    changed.lease = LeasePolicy::new(600, 60).unwrap();
    changed.entitlements = vec![];
    store
        .update_license(
            &changed,
            &TenantQuotas::UNLIMITED,
            &audit(a.id, "license.update"),
        )
        .await
        .unwrap();
    let got = store.get_license(a.id, l.id).await.unwrap();
    assert_eq!(got.key, l.key);
    assert_eq!(got.created_at, l.created_at);
    assert_eq!(got.product, "CAD Ultimate");
    assert_eq!(got.lease, LeasePolicy::new(600, 60).unwrap());
    assert!(got.entitlements.is_empty());
}

/// Writes that need an existing tenant say which record is missing.
pub async fn writes_for_a_missing_tenant_are_not_found(store: &dyn Store) {
    let ghost = TenantId::new();
    assert!(matches!(
        store
            .create_license(
                &license(ghost, "GHOST-KEY-01"),
                &TenantQuotas::UNLIMITED,
                &audit(ghost, "x")
            )
            .await,
        Err(Error::NotFound(Resource::Tenant))
    ));
    assert!(matches!(
        store.append_audit(&audit(ghost, "x")).await,
        Err(Error::NotFound(Resource::Tenant))
    ));
    assert!(store.list_audit(ghost, 10).await.unwrap().is_empty());
}

/// Every shared behaviour, in turn.
pub async fn all(store: &dyn Store) {
    session_on_a_foreign_license_is_not_found(store).await;
    failed_change_leaves_no_audit_event(store).await;
    usage_keeps_the_daily_peak_and_counts_denials(store).await;
    reaper_batches_are_bounded_and_exact(store).await;
    times_keep_microseconds(store).await;
    update_keeps_identity(store).await;
    writes_for_a_missing_tenant_are_not_found(store).await;
    tenant_keys::all(store).await;
    event_log::a_large_batch_spans_several_inserts(store).await;
}
