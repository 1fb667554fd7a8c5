//! A week of seat events, trimmed twice: every daily report and statement of every day reads
//! the same before and after, and the kept log still verifies from the cut.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta, TimeZone};

use super::*;
use crate::admin::AdminService;
use crate::event_log::{EventLogStore, NewLogEntry, verify_chain};
use crate::events::{DenialReason, QueueEndReason, SeatEvent, SeatEventKind};
use crate::ids::SessionId;

use crate::memory::{MemoryLedger, MemoryStore};
use crate::usage_report::{Bucket, ReportQuery, UsageReport};
use crate::{Actor, LocalSigner, ManualClock, NewLicense, SeatCount, SigningAlgorithm};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

/// A small deterministic generator (no seed to keep).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

struct World {
    service: LicenseService,
    admin: AdminService,
    store: Arc<MemoryStore>,
    tenant: TenantId,
    licenses: [LicenseId; 2],
}

async fn world() -> World {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let store = Arc::new(MemoryStore::default());
    let ledger = Arc::new(MemoryLedger::new(clock.clone()));
    let root = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap());
    let service = LicenseService::new(store.clone(), ledger, root, clock.clone(), "acme");
    let admin = AdminService::new(store.clone(), clock.clone());
    let tenant = admin.create_tenant("Acme", &Actor::Operator).await.unwrap();
    let mut licenses = [LicenseId::new(); 2];
    for (i, id) in licenses.iter_mut().enumerate() {
        let new = NewLicense::new(&format!("L{i}"), SeatCount::new(3).unwrap());
        *id = admin
            .create_license(tenant.id, new, &Actor::Operator)
            .await
            .unwrap()
            .id;
    }
    // The trims run on the 8th at noon.
    clock.set(start + TimeDelta::days(7) + TimeDelta::hours(12));
    World {
        service,
        admin,
        store,
        tenant: tenant.id,
        licenses,
    }
}

/// Six days of events on two licenses: seats of a few minutes to a day and a half (across
/// midnights), some reaped with an earlier `ended_at`, releases logged before their grants
/// (as another replica's batch may land first), denials, waits seated or given up, writer
/// drops, and a checkpoint entry every hour.
async fn six_days(w: &World) {
    let mut rng = Lcg(7);
    let mut events: Vec<SeatEvent> = Vec::new();
    let base = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    for n in 0..120 {
        let license = w.licenses[usize::from(rng.next(3) == 0)];
        let start = base + TimeDelta::minutes(i64::try_from(rng.next(6 * 24 * 60)).unwrap());
        let minutes = if n % 10 == 0 {
            36 * 60
        } else {
            5 + rng.next(300)
        };
        let end = start + TimeDelta::minutes(i64::try_from(minutes).unwrap());
        let user = format!("u{}", rng.next(4));
        let id = SessionId::new();
        let on = |at, kind| {
            SeatEvent::new(at, w.tenant, kind)
                .license(license)
                .session(id)
                .hardware(&format!("pc-{user}"))
                .user(&format!("{user}@example.com"))
        };
        if n % 7 == 0 {
            let wait_until = start + TimeDelta::minutes(30);
            events.push(on(
                start - TimeDelta::minutes(10),
                SeatEventKind::Queued {
                    position: 1,
                    wait_until,
                },
            ));
        }
        if n % 11 == 0 {
            let gone = SeatEventKind::QueueEnded {
                reason: QueueEndReason::Left,
            };
            events.push(on(
                start - TimeDelta::minutes(20),
                SeatEventKind::Queued {
                    position: 2,
                    wait_until: start,
                },
            ));
            events.push(on(start - TimeDelta::minutes(5), gone));
            continue;
        }
        events.push(on(start, SeatEventKind::Granted { in_use: 1 }));
        if n % 5 == 0 {
            events.push(on(start, SeatEventKind::Overdraft { over_by: 1 }));
        }
        if n % 13 == 0 {
            // Another replica's release lands first, a minute "early" on record.
            events.push(on(
                start - TimeDelta::seconds(30),
                SeatEventKind::Denied {
                    reason: DenialReason::NoSeats,
                },
            ));
        }
        let freed = match n % 3 {
            0 => on(
                end + TimeDelta::minutes(20),
                SeatEventKind::Expired {
                    ended_at: Some(end),
                },
            ),
            1 => on(
                end,
                SeatEventKind::Evicted {
                    reason: "audit".into(),
                    hold_until: None,
                },
            ),
            _ => on(end, SeatEventKind::Released),
        };
        events.push(freed);
        if n % 17 == 0 {
            events.push(SeatEvent::new(
                start,
                w.tenant,
                SeatEventKind::EventsLost { count: 2 },
            ));
        }
    }
    // Hourly checkpoints (a trim cuts only at one; their JWS is not read by it).
    for hour in 0..(7 * 24) {
        let kind = SeatEventKind::Checkpoint {
            seq: 0,
            hash: ChainHash::GENESIS,
            checkpoint: "x.y.z".into(),
        };
        events.push(SeatEvent::new(
            base + TimeDelta::hours(hour),
            w.tenant,
            kind,
        ));
    }
    // On record roughly in time order, as replicas' batches land: by time, then swapped in
    // pairs within a minute or two.
    events.sort_by_key(|e| e.at);
    for i in (1..events.len()).step_by(9) {
        if events[i].at - events[i - 1].at < TimeDelta::minutes(2) {
            events.swap(i, i - 1);
        }
    }
    // Entries are logged when they happen: nothing after the trims' "now".
    let now = Utc.with_ymd_and_hms(2026, 11, 8, 12, 0, 0).unwrap();
    let entries = events
        .into_iter()
        .filter(|e| e.at < now)
        .map(|e| NewLogEntry {
            at: e.at,
            replica: "r1".into(),
            body: serde_json::to_string(&e).unwrap(),
        })
        .collect();
    w.store.append_events(w.tenant, entries).await.unwrap();
}

/// Every daily report that can be asked of the week, by every breakdown, and each day alone.
async fn reports(w: &World) -> Vec<UsageReport> {
    let mut all = Vec::new();
    for license in w.licenses {
        for by in [
            Breakdown::License,
            Breakdown::User,
            Breakdown::Host,
            Breakdown::Group,
        ] {
            for (from, to) in [(1, 8), (1, 3), (2, 6), (4, 7), (7, 8)] {
                let q = ReportQuery::new(license, day(from), day(to), Bucket::Day, by).unwrap();
                all.push(w.admin.usage_report(w.tenant, &q).await.unwrap());
            }
            for d in 1..=8 {
                let q = ReportQuery::new(license, day(d), day(d), Bucket::Day, by).unwrap();
                all.push(w.admin.usage_report(w.tenant, &q).await.unwrap());
            }
        }
    }
    all
}

#[tokio::test]
async fn reports_and_statements_read_the_same_after_the_log_is_trimmed() {
    let w = world().await;
    six_days(&w).await;
    let before = reports(&w).await;
    assert!(
        before
            .iter()
            .any(|r| r.rows.iter().any(|row| row.peak_seats > 1))
    );
    assert!(before.iter().any(|r| r.events_lost > 0));
    let statement = w
        .service
        .usage_statement(w.tenant, w.licenses[0], day(2))
        .await
        .unwrap()
        .claims;
    let head = w.store.append_events(w.tenant, Vec::new()).await.unwrap();

    // Keep 5 days (the 4th to the 8th): the 1st to the 3rd are aggregated and cut.
    let first = w.service.trim_event_log(w.tenant, 5).await.unwrap();
    // Two licenses, each day from the log's first (a wait began on October 31st) to the 3rd.
    assert_eq!(first.days, 2 * 4);
    assert!(first.entries > 0);
    let cut = w.store.log_cut(w.tenant).await.unwrap().unwrap();
    assert_eq!(cut.kept_from, day(4));
    assert!(cut.at < day(4).and_time(chrono::NaiveTime::MIN).and_utc());
    assert!(
        !cut.carry.is_empty(),
        "day-and-a-half seats are held across the cut"
    );
    assert_eq!(reports(&w).await, before);

    // Then keep 2: the 4th to the 6th go too, read from the first cut's carry onwards.
    let second = w.service.trim_event_log(w.tenant, 2).await.unwrap();
    assert_eq!(second.days, 2 * 3);
    assert_eq!(reports(&w).await, before);
    let again = w
        .service
        .usage_statement(w.tenant, w.licenses[0], day(2))
        .await
        .unwrap()
        .claims;
    assert_eq!(
        (again.iat, again.peak_seats),
        (statement.iat, statement.peak_seats)
    );
    assert_eq!(again, statement, "a settled day's statement says the same");

    // Nothing more to do until another day ends.
    assert_eq!(
        w.service.trim_event_log(w.tenant, 2).await.unwrap(),
        Trimmed::default()
    );

    // The kept log links to the cut and numbering goes on.
    let cut = w.store.log_cut(w.tenant).await.unwrap().unwrap();
    let kept = w.store.read_events(w.tenant, 0, 10_000).await.unwrap();
    assert_eq!(kept.first().unwrap().seq, cut.first_kept());
    assert_eq!(verify_chain(&kept, Some((cut.seq, cut.hash))), Ok(()));
    assert_eq!(kept.last().unwrap().seq, head);
    let next = NewLogEntry {
        at: Utc::now(),
        replica: "r1".into(),
        body: "{}".into(),
    };
    assert_eq!(
        w.store.append_events(w.tenant, vec![next]).await.unwrap(),
        head + 1
    );

    // Hourly figures went with the entries.
    let hourly = ReportQuery::new(
        w.licenses[0],
        day(3),
        day(7),
        Bucket::Hour,
        Breakdown::License,
    )
    .unwrap();
    let refused = w.admin.usage_report(w.tenant, &hourly).await.unwrap_err();
    assert_eq!(refused.code(), "invalid_input");
    assert!(refused.to_string().contains("from"), "{refused}");
}

#[tokio::test]
async fn nothing_is_cut_without_a_checkpoint_or_before_the_window() {
    let w = world().await;
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
    let granted = SeatEvent::new(at, w.tenant, SeatEventKind::Granted { in_use: 1 })
        .license(w.licenses[0])
        .session(SessionId::new());
    let entry = NewLogEntry {
        at,
        replica: "r1".into(),
        body: serde_json::to_string(&granted).unwrap(),
    };
    w.store.append_events(w.tenant, vec![entry]).await.unwrap();
    // No checkpoint: nothing deleted, nothing recorded.
    assert_eq!(
        w.service.trim_event_log(w.tenant, 1).await.unwrap(),
        Trimmed::default()
    );
    assert_eq!(w.store.log_cut(w.tenant).await.unwrap(), None);
    // A window longer than the log: nothing to do.
    assert_eq!(
        w.service.trim_event_log(w.tenant, 30).await.unwrap(),
        Trimmed::default()
    );
    // An empty log of another tenant is left alone by the pass over all tenants.
    let all = w.service.trim_event_logs(1).await.unwrap();
    assert_eq!(all, Trimmed::default());
}
