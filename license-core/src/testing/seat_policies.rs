//! Seat policies and seat keys in the store contract (ADR 0026): a license's groups and rules
//! survive create, reads and updates; a session's seat key and counters survive the insert and
//! every query that builds sessions (the ledger rebuild keys and counts seats by them).

use chrono::TimeDelta;

use super::seat_rules::{end, sorted};
use super::session_pages::new_license;
use super::store::{audit, license, now, ok, session, tenant};
use crate::ids::TenantId;
use crate::leasing::{LeasingStrategy, ProcessId};
use crate::license::License;
use crate::page::Page;
use crate::quota::TenantQuotas;
use crate::seat_ledger::UserRef;
use crate::seat_policy::{Counter, Member, PolicyRule, SeatGroup, SeatPolicy, Target};
use crate::session::{EndReason, Eviction, HardwareId, LiveSeat, Session, SessionEnd};
use crate::store::Store;

/// Runs every seat-policy check.
pub(super) async fn seat_policies(store: &dyn Store) {
    policy_round_trip(store).await;
    seat_key_and_counters_round_trip(store).await;
}

/// Two groups holding every kind of member, and every kind of rule.
fn full_policy() -> SeatPolicy {
    let group = |name: &str, members| SeatGroup::new(name, members);
    SeatPolicy {
        groups: vec![
            group(
                "eng",
                vec![
                    Member::User("ada@acme.com".into()),
                    Member::Domain("acme.com".into()),
                    Member::HardwareId("pc-1".into()),
                    Member::Host("build-01".into()),
                ],
            ),
            group("contractors", vec![Member::Domain("example.org".into())]),
        ],
        rules: vec![
            PolicyRule::Reserve {
                seats: 2,
                group: "eng".into(),
            },
            PolicyRule::Max {
                seats: 3,
                target: Target::Group("contractors".into()),
            },
            PolicyRule::Max {
                seats: 1,
                target: Target::User("bob@acme.com".into()),
            },
            PolicyRule::Max {
                seats: 2,
                target: Target::Host("build-01".into()),
            },
            PolicyRule::Include {
                group: "eng".into(),
            },
            PolicyRule::Exclude {
                group: "contractors".into(),
            },
        ],
    }
}

/// Updates `changed` and reads it back by id and by key: both the whole license.
async fn updated(store: &dyn Store, tenant: TenantId, changed: &License, what: &str) {
    let event = audit(tenant, "license.update", now());
    ok(
        store
            .update_license(changed, &TenantQuotas::UNLIMITED, &event)
            .await,
        what,
    );
    let got = ok(store.get_license(tenant, changed.id).await, what);
    assert_eq!(&got, changed, "{what}: the whole license by id");
    let by_key = ok(store.find_license_by_key(tenant, &changed.key).await, what);
    assert_eq!(&by_key, changed, "{what}: the whole license by key");
}

/// A policy with groups and every rule survives create, get, the key lookup and the listing;
/// an update replaces it (with another, then with none), and the leasing strategy with it.
async fn policy_round_trip(store: &dyn Store) {
    let a = tenant(store, "Policy").await;
    let policy = full_policy();
    let l = License {
        policy: policy.clone(),
        ..license(a.id, "POLICY-0001", 10)
    };
    ok(l.validate(), "a valid license");
    let event = audit(a.id, "license.create", now());
    ok(
        store
            .create_license(&l, &TenantQuotas::UNLIMITED, &event)
            .await,
        "create",
    );
    let got = ok(store.get_license(a.id, l.id).await, "get");
    assert_eq!(got.policy, policy, "the policy as created");
    assert_eq!(got, l, "the whole license as created");
    let by_key = ok(store.find_license_by_key(a.id, &l.key).await, "by key");
    assert_eq!(by_key, l, "the whole license found by key");
    let listed = ok(store.list_licenses(a.id, Page::new(None, 10)).await, "list");
    assert_eq!(listed, vec![l.clone()], "the whole license listed");

    let other = SeatPolicy {
        groups: vec![SeatGroup::new(
            "night",
            vec![Member::Host("batch-7".into())],
        )],
        rules: vec![PolicyRule::Max {
            seats: 4,
            target: Target::Group("night".into()),
        }],
    };
    let mut changed = License {
        policy: other,
        updated_at: l.updated_at + TimeDelta::seconds(5),
        ..l.clone()
    };
    changed.rules.leasing = LeasingStrategy::PerUser;
    updated(store, a.id, &changed, "another policy").await;

    let emptied = License {
        policy: SeatPolicy::default(),
        updated_at: changed.updated_at + TimeDelta::seconds(5),
        ..changed.clone()
    };
    updated(store, a.id, &emptied, "the policy removed").await;
    assert!(
        ok(store.get_license(a.id, l.id).await, "get empty")
            .policy
            .is_empty(),
        "no group and no rule left"
    );
}

/// Sessions keyed per user and per process, with counters, and one of neither: each comes
/// back whole from the insert, `get_session`, the live listings, and (once ended) the
/// lingering, held-off and borrowed queries, so a rebuilt ledger keys and counts their seats
/// as granted.
async fn seat_key_and_counters_round_trip(store: &dyn Store) {
    let a = tenant(store, "Seat keys").await;
    let l = new_license(store, a.id, "SEATKEY-0001").await;
    let t0 = now();
    let exp = t0 + TimeDelta::minutes(10);
    let machine = ok(HardwareId::parse("pc-1"), "hw");
    let counters = vec![
        Counter::group("eng"),
        Counter::user("ada@acme.com"),
        Counter::host("build-01"),
        Counter::machine("pc-1"),
    ];
    let person = HardwareId::of_user(&UserRef("email:ada@acme.com".into()));
    let process = HardwareId::of_process(&machine, &ok(ProcessId::parse("4711"), "pid"));
    let keyed = |hw: &str, seat_key: &HardwareId, counters: Vec<Counter>| {
        session(&l, hw, exp).keyed(Some(seat_key.clone()), counters)
    };
    let per_user = keyed("pc-1", &person, counters.clone());
    let per_process = keyed("pc-1", &process, vec![Counter::machine("pc-1")]);
    let counted_only = session(&l, "pc-2", exp).keyed(None, vec![Counter::group("eng")]);
    let plain = session(&l, "pc-3", exp);
    let live = [&per_user, &per_process, &counted_only, &plain];
    for s in live {
        ok(store.insert_session(s, 0).await, "insert");
        let got = ok(store.get_session(a.id, s.id).await, "get_session");
        assert_eq!(&got, s, "the session as inserted");
        assert_eq!(got.seat(), s.seat(), "its seat's key");
        assert_eq!(LiveSeat::from(&got).counters, s.counters, "its counters");
    }
    assert_eq!(per_user.seat(), &person);
    assert_eq!(plain.seat(), &plain.hardware_id);

    let expected = sorted(live.into_iter().cloned().collect());
    let found = ok(store.live_sessions(a.id, l.id, t0).await, "live_sessions");
    assert_eq!(found, expected, "live sessions, whole");
    let page = ok(
        store
            .live_sessions_page(a.id, l.id, t0, Page::new(None, 10))
            .await,
        "live_sessions_page",
    );
    assert_eq!(page, expected, "a page of live sessions, whole");

    // Ended with a linger, and evicted with a hold-off: the rebuild's other two sources.
    let lingers = SessionEnd {
        linger_until: Some(t0 + TimeDelta::minutes(2)),
        ..SessionEnd::new(t0, EndReason::Released)
    };
    let lingering = end(store, a.id, per_user.id, &lingers).await;
    assert_eq!(
        (&lingering.seat_key, &lingering.counters),
        (&per_user.seat_key, &per_user.counters),
        "end_session returns them"
    );
    let found = ok(store.lingering_sessions(a.id, l.id, t0).await, "lingering");
    assert_eq!(found, vec![lingering], "the lingering seat, whole");
    let evict = SessionEnd {
        eviction: Some(Eviction {
            reason: "audit".into(),
            hold_until: Some(t0 + TimeDelta::minutes(30)),
        }),
        ..SessionEnd::new(t0, EndReason::Evicted)
    };
    let held = end(store, a.id, per_process.id, &evict).await;
    assert_eq!(held.seat(), &process);
    let found = ok(store.held_off_sessions(a.id, l.id, t0).await, "held off");
    assert_eq!(found, vec![held], "the held-off session, whole");

    let borrowed = Session {
        borrowed: true,
        ..keyed("pc-4", &person, vec![Counter::user("ada@acme.com")])
    };
    ok(store.insert_session(&borrowed, 0).await, "insert borrowed");
    let found = ok(
        store
            .borrowed_sessions_page(a.id, l.id, t0, Page::new(None, 10))
            .await,
        "borrowed page",
    );
    assert_eq!(found, vec![borrowed], "the borrowed session, whole");
}
