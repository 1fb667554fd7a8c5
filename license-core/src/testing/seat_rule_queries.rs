//! The seat rules' queries in the store contract: lingering seats and hold-offs in force,
//! live borrowed sessions page by page, and overdraft sessions of a period.

use chrono::{DateTime, TimeDelta, Utc};

use super::seat_rules::{acquired_at, end, ids, sorted};
use super::session_pages::{acquired, new_license};
use super::store::{assert_not_found, now, ok, session, tenant};
use crate::error::Resource;
use crate::ids::TenantId;
use crate::license::License;
use crate::page::{Page, SessionCursor};
use crate::session::{EndReason, Eviction, Session, SessionEnd};
use crate::store::Store;

/// Lingering seats and hold-offs still in force at `now`, of the tenant's license only.
pub(super) async fn lingering_and_held_off_sessions_in_force(store: &dyn Store) {
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
    // Its machine takes a seat back: the linger ends then, and only for the tenant's session.
    let longest = lingering[lingering.len() - 1].id;
    assert_not_found(
        store.end_linger(b.id, longest, t0).await,
        Resource::Session,
        "end_linger of another tenant's session",
    );
    ok(store.end_linger(a.id, longest, t0).await, "end_linger");
    let after = ok(store.lingering_sessions(a.id, l.id, t0).await, "after");
    assert_eq!(
        ids(&after),
        ids(&lingering[..lingering.len() - 1]),
        "a linger its machine took back is over"
    );
    // Never moved later: ending it again at a later time changes nothing.
    ok(
        store.end_linger(a.id, longest, later).await,
        "end_linger again",
    );
    let again = ok(store.get_session(a.id, longest).await, "get");
    assert_eq!(again.linger_until, Some(t0));
}

/// Live borrowed sessions only, paged like the live sessions.
pub(super) async fn borrowed_sessions_come_in_pages(store: &dyn Store) {
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
pub(super) async fn overdraft_sessions_of_a_period(store: &dyn Store) {
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
