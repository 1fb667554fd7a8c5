//! Pages of live sessions, and deleting ended sessions, in the store contract.

use chrono::{DateTime, TimeDelta, Utc};
use futures::future::join;

use super::store::{assert_not_found, audit, license, now, ok, session, tenant};
use crate::SessionEnd;
use crate::error::Resource;
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::license::License;
use crate::page::{Page, SessionCursor};
use crate::quota::TenantQuotas;
use crate::session::{EndReason, Session};
use crate::store::Store;

pub(super) async fn new_license(store: &dyn Store, tenant: TenantId, key: &str) -> License {
    let l = license(tenant, key, 100);
    let event = audit(tenant, "license.create", now());
    ok(
        store
            .create_license(&l, &TenantQuotas::UNLIMITED, &event)
            .await,
        "license",
    );
    l
}

/// A session of `l` acquired at `at`, recorded with `in_use` seats taken.
pub(super) async fn acquired(
    store: &dyn Store,
    l: &License,
    hw: &str,
    at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    in_use: u32,
) -> Session {
    let s = Session {
        acquired_at: at,
        last_heartbeat_at: at,
        ..session(l, hw, expires_at)
    };
    ok(store.insert_session(&s, in_use).await, "insert session");
    s
}

async fn page(
    store: &dyn Store,
    tenant: TenantId,
    license: LicenseId,
    at: DateTime<Utc>,
    after: Option<SessionCursor>,
    limit: u32,
) -> Vec<Session> {
    ok(
        store
            .live_sessions_page(tenant, license, at, Page::new(after, limit))
            .await,
        "live_sessions_page",
    )
}

/// Live sessions only, of this tenant's license only, ordered by `(acquired_at, id)`; paging
/// with the last session's cursor returns each exactly once, ties included.
pub(super) async fn live_sessions_come_in_pages(store: &dyn Store) {
    let a = tenant(store, "Pages A").await;
    let b = tenant(store, "Pages B").await;
    let l = new_license(store, a.id, "PAGES-A-0001").await;
    let other = new_license(store, a.id, "PAGES-A-0002").await;
    let lb = new_license(store, b.id, "PAGES-B-0001").await;
    let t0 = now();
    let exp = t0 + TimeDelta::minutes(10);

    // Three acquired in the same second (ties broken by id), two before, two after.
    let mut live = Vec::new();
    for (i, at) in [0, 0, 0, -5, -5, 7, 9].into_iter().enumerate() {
        let at = t0 + TimeDelta::seconds(at);
        live.push(acquired(store, &l, &format!("hw-{i}"), at, exp, 0).await);
    }
    // Not live: ended, and expired; not this license's; not this tenant's.
    let ended = acquired(store, &l, "hw-ended", t0, exp, 0).await;
    let event = audit(a.id, "session.end", t0);
    ok(
        store
            .end_session(
                a.id,
                ended.id,
                &SessionEnd::new(t0, EndReason::Released),
                Some(&event),
            )
            .await,
        "end",
    );
    acquired(store, &l, "hw-expired", t0, t0 - TimeDelta::seconds(1), 0).await;
    acquired(store, &other, "hw-other", t0, exp, 0).await;
    acquired(store, &lb, "hw-b", t0, exp, 0).await;

    live.sort_by_key(|s| (s.acquired_at, s.id));
    let expected: Vec<SessionId> = live.iter().map(|s| s.id).collect();

    let all = page(store, a.id, l.id, t0, None, 500).await;
    assert_eq!(
        all.iter().map(|s| s.id).collect::<Vec<_>>(),
        expected,
        "live sessions of the license, by (acquired_at, id)"
    );
    assert_eq!(all[0], live[0], "pages hold whole sessions");

    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let got = page(store, a.id, l.id, t0, after, 3).await;
        assert!(got.len() <= 3, "a page never exceeds its limit");
        pages += 1;
        seen.extend(got.iter().map(|s| s.id));
        match got.last() {
            Some(last) if got.len() == 3 => after = Some(SessionCursor::after(last)),
            _ => break,
        }
    }
    assert_eq!(seen, expected, "every live session exactly once, in order");
    assert_eq!(pages, 3, "7 sessions in pages of 3");

    assert!(
        page(store, b.id, l.id, t0, None, 500).await.is_empty(),
        "another tenant sees none of them"
    );
    // A cursor naming no stored session still pages by its position.
    let between = SessionCursor {
        acquired_at: t0 + TimeDelta::seconds(8),
        id: SessionId::new(),
    };
    let tail = page(store, a.id, l.id, t0, Some(between), 10).await;
    assert_eq!(tail.iter().map(|s| s.id).collect::<Vec<_>>(), expected[6..]);
}

/// Sessions that ended before the cut-off are deleted in bounded batches, once each under
/// concurrent callers; live and recently ended sessions, other tenants' sessions and the daily
/// usage figures stay.
pub(super) async fn ended_sessions_are_deleted_and_usage_kept(store: &dyn Store) {
    let a = tenant(store, "Retention A").await;
    let b = tenant(store, "Retention B").await;
    let l = new_license(store, a.id, "RETAIN-A-0001").await;
    let lb = new_license(store, b.id, "RETAIN-B-0001").await;
    let t0 = now();
    let long_ago = t0 - TimeDelta::days(100);
    let day = long_ago.date_naive();
    let cutoff = t0 - TimeDelta::days(90);

    let end = |s: &Session, at: DateTime<Utc>| {
        let (tenant, id) = (s.tenant_id, s.id);
        async move {
            ok(
                store
                    .end_session(tenant, id, &SessionEnd::new(at, EndReason::Released), None)
                    .await,
                "end",
            );
        }
    };
    let mut old = Vec::new();
    for i in 0..10 {
        let s = acquired(
            store,
            &l,
            &format!("old-{i}"),
            long_ago,
            long_ago + TimeDelta::minutes(6),
            i + 1,
        )
        .await;
        end(&s, long_ago + TimeDelta::minutes(1)).await;
        old.push(s);
    }
    ok(store.record_denial(a.id, l.id, long_ago).await, "denial");
    let recent = acquired(store, &l, "recent", t0 - TimeDelta::days(2), t0, 1).await;
    end(&recent, t0 - TimeDelta::days(1)).await;
    let live = acquired(store, &l, "live", long_ago, t0 + TimeDelta::minutes(6), 1).await;
    let theirs = acquired(store, &lb, "theirs", long_ago, long_ago, 1).await;
    end(&theirs, long_ago).await;

    let usage_before = ok(store.usage(a.id, l.id, day, day).await, "usage");
    assert_eq!(
        usage_before
            .iter()
            .map(|u| (u.peak_seats, u.denials))
            .collect::<Vec<_>>(),
        [(10, 1)]
    );

    let first = ok(
        store.delete_ended_sessions(a.id, cutoff, 3).await,
        "delete a batch",
    );
    assert_eq!(first, 3, "a batch deletes at most its limit");
    let mut total = first;
    loop {
        let (x, y) = join(
            store.delete_ended_sessions(a.id, cutoff, 2),
            store.delete_ended_sessions(a.id, cutoff, 2),
        )
        .await;
        let (x, y) = (ok(x, "deleter 1"), ok(y, "deleter 2"));
        assert!(x <= 2 && y <= 2, "a batch never exceeds its limit");
        total += x + y;
        if x + y == 0 {
            break;
        }
    }
    assert_eq!(total, 10, "each old session deleted exactly once");
    for s in &old {
        assert_not_found(
            store.get_session(a.id, s.id).await,
            Resource::Session,
            "a deleted session",
        );
    }
    ok(
        store.get_session(a.id, recent.id).await,
        "ended within the retention",
    );
    ok(
        store.get_session(a.id, live.id).await,
        "live, acquired long ago",
    );
    ok(store.get_session(b.id, theirs.id).await, "another tenant's");
    assert_eq!(
        ok(store.usage(a.id, l.id, day, day).await, "usage after"),
        usage_before,
        "deleting sessions changes no usage figure"
    );
}
