//! A hand-computed history: every figure below is worked out in the comments.
#![allow(clippy::unwrap_used)]

use chrono::{NaiveDate, TimeZone};

use super::*;
use crate::event_log::{LogEntry, NewLogEntry};
use crate::events::{DenialReason, SeatEvent, SeatEventKind};
use crate::ids::SessionId;
use crate::seat_policy::{Member, SeatGroup, SeatPolicy};

const DAY: u32 = 26;

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0)
        .unwrap()
}

struct History {
    tenant: TenantId,
    license: LicenseId,
    entries: Vec<LogEntry>,
}

impl History {
    fn push(&mut self, event: SeatEvent) {
        let prev = self.entries.last().map_or(ChainHash::GENESIS, |e| e.hash);
        let seq = self.entries.len() as u64 + 1;
        let new = NewLogEntry {
            at: event.at,
            replica: "r1".into(),
            body: serde_json::to_string(&event).unwrap(),
        };
        self.entries.push(LogEntry::link(seq, &prev, new));
    }

    fn seat(&mut self, when: DateTime<Utc>, id: SessionId, user: &str, kind: SeatEventKind) {
        let event = SeatEvent::new(when, self.tenant, kind)
            .license(self.license)
            .session(id)
            .hardware(&format!("pc-{user}"))
            .user(&format!("{user}@example.com"));
        self.push(event);
    }

    fn report(&self, bucket: Bucket, by: Breakdown, policy: &SeatPolicy) -> UsageReport {
        let day = NaiveDate::from_ymd_opt(2026, 11, DAY).unwrap();
        let query = ReportQuery::new(self.license, day, day, bucket, by).unwrap();
        let mut builder = fold::ReportBuilder::new(&query, policy);
        for entry in &self.entries {
            builder.add(entry).unwrap();
        }
        builder.finish(at(DAY + 1, 12, 0))
    }
}

/// Seats on the 26th: eve 00:00 (granted the day before) – 09:15; ada 09:00–10:00; bob
/// 09:30–10:20 (the reaper found him dead at 10:40); cy denied at 09:45, queued 09:50, seated
/// 10:00 – 12:00; dan 11:00–11:30 in the overdraft, evicted. Another license's seat and 3
/// lost events on the side.
fn history() -> History {
    let mut h = History {
        tenant: TenantId::new(),
        license: LicenseId::new(),
        entries: Vec::new(),
    };
    let [eve, ada, bob, cy, dan, other] = [(); 6].map(|()| SessionId::new());
    let granted = SeatEventKind::Granted { in_use: 1 };
    h.push(SeatEvent::new(
        at(DAY - 1, 8, 0),
        h.tenant,
        SeatEventKind::EventsLost { count: 3 },
    ));
    h.seat(at(DAY - 1, 23, 0), eve, "eve", granted.clone());
    h.seat(at(DAY, 9, 0), ada, "ada", granted.clone());
    h.seat(at(DAY, 9, 15), eve, "eve", SeatEventKind::Released);
    h.seat(at(DAY, 9, 30), bob, "bob", granted.clone());
    let mut foreign = SeatEvent::new(at(DAY, 9, 40), h.tenant, granted.clone()).session(other);
    foreign.license_id = Some(LicenseId::new());
    h.push(foreign);
    let denied = SeatEvent::new(
        at(DAY, 9, 45),
        h.tenant,
        SeatEventKind::Denied {
            reason: DenialReason::NoSeats,
        },
    )
    .license(h.license)
    .hardware("pc-cy")
    .user("cy@example.com");
    h.push(denied);
    let queued = SeatEventKind::Queued {
        position: 1,
        wait_until: at(DAY, 10, 50),
    };
    h.seat(at(DAY, 9, 50), cy, "cy", queued);
    h.seat(at(DAY, 10, 0), ada, "ada", SeatEventKind::Released);
    h.seat(at(DAY, 10, 0), cy, "cy", granted.clone());
    let reaped = SeatEventKind::Expired {
        ended_at: Some(at(DAY, 10, 20)),
    };
    h.seat(at(DAY, 10, 40), bob, "bob", reaped);
    h.seat(at(DAY, 11, 0), dan, "dan", granted.clone());
    h.seat(
        at(DAY, 11, 0),
        dan,
        "dan",
        SeatEventKind::Overdraft { over_by: 1 },
    );
    let evicted = SeatEventKind::Evicted {
        reason: "audit".into(),
        hold_until: None,
    };
    h.seat(at(DAY, 11, 30), dan, "dan", evicted);
    h.seat(at(DAY, 12, 0), cy, "cy", SeatEventKind::Released);
    // After the period: not counted.
    h.seat(at(DAY + 1, 1, 0), ada, "ada", granted);
    h
}

fn row(r: &ReportRow) -> (u32, u64, u64, u32, u32, u32, u64) {
    (
        r.peak_seats,
        r.seat_seconds,
        r.overdraft_seat_seconds,
        r.denials,
        r.queue_waits,
        r.queue_waits_seated,
        r.queue_wait_seconds,
    )
}

#[test]
fn a_day_of_the_license_matches_the_hand_count() {
    let report = history().report(Bucket::Day, Breakdown::License, &SeatPolicy::default());
    assert_eq!(report.rows.len(), 1, "{:?}", report.rows);
    // Seat time: eve 9h15 + ada 1h + bob 50 min + cy 2h + dan 30 min = 815 min.
    assert_eq!(
        row(&report.rows[0]),
        (2, 815 * 60, 30 * 60, 1, 1, 1, 10 * 60)
    );
    assert_eq!(report.rows[0].key, None);
    assert_eq!(report.events_lost, 3);
    // The last entry before the period's end (cy's release), not ada's grant the day after.
    assert_eq!(report.through_seq, 15);
}

#[test]
fn hours_split_seats_and_peaks() {
    let report = history().report(Bucket::Hour, Breakdown::License, &SeatPolicy::default());
    let hours: Vec<_> = report
        .rows
        .iter()
        .map(|r| (r.start.format("%H").to_string(), row(r)))
        .collect();
    let eve_alone = (1, 3600, 0, 0, 0, 0, 0);
    let mut expected: Vec<_> = (0..9).map(|h| (format!("{h:02}"), eve_alone)).collect();
    expected.extend([
        // eve till 09:15 and ada from 09:00 (2), eve gone, bob from 09:30 (2 again);
        // 15 + 60 + 30 min; cy's denial, and her wait 09:50–10:00.
        ("09".into(), (2, 105 * 60, 0, 1, 1, 1, 600)),
        // ada's end and cy's start at 10:00 never count twice: bob + cy; 20 + 60 min.
        ("10".into(), (2, 80 * 60, 0, 0, 0, 0, 0)),
        // cy + dan (30 min, overdraft).
        ("11".into(), (2, 90 * 60, 30 * 60, 0, 0, 0, 0)),
    ]);
    assert_eq!(hours, expected);
}

#[test]
fn users_hosts_and_groups_get_rows_of_their_own() {
    let h = history();
    let by_user = h.report(Bucket::Day, Breakdown::User, &SeatPolicy::default());
    let users: Vec<_> = by_user
        .rows
        .iter()
        .map(|r| (r.key.clone().unwrap_or_default(), row(r)))
        .collect();
    assert_eq!(
        users,
        [
            ("ada@example.com".into(), (1, 3600, 0, 0, 0, 0, 0)),
            ("bob@example.com".into(), (1, 50 * 60, 0, 0, 0, 0, 0)),
            ("cy@example.com".into(), (1, 7200, 0, 1, 1, 1, 600)),
            ("dan@example.com".into(), (1, 1800, 1800, 0, 0, 0, 0)),
            ("eve@example.com".into(), (1, 555 * 60, 0, 0, 0, 0, 0)),
        ]
    );
    let by_host = h.report(Bucket::Day, Breakdown::Host, &SeatPolicy::default());
    assert_eq!(by_host.rows[0].key.as_deref(), Some("pc-ada"));

    // ada and bob are "core"; cy's machine is "lab"; dan and eve are in no group.
    let policy = SeatPolicy {
        groups: vec![
            SeatGroup::new(
                "core",
                vec![
                    Member::User("ada@example.com".into()),
                    Member::User("bob@example.com".into()),
                ],
            ),
            SeatGroup::new("lab", vec![Member::HardwareId("pc-cy".into())]),
        ],
        rules: Vec::new(),
    };
    let by_group = h.report(Bucket::Day, Breakdown::Group, &policy);
    let groups: Vec<_> = by_group
        .rows
        .iter()
        .map(|r| (r.key.clone(), r.peak_seats, r.seat_seconds / 60))
        .collect();
    assert_eq!(
        groups,
        [
            // dan and eve, never at once.
            (None, 1, 555 + 30),
            // ada and bob overlap 09:30–10:00.
            (Some("core".into()), 2, 110),
            (Some("lab".into()), 1, 120),
        ]
    );
}

#[test]
fn a_seat_still_open_counts_up_to_now() {
    let mut h = history();
    let late = SessionId::new();
    h.seat(
        at(DAY, 23, 0),
        late,
        "fay",
        SeatEventKind::Granted { in_use: 1 },
    );
    let day = NaiveDate::from_ymd_opt(2026, 11, DAY).unwrap();
    let query = ReportQuery::new(h.license, day, day, Bucket::Hour, Breakdown::User).unwrap();
    let policy = SeatPolicy::default();
    let mut builder = fold::ReportBuilder::new(&query, &policy);
    for entry in &h.entries {
        builder.add(entry).unwrap();
    }
    // Asked at 23:20: fay's seat has 20 minutes so far.
    let report = builder.finish(at(DAY, 23, 20));
    let fay = report
        .rows
        .iter()
        .find(|r| r.key.as_deref() == Some("fay@example.com"))
        .unwrap();
    assert_eq!((fay.peak_seats, fay.seat_seconds), (1, 20 * 60));
}

#[test]
fn periods_are_checked() {
    let day = NaiveDate::from_ymd_opt(2026, 11, DAY).unwrap();
    let l = LicenseId::new();
    let before = day.pred_opt().unwrap();
    assert_eq!(
        ReportQuery::new(l, day, before, Bucket::Day, Breakdown::License)
            .unwrap_err()
            .to_string(),
        Error::invalid("to", "the last day is before the first").to_string()
    );
    let year_on = day + chrono::Days::new(366);
    assert!(ReportQuery::new(l, day, year_on, Bucket::Day, Breakdown::License).is_err());
    assert!(
        ReportQuery::new(
            l,
            day,
            year_on - chrono::Days::new(1),
            Bucket::Day,
            Breakdown::License
        )
        .is_ok()
    );
}

#[test]
fn replicas_appending_out_of_time_order_change_nothing() {
    let h = history();
    let in_order = h.report(Bucket::Hour, Breakdown::User, &SeatPolicy::default());
    // Each event's entry swapped with the next: a release before its grant, an overdraft
    // before its grant, a grant before its queue join (replicas append their own batches).
    let mut shuffled = History {
        tenant: h.tenant,
        license: h.license,
        entries: Vec::new(),
    };
    let mut bodies: Vec<SeatEvent> = Vec::new();
    for entry in &h.entries {
        bodies.push(reparse(&entry.body));
    }
    for pair in bodies.chunks(2) {
        for event in pair.iter().rev() {
            shuffled.push(event.clone());
        }
    }
    let swapped = shuffled.report(Bucket::Hour, Breakdown::User, &SeatPolicy::default());
    assert_eq!(swapped.rows, in_order.rows);

    // A release on record long after its grant's replica fell behind: still one span.
    let mut late = History {
        tenant: h.tenant,
        license: h.license,
        entries: Vec::new(),
    };
    let id = SessionId::new();
    late.seat(at(DAY, 12, 0), id, "gus", SeatEventKind::Released);
    late.seat(
        at(DAY, 13, 0),
        SessionId::new(),
        "hal",
        SeatEventKind::Granted { in_use: 1 },
    );
    late.seat(
        at(DAY, 9, 0),
        id,
        "gus",
        SeatEventKind::Granted { in_use: 1 },
    );
    let report = late.report(Bucket::Day, Breakdown::User, &SeatPolicy::default());
    let gus = report
        .rows
        .iter()
        .find(|r| r.key.as_deref() == Some("gus@example.com"))
        .unwrap();
    assert_eq!(gus.seat_seconds, 3 * 3600, "09:00–12:00, not until now");
}

/// A logged event back as a `SeatEvent` (what a replica would have emitted).
fn reparse(body: &str) -> SeatEvent {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let at: DateTime<Utc> = v["at"].as_str().unwrap().parse().unwrap();
    let tenant: TenantId = v["tenant_id"].as_str().unwrap().parse().unwrap();
    let kind = match v["type"].as_str().unwrap() {
        "granted" => SeatEventKind::Granted { in_use: 1 },
        "released" => SeatEventKind::Released,
        "overdraft" => SeatEventKind::Overdraft { over_by: 1 },
        "events_lost" => SeatEventKind::EventsLost {
            count: v["count"].as_u64().unwrap(),
        },
        "denied" => SeatEventKind::Denied {
            reason: DenialReason::NoSeats,
        },
        "queued" => SeatEventKind::Queued {
            position: 1,
            wait_until: at,
        },
        "expired" => SeatEventKind::Expired {
            ended_at: v["ended_at"].as_str().map(|t| t.parse().unwrap()),
        },
        "evicted" => SeatEventKind::Evicted {
            reason: "audit".into(),
            hold_until: None,
        },
        other => panic!("{other}"),
    };
    let mut event = SeatEvent::new(at, tenant, kind);
    event.license_id = v["license_id"].as_str().map(|l| l.parse().unwrap());
    event.session_id = v["session_id"].as_str().map(|s| s.parse().unwrap());
    event.hardware_id = v["hardware_id"].as_str().map(str::to_owned);
    event.user = v["user"].as_str().map(str::to_owned);
    event
}
