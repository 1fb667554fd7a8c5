//! The seat rules' part of the store contract (ADR 0025): license rules, borrowed and overdraft
//! marks, linger and eviction recorded by the first end, and the overdraft peak; the queries
//! a ledger rebuild and the overdraft minutes read are in `seat_rule_queries`.

use chrono::{DateTime, TimeDelta, Utc};

use super::session_pages::{acquired, new_license};
use super::store::{assert_not_found, audit, license, now, ok, session, tenant};
use crate::error::Resource;
use crate::ids::{SessionId, TenantId};
use crate::license::License;
use crate::quota::TenantQuotas;
use crate::seat_rules::SeatRules;
use crate::session::{EndReason, Eviction, Session, SessionEnd};
use crate::store::{Store, UsagePeak, WriteBehindBatch};

/// Runs every seat-rules check.
pub(super) async fn seat_rules(store: &dyn Store) {
    rules_round_trip(store).await;
    borrowed_and_overdraft_round_trip(store).await;
    first_end_records_linger_and_eviction(store).await;
    super::seat_rule_queries::lingering_and_held_off_sessions_in_force(store).await;
    super::seat_rule_queries::borrowed_sessions_come_in_pages(store).await;
    super::seat_rule_queries::overdraft_sessions_of_a_period(store).await;
    overdraft_peak_is_the_highest_flushed(store).await;
}

/// The sessions' ids, in order.
pub(super) fn ids(sessions: &[Session]) -> Vec<SessionId> {
    sessions.iter().map(|s| s.id).collect()
}

/// `sessions` in the listings' order: `(acquired_at, id)`.
pub(super) fn sorted(mut sessions: Vec<Session>) -> Vec<Session> {
    sessions.sort_by_key(|s| (s.acquired_at, s.id));
    sessions
}

/// Ends the session as `end` says; the session as stored.
pub(super) async fn end(
    store: &dyn Store,
    tenant: TenantId,
    id: SessionId,
    end: &SessionEnd,
) -> Session {
    ok(
        store.end_session(tenant, id, end, None).await,
        "end_session",
    )
    .session
}

/// Every rule, caps set and cleared, survives create, update, get and the key lookup.
async fn rules_round_trip(store: &dyn Store) {
    let a = tenant(store, "Rules").await;
    let rules = SeatRules {
        max_borrow_seconds: 7 * 86_400,
        max_borrowed_seats: Some(3),
        linger_seconds: 120,
        min_hold_seconds: 600,
        overdraft_minutes_per_day: Some(90),
        leasing: crate::LeasingStrategy::PerProcess,
        max_processes_per_host: Some(4),
        max_wait_seconds: 600,
        max_queue_length: Some(50),
    };
    let l = License {
        rules,
        ..license(a.id, "RULES-0001", 10)
    };
    let event = audit(a.id, "license.create", now());
    ok(
        store
            .create_license(&l, &TenantQuotas::UNLIMITED, &event)
            .await,
        "create",
    );
    let got = ok(store.get_license(a.id, l.id).await, "get");
    assert_eq!(got.rules, rules, "rules as created");
    assert_eq!(got, l, "the whole license as created");
    let by_key = ok(store.find_license_by_key(a.id, &l.key).await, "by key");
    assert_eq!(by_key.rules, rules, "rules found by key");

    let changed = License {
        rules: SeatRules {
            max_borrow_seconds: 0,
            max_borrowed_seats: None,
            linger_seconds: 30,
            min_hold_seconds: 0,
            overdraft_minutes_per_day: None,
            leasing: crate::LeasingStrategy::PerUser,
            max_processes_per_host: None,
            max_wait_seconds: 0,
            max_queue_length: None,
        },
        updated_at: l.updated_at + TimeDelta::seconds(5),
        ..l.clone()
    };
    let event = audit(a.id, "license.update", now());
    ok(
        store
            .update_license(&changed, &TenantQuotas::UNLIMITED, &event)
            .await,
        "update",
    );
    assert_eq!(
        ok(store.get_license(a.id, l.id).await, "get after update"),
        changed,
        "rules as updated, caps removed"
    );
}

/// `borrowed` and `overdraft` are stored by the insert; `mark_overdraft` sets the mark on the
/// tenant's session only.
async fn borrowed_and_overdraft_round_trip(store: &dyn Store) {
    let a = tenant(store, "Marks A").await;
    let b = tenant(store, "Marks B").await;
    let l = new_license(store, a.id, "MARKS-A-0001").await;
    let exp = now() + TimeDelta::minutes(10);
    let both = Session {
        borrowed: true,
        overdraft: true,
        ..session(&l, "hw-both", exp)
    };
    ok(store.insert_session(&both, 0).await, "insert marked");
    assert_eq!(
        ok(store.get_session(a.id, both.id).await, "get marked"),
        both,
        "borrowed and overdraft as inserted"
    );
    let plain = session(&l, "hw-plain", exp);
    ok(store.insert_session(&plain, 0).await, "insert plain");
    let got = ok(store.get_session(a.id, plain.id).await, "get plain");
    assert!(!got.borrowed && !got.overdraft, "{got:?}");

    assert_not_found(
        store.mark_overdraft(b.id, plain.id).await,
        Resource::Session,
        "mark_overdraft on another tenant's session",
    );
    assert_not_found(
        store.mark_overdraft(a.id, SessionId::new()).await,
        Resource::Session,
        "mark_overdraft on a missing session",
    );
    assert!(
        !ok(
            store.get_session(a.id, plain.id).await,
            "after foreign mark"
        )
        .overdraft,
        "a foreign mark changes nothing"
    );
    ok(store.mark_overdraft(a.id, plain.id).await, "mark");
    let marked = ok(store.get_session(a.id, plain.id).await, "after mark");
    assert_eq!(
        marked,
        Session {
            overdraft: true,
            ..plain
        },
        "the mark and nothing else"
    );
}

/// The call that ends a session records its linger and eviction; a later end changes neither.
async fn first_end_records_linger_and_eviction(store: &dyn Store) {
    let a = tenant(store, "Ends").await;
    let l = new_license(store, a.id, "ENDS-0001").await;
    let t0 = now();
    let exp = t0 + TimeDelta::minutes(10);

    let released = acquired(store, &l, "hw-linger", t0, exp, 0).await;
    let linger = SessionEnd {
        linger_until: Some(t0 + TimeDelta::seconds(120)),
        ..SessionEnd::new(t0, EndReason::Released)
    };
    let got = end(store, a.id, released.id, &linger).await;
    assert_eq!(
        (got.linger_until, got.eviction.clone()),
        (linger.linger_until, None)
    );

    let evicted = acquired(store, &l, "hw-evict", t0, exp, 0).await;
    let eviction = Eviction {
        reason: "license audit, see ticket 42".into(),
        hold_until: Some(t0 + TimeDelta::minutes(30)),
    };
    let evict = SessionEnd {
        eviction: Some(eviction.clone()),
        ..SessionEnd::new(t0, EndReason::Evicted)
    };
    let got = end(store, a.id, evicted.id, &evict).await;
    assert_eq!(got.end_reason, Some(EndReason::Evicted));
    assert_eq!(
        (got.linger_until, got.eviction.clone()),
        (None, Some(eviction.clone()))
    );

    // An eviction without a hold-off keeps its reason.
    let no_hold = acquired(store, &l, "hw-no-hold", t0, exp, 0).await;
    let reason_only = Eviction {
        reason: "reclaimed".into(),
        hold_until: None,
    };
    let got = end(
        store,
        a.id,
        no_hold.id,
        &SessionEnd {
            eviction: Some(reason_only.clone()),
            ..SessionEnd::new(t0, EndReason::Evicted)
        },
    )
    .await;
    assert_eq!(got.eviction, Some(reason_only));

    // First end wins: a second end, with another linger or eviction, changes neither.
    let later = t0 + TimeDelta::seconds(9);
    let second = SessionEnd {
        linger_until: Some(later + TimeDelta::hours(1)),
        eviction: Some(Eviction {
            reason: "second".into(),
            hold_until: Some(later + TimeDelta::hours(2)),
        }),
        ..SessionEnd::new(later, EndReason::Evicted)
    };
    for (id, linger_until, eviction) in [
        (released.id, linger.linger_until, None),
        (evicted.id, None, Some(eviction.clone())),
    ] {
        let again = ok(
            store.end_session(a.id, id, &second, None).await,
            "end again",
        );
        assert!(!again.by_this_call, "the second end did not end it");
        let stored = ok(store.get_session(a.id, id).await, "get after second end");
        assert_eq!(again.session, stored);
        assert_eq!(
            (stored.ended_at, stored.linger_until, stored.eviction),
            (Some(t0), linger_until, eviction),
            "the first end's time, linger and eviction"
        );
    }
}

/// A session of `l` acquired at `at` (not stored).
pub(super) fn acquired_at(
    l: &License,
    hw: &str,
    at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Session {
    Session {
        acquired_at: at,
        last_heartbeat_at: at,
        ..session(l, hw, expires_at)
    }
}

/// The day's overdraft peak only rises, like its peak; the store reports no overdraft
/// minutes (the core counts them from the sessions).
async fn overdraft_peak_is_the_highest_flushed(store: &dyn Store) {
    let a = tenant(store, "Peak").await;
    let l = new_license(store, a.id, "PEAK-0001").await;
    let day = now().date_naive();
    let peak = |in_use, overdraft| UsagePeak {
        tenant_id: a.id,
        license_id: l.id,
        day,
        in_use,
        overdraft,
    };
    for (in_use, overdraft) in [(101, 1), (100, 0), (103, 3), (102, 2)] {
        let batch = WriteBehindBatch {
            heartbeats: vec![],
            peaks: vec![peak(in_use, overdraft)],
        };
        ok(store.flush_write_behind(&batch).await, "flush peak");
    }
    // A grant recorded with the insert raises the peak only.
    let s = acquired_at(&l, "hw-1", now(), now() + TimeDelta::minutes(5));
    ok(store.insert_session(&s, 104).await, "insert with peak");
    let days = ok(store.usage(a.id, l.id, day, day).await, "usage");
    assert_eq!(days.len(), 1, "{days:?}");
    assert_eq!(
        (days[0].peak_seats, days[0].overdraft_peak),
        (104, 3),
        "both the highest seen"
    );
    assert_eq!(
        days[0].overdraft_seat_minutes, 0,
        "not the store's to count"
    );
}
