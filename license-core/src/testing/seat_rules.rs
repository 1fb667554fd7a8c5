//! The seat rules' part of the store contract (ADR 0025): license rules, borrowed and overdraft
//! sessions, linger and eviction recorded by the first end, the queries a ledger rebuild and
//! the overdraft minutes read, and the overdraft peak.

use chrono::{DateTime, TimeDelta, Utc};

use super::session_pages::{acquired, new_license};
use super::store::{assert_not_found, audit, license, now, ok, session, tenant};
use crate::error::Resource;
use crate::ids::{SessionId, TenantId};
use crate::license::License;
use crate::page::{Page, SessionCursor};
use crate::quota::TenantQuotas;
use crate::seat_rules::SeatRules;
use crate::session::{EndReason, Eviction, Session, SessionEnd};
use crate::store::{Store, UsagePeak, WriteBehindBatch};

/// Runs every seat-rules check.
pub(super) async fn seat_rules(store: &dyn Store) {
    rules_round_trip(store).await;
    borrowed_and_overdraft_round_trip(store).await;
    first_end_records_linger_and_eviction(store).await;
    lingering_and_held_off_sessions_in_force(store).await;
    borrowed_sessions_come_in_pages(store).await;
    overdraft_sessions_of_a_period(store).await;
    overdraft_peak_is_the_highest_flushed(store).await;
}

fn ids(sessions: &[Session]) -> Vec<SessionId> {
    sessions.iter().map(|s| s.id).collect()
}

/// `sessions` in the listings' order: `(acquired_at, id)`.
fn sorted(mut sessions: Vec<Session>) -> Vec<Session> {
    sessions.sort_by_key(|s| (s.acquired_at, s.id));
    sessions
}

async fn end(store: &dyn Store, tenant: TenantId, id: SessionId, end: &SessionEnd) -> Session {
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

/// Lingering seats and hold-offs still in force at `now`, of the tenant's license only.
async fn lingering_and_held_off_sessions_in_force(store: &dyn Store) {
    let a = tenant(store, "Linger A").await;
    let b = tenant(store, "Linger B").await;
    let l = new_license(store, a.id, "LINGER-A-0001").await;
    let other = new_license(store, a.id, "LINGER-A-0002").await;
    let lb = new_license(store, b.id, "LINGER-B-0001").await;
    let t0 = now();
    let exp = t0 + TimeDelta::minutes(10);
    let lingers = |until: DateTime<Utc>| SessionEnd {
        linger_until: Some(until),
        ..SessionEnd::new(t0, EndReason::Released)
    };
    let held = |until: Option<DateTime<Utc>>| SessionEnd {
        eviction: Some(Eviction {
            reason: "held".into(),
            hold_until: until,
        }),
        ..SessionEnd::new(t0, EndReason::Evicted)
    };

    // In force: until later than now (one second, and an hour).
    let mut lingering = Vec::new();
    let mut held_off = Vec::new();
    for (i, secs) in [1, 3600].into_iter().enumerate() {
        let s = acquired(store, &l, &format!("hw-l{i}"), t0, exp, 0).await;
        lingering.push(end(store, a.id, s.id, &lingers(t0 + TimeDelta::seconds(secs))).await);
        let s = acquired(store, &l, &format!("hw-h{i}"), t0, exp, 0).await;
        let until = Some(t0 + TimeDelta::seconds(secs));
        held_off.push(end(store, a.id, s.id, &held(until)).await);
    }
    // Over (until at or before now), no hold, no linger, still live.
    for (i, until) in [t0, t0 - TimeDelta::seconds(1)].into_iter().enumerate() {
        let s = acquired(store, &l, &format!("hw-lo{i}"), t0, exp, 0).await;
        end(store, a.id, s.id, &lingers(until)).await;
        let s = acquired(store, &l, &format!("hw-ho{i}"), t0, exp, 0).await;
        end(store, a.id, s.id, &held(Some(until))).await;
    }
    let s = acquired(store, &l, "hw-no-hold", t0, exp, 0).await;
    end(store, a.id, s.id, &held(None)).await;
    let s = acquired(store, &l, "hw-released", t0, exp, 0).await;
    end(store, a.id, s.id, &SessionEnd::new(t0, EndReason::Released)).await;
    acquired(store, &l, "hw-live", t0, exp, 0).await;
    // Another license of the tenant, and another tenant's license.
    for (tenant, lic) in [(a.id, &other), (b.id, &lb)] {
        let s = acquired(store, lic, "hw-elsewhere-l", t0, exp, 0).await;
        end(store, tenant, s.id, &lingers(t0 + TimeDelta::hours(1))).await;
        let s = acquired(store, lic, "hw-elsewhere-h", t0, exp, 0).await;
        end(store, tenant, s.id, &held(Some(t0 + TimeDelta::hours(1)))).await;
    }

    let lingering = sorted(lingering);
    let found = ok(store.lingering_sessions(a.id, l.id, t0).await, "lingering");
    assert_eq!(
        ids(&found),
        ids(&lingering),
        "the license's seats lingering after now"
    );
    assert_eq!(found, lingering, "whole sessions");
    let held_off = sorted(held_off);
    let found = ok(store.held_off_sessions(a.id, l.id, t0).await, "held off");
    assert_eq!(
        ids(&found),
        ids(&held_off),
        "the license's hold-offs in force after now"
    );
    assert_eq!(found, held_off, "whole sessions");
    assert!(
        ok(
            store.lingering_sessions(b.id, l.id, t0).await,
            "foreign lingering"
        )
        .is_empty()
            && ok(
                store.held_off_sessions(b.id, l.id, t0).await,
                "foreign held"
            )
            .is_empty(),
        "another tenant sees none of them"
    );
    let later = t0 + TimeDelta::seconds(1);
    assert_eq!(
        ok(store.lingering_sessions(a.id, l.id, later).await, "later").len(),
        1,
        "a linger ending at now is over"
    );
    assert_eq!(
        ok(store.held_off_sessions(a.id, l.id, later).await, "later").len(),
        1,
        "a hold ending at now is over"
    );
}

/// Live borrowed sessions only, paged like the live sessions.
async fn borrowed_sessions_come_in_pages(store: &dyn Store) {
    let a = tenant(store, "Borrow A").await;
    let b = tenant(store, "Borrow B").await;
    let l = new_license(store, a.id, "BORROW-A-0001").await;
    let other = new_license(store, a.id, "BORROW-A-0002").await;
    let t0 = now();
    let exp = t0 + TimeDelta::days(7);
    let borrow = |lic: &License, hw: &str, at: DateTime<Utc>, expires_at: DateTime<Utc>| Session {
        acquired_at: at,
        last_heartbeat_at: at,
        borrowed: true,
        ..session(lic, hw, expires_at)
    };

    let mut live = Vec::new();
    for (i, at) in [0, 0, -5, 3, 0].into_iter().enumerate() {
        let s = borrow(&l, &format!("hw-b{i}"), t0 + TimeDelta::seconds(at), exp);
        ok(store.insert_session(&s, 0).await, "insert borrowed");
        live.push(s);
    }
    // Not listed: held (not borrowed), returned, past its end, another license's.
    acquired(store, &l, "hw-held", t0, exp, 0).await;
    let returned = borrow(&l, "hw-returned", t0, exp);
    ok(store.insert_session(&returned, 0).await, "insert returned");
    end(
        store,
        a.id,
        returned.id,
        &SessionEnd::new(t0, EndReason::Released),
    )
    .await;
    let over = borrow(&l, "hw-over", t0 - TimeDelta::days(8), t0);
    ok(store.insert_session(&over, 0).await, "insert over");
    let elsewhere = borrow(&other, "hw-elsewhere", t0, exp);
    ok(
        store.insert_session(&elsewhere, 0).await,
        "insert elsewhere",
    );

    let expected = ids(&sorted(live));
    let page = |tenant: TenantId, after: Option<SessionCursor>, limit: u32| {
        store.borrowed_sessions_page(tenant, l.id, t0, Page::new(after, limit))
    };
    let all = ok(page(a.id, None, 100).await, "borrowed page");
    assert_eq!(
        ids(&all),
        expected,
        "live borrowed sessions, by (acquired_at, id)"
    );
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let got = ok(page(a.id, after, 2).await, "borrowed page of 2");
        assert!(got.len() <= 2, "a page never exceeds its limit");
        seen.extend(ids(&got));
        match got.last() {
            Some(last) if got.len() == 2 => after = Some(SessionCursor::after(last)),
            _ => break,
        }
    }
    assert_eq!(seen, expected, "every live borrowed session once, in order");
    assert!(
        ok(page(b.id, None, 100).await, "foreign page").is_empty(),
        "another tenant sees none of them"
    );
    let live_all = ok(
        store
            .live_sessions_page(a.id, l.id, t0, Page::new(None, 100))
            .await,
        "live page",
    );
    assert_eq!(
        live_all.len(),
        6,
        "the live listing still holds every live seat"
    );
}

/// Overdraft sessions that held their seat at some time in `[from, to)`.
async fn overdraft_sessions_of_a_period(store: &dyn Store) {
    let a = tenant(store, "Overdraft A").await;
    let b = tenant(store, "Overdraft B").await;
    let l = new_license(store, a.id, "OVER-A-0001").await;
    let other = new_license(store, a.id, "OVER-A-0002").await;
    let from = now();
    let to = from + TimeDelta::hours(1);
    let min = TimeDelta::minutes;
    // (name, acquired, ended (None: live), expires, in the period?)
    let cases = [
        (
            "ended-before",
            from - min(30),
            Some(from - min(5)),
            to,
            false,
        ),
        ("ended-at-from", from - min(30), Some(from), to, false),
        (
            "ended-inside",
            from - min(30),
            Some(from + min(5)),
            to,
            true,
        ),
        ("ended-after", from - min(30), Some(to + min(5)), to, true),
        ("live-expired-before", from - min(30), None, from, false),
        (
            "live-across-from",
            from - min(30),
            None,
            from + min(1),
            true,
        ),
        ("live-inside", from + min(10), None, to + min(10), true),
        ("acquired-at-to", to, None, to + min(10), false),
        ("acquired-after", to + min(1), None, to + min(10), false),
    ];
    let mut inside = Vec::new();
    for (i, (hw, at, ended, expires_at, expected)) in cases.into_iter().enumerate() {
        let s = Session {
            // Half inserted marked, half marked afterwards: both count.
            overdraft: i % 2 == 0,
            ..acquired_at(&l, hw, at, expires_at)
        };
        ok(store.insert_session(&s, 0).await, "insert overdraft");
        if !s.overdraft {
            ok(store.mark_overdraft(a.id, s.id).await, "mark overdraft");
        }
        if let Some(ended) = ended {
            end(
                store,
                a.id,
                s.id,
                &SessionEnd::new(ended, EndReason::Released),
            )
            .await;
        }
        if expected {
            inside.push(ok(store.get_session(a.id, s.id).await, "get"));
        }
    }
    // Inside the period but not overdraft, or another license's.
    let plain = acquired_at(&l, "plain", from, to);
    ok(store.insert_session(&plain, 0).await, "insert plain");
    let elsewhere = Session {
        overdraft: true,
        ..acquired_at(&other, "elsewhere", from, to)
    };
    ok(
        store.insert_session(&elsewhere, 0).await,
        "insert elsewhere",
    );

    let found = ok(
        store.overdraft_sessions(a.id, l.id, from, to).await,
        "overdraft sessions",
    );
    let names =
        |s: &[Session]| -> Vec<String> { s.iter().map(|s| s.hardware_id.to_string()).collect() };
    assert_eq!(
        names(&found),
        names(&sorted(inside.clone())),
        "acquired before `to` and ended (or expiring) after `from`"
    );
    assert_eq!(found, sorted(inside), "whole sessions");
    assert!(
        ok(
            store.overdraft_sessions(b.id, l.id, from, to).await,
            "foreign"
        )
        .is_empty(),
        "another tenant sees none of them"
    );
}

fn acquired_at(l: &License, hw: &str, at: DateTime<Utc>, expires_at: DateTime<Utc>) -> Session {
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
