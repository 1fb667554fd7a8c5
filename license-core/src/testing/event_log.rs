//! The event log in the `Store` contract: entries numbered from 1 without gaps and linked per
//! tenant, kept byte for byte, read in ranges; replicas appending at once never fork a chain.

use futures::future::join_all;

use super::store::{now, ok, tenant};
use crate::error::{Error, Resource};
use crate::event_log::{ChainHash, NewLogEntry, verify_chain};
use crate::ids::{LicenseId, TenantId};
use crate::log_retention::{DayFigures, KeptDay, LogCut};
use crate::store::Store;
use crate::usage_report::ReportRow;
use chrono::NaiveDate;

fn entry(replica: &str, n: usize) -> NewLogEntry {
    NewLogEntry {
        at: now(),
        replica: replica.into(),
        // Text a re-serialization would change (spacing, key order, escapes): kept as is.
        body: format!(r#"{{"type":"granted", "n":{n},"a":"é\u00e9"}}"#),
    }
}

pub(super) async fn event_log(store: &dyn Store) {
    let a = tenant(store, "Weyland").await;
    let b = tenant(store, "Yutani").await;
    assert_eq!(
        ok(store.read_events(a.id, 0, 10).await, "empty log"),
        [],
        "a new tenant's log is empty"
    );
    assert_eq!(ok(store.append_events(a.id, vec![]).await, "nothing"), 0);
    let batch: Vec<_> = (0..3).map(|n| entry("r1", n)).collect();
    assert_eq!(
        ok(store.append_events(a.id, batch.clone()).await, "append"),
        3
    );
    assert_eq!(
        ok(store.append_events(b.id, vec![entry("r2", 9)]).await, "b"),
        1
    );
    assert_eq!(
        ok(
            store.append_events(a.id, vec![entry("r2", 3)]).await,
            "more"
        ),
        4
    );
    let log = ok(store.read_events(a.id, 0, 100).await, "read");
    assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(log[0].prev_hash, ChainHash::GENESIS);
    assert_eq!(log[1].body, batch[1].body, "the body is kept byte for byte");
    assert_eq!(log[3].replica, "r2");
    assert_eq!(verify_chain(&log, None), Ok(()), "one chain per tenant");
    let range = ok(store.read_events(a.id, 1, 2).await, "range");
    assert_eq!(range.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(ok(store.read_events(a.id, 4, 10).await, "past the end"), []);
    let theirs = ok(store.read_events(b.id, 0, 10).await, "b's");
    assert_eq!(theirs.len(), 1, "b sees only its own log");
    assert_eq!(
        theirs[0].prev_hash,
        ChainHash::GENESIS,
        "b's chain starts anew"
    );
    match store
        .append_events(TenantId::new(), vec![entry("r1", 0)])
        .await
    {
        Err(Error::NotFound(Resource::Tenant)) => {}
        other => panic!("appending to no tenant: {other:?}"),
    }
    concurrent_appends_never_fork_the_chain(store).await;
    trimming(store).await;
}

fn kept_day(license: LicenseId, day: NaiveDate, peak: u32) -> KeptDay {
    let row = ReportRow {
        start: day.and_time(chrono::NaiveTime::MIN).and_utc(),
        key: Some("ada@example.com".into()),
        peak_seats: peak,
        seat_seconds: 3_600,
        overdraft_seat_seconds: 60,
        denials: 1,
        queue_waits: 2,
        queue_waits_seated: 1,
        queue_wait_seconds: 90,
    };
    KeptDay {
        license_id: license,
        day,
        figures: DayFigures {
            license: vec![ReportRow {
                key: None,
                ..row.clone()
            }],
            user: vec![row],
            events_lost: 4,
            through_seq: 2,
            through_hash: ChainHash::from_slice(&[7; 32]).unwrap_or(ChainHash::GENESIS),
            ..DayFigures::default()
        },
    }
}

/// The retention's cut: the figures kept, the cut recorded, the entries up to it deleted in
/// one step; the log goes on numbering after its last entry, even when all were deleted.
async fn trimming(store: &dyn Store) {
    let t = tenant(store, "Trimmed").await;
    let other = tenant(store, "Untouched").await;
    let (license, second) = (LicenseId::new(), LicenseId::new());
    ok(
        store
            .append_events(t.id, (0..5).map(|n| entry("r1", n)).collect())
            .await,
        "five",
    );
    ok(
        store.append_events(other.id, vec![entry("r1", 0)]).await,
        "other's",
    );
    assert_eq!(ok(store.log_cut(t.id).await, "no cut yet"), None);
    let log = ok(store.read_events(t.id, 0, 10).await, "read");
    let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or(NaiveDate::MIN);
    let cut = LogCut {
        seq: 3,
        hash: log[2].hash,
        at: log[2].at,
        kept_from: day(3),
        carry: vec![r#"{"type":"granted", "kept":"as is"}"#.into()],
    };
    let days = [
        kept_day(license, day(1), 2),
        kept_day(license, day(2), 3),
        kept_day(second, day(2), 1),
    ];
    assert_eq!(
        ok(store.trim_events(t.id, None, &cut, &days).await, "trim"),
        3
    );
    assert_eq!(ok(store.log_cut(t.id).await, "the cut"), Some(cut.clone()));
    // A second replica's trim computed before this one: refused, nothing changed.
    let stale = LogCut {
        seq: 4,
        ..cut.clone()
    };
    match store.trim_events(t.id, None, &stale, &days).await {
        Err(Error::Conflict(_)) => {}
        other => panic!("a trim from a stale cut: {other:?}"),
    }
    assert_eq!(
        ok(store.log_cut(t.id).await, "unchanged"),
        Some(cut.clone())
    );
    let kept = ok(store.read_events(t.id, 0, 10).await, "kept");
    assert_eq!(kept.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5]);
    assert_eq!(verify_chain(&kept, Some((cut.seq, cut.hash))), Ok(()));
    assert_eq!(
        ok(
            store.kept_days(t.id, license, day(1), day(30)).await,
            "days"
        ),
        days[..2],
        "a license's days, oldest first, kept field for field"
    );
    assert_eq!(
        ok(
            store.kept_days(t.id, license, day(2), day(2)).await,
            "one day"
        ),
        days[1..2]
    );
    assert_eq!(
        ok(
            store.kept_days(other.id, license, day(1), day(30)).await,
            "other"
        ),
        []
    );
    assert_eq!(
        ok(store.read_events(other.id, 0, 10).await, "other's log").len(),
        1
    );

    // A later cut past every entry: the figures of a day given again are replaced, the
    // numbering goes on from the last entry.
    let all = LogCut {
        seq: 5,
        hash: kept[1].hash,
        at: kept[1].at,
        kept_from: day(4),
        carry: Vec::new(),
    };
    let again = [kept_day(license, day(2), 9), kept_day(license, day(3), 1)];
    assert_eq!(
        ok(
            store.trim_events(t.id, Some(3), &all, &again).await,
            "trim all"
        ),
        2
    );
    assert_eq!(ok(store.read_events(t.id, 0, 10).await, "nothing kept"), []);
    let kept_days = ok(
        store.kept_days(t.id, license, day(1), day(30)).await,
        "days",
    );
    assert_eq!(
        kept_days
            .iter()
            .map(|d| d.figures.license[0].peak_seats)
            .collect::<Vec<_>>(),
        [2, 9, 1]
    );
    assert_eq!(
        ok(
            store.append_events(t.id, vec![entry("r1", 6)]).await,
            "after"
        ),
        6
    );
    let next = ok(store.read_events(t.id, 0, 10).await, "the next");
    assert_eq!(
        verify_chain(&next, Some((all.seq, all.hash))),
        Ok(()),
        "linked to the cut"
    );
    match store.trim_events(TenantId::new(), None, &all, &[]).await {
        Err(Error::NotFound(Resource::Tenant)) => {}
        other => panic!("trimming no tenant's log: {other:?}"),
    }
}

/// Eight writers (replicas) appending batches to one tenant at once: every entry numbered
/// once, in one chain.
async fn concurrent_appends_never_fork_the_chain(store: &dyn Store) {
    let t = tenant(store, "Concurrent").await;
    let writers = (0..8).map(|w| {
        let replica = format!("r{w}");
        async move {
            for round in 0..5 {
                let batch = (0..3).map(|n| entry(&replica, round * 3 + n)).collect();
                ok(store.append_events(t.id, batch).await, "concurrent append");
            }
        }
    });
    join_all(writers).await;
    let log = ok(store.read_events(t.id, 0, 1_000).await, "read all");
    assert_eq!(log.len(), 8 * 5 * 3, "every entry kept once");
    assert_eq!(verify_chain(&log, None), Ok(()), "one unbroken chain");
}
