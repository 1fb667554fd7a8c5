//! What the use cases emit: every outcome is an event, in order, with its ids.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use license_core::events::{DenialReason, MemoryEvents, QueueEndReason};
use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::*;

struct World {
    clock: ManualClock,
    service: LicenseService,
    admin: AdminService,
    events: Arc<MemoryEvents>,
    tenant: Tenant,
}

fn world() -> World {
    let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).unwrap());
    let store = Arc::new(MemoryStore::default());
    let ledger = Arc::new(MemoryLedger::new(Arc::new(clock.clone())));
    let signer = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap());
    let events = Arc::new(MemoryEvents::default());
    let service = LicenseService::new(store.clone(), ledger, signer, Arc::new(clock.clone()), "t")
        .with_events(events.clone());
    let admin = AdminService::new(store, Arc::new(clock.clone())).with_events(events.clone());
    let tenant =
        futures::executor::block_on(admin.create_tenant("Acme", &Actor::Operator)).unwrap();
    World {
        clock,
        service,
        admin,
        events,
        tenant,
    }
}

/// The event names after `from`, without ledger rebuilds (which any first ledger call causes).
fn names_since(events: &MemoryEvents, from: usize) -> Vec<&'static str> {
    events.names()[from..]
        .iter()
        .copied()
        .filter(|n| *n != "rebuilt")
        .collect()
}

#[tokio::test]
async fn each_seat_outcome_is_one_event_with_its_ids() {
    let w = world();
    let t = w.tenant.id;
    let l = w
        .admin
        .create_license(
            t,
            NewLicense::new("CAD", SeatCount::new(1).unwrap()),
            &Actor::Operator,
        )
        .await
        .unwrap();
    assert_eq!(names_since(&w.events, 0), ["admin_change", "admin_change"]);
    let start = w.events.events().len();

    let hw = HardwareId::parse("pc-1").unwrap();
    let lease = w
        .service
        .acquire(t, &Actor::System, &l.key, &hw, None)
        .await
        .unwrap();
    w.service
        .acquire(t, &Actor::System, &l.key, &hw, None)
        .await
        .unwrap();
    let other = HardwareId::parse("pc-2").unwrap();
    assert!(
        w.service
            .acquire(t, &Actor::System, &l.key, &other, None)
            .await
            .is_err()
    );
    w.service
        .heartbeat(t, lease.session.id, &app())
        .await
        .unwrap();
    w.service
        .release(t, lease.session.id, &app())
        .await
        .unwrap();
    w.service
        .release(t, lease.session.id, &app())
        .await
        .unwrap();
    assert_eq!(
        names_since(&w.events, start),
        ["granted", "held", "denied", "renewed", "released"],
        "a repeated release emits nothing"
    );

    let all = w.events.events();
    let granted = all.iter().find(|e| e.kind.name() == "granted").unwrap();
    assert_eq!(granted.kind, SeatEventKind::Granted { in_use: 1 });
    assert_eq!(granted.session_id, Some(lease.session.id));
    assert_eq!(granted.license_id, Some(l.id));
    assert_eq!(granted.hardware_id.as_deref(), Some("pc-1"));
    let denied = all.iter().find(|e| e.kind.name() == "denied").unwrap();
    assert_eq!(
        denied.kind,
        SeatEventKind::Denied {
            reason: DenialReason::NoSeats
        }
    );
    assert_eq!(denied.hardware_id.as_deref(), Some("pc-2"));
}

#[tokio::test]
async fn expiry_revocation_reaping_and_inactive_licenses_are_events() {
    let w = world();
    let t = w.tenant.id;
    let l = w
        .admin
        .create_license(
            t,
            NewLicense::new("CAD", SeatCount::new(3).unwrap()),
            &Actor::Operator,
        )
        .await
        .unwrap();
    let hw = |s: &str| HardwareId::parse(s).unwrap();
    let a = w
        .service
        .acquire(t, &Actor::System, &l.key, &hw("a"), None)
        .await
        .unwrap();
    let b = w
        .service
        .acquire(t, &Actor::System, &l.key, &hw("b"), None)
        .await
        .unwrap();
    let c = w
        .service
        .acquire(t, &Actor::System, &l.key, &hw("c"), None)
        .await
        .unwrap();
    let start = w.events.events().len();

    let audit = AuditEvent::new(
        t,
        Actor::Operator,
        "session.force_release",
        format!("session:{}", a.session.id),
        w.clock.now(),
        serde_json::json!({}),
    );
    w.service
        .evict_session(t, a.session.id, &Default::default(), &audit)
        .await
        .unwrap();
    w.clock.advance(TimeDelta::seconds(360));
    assert!(w.service.heartbeat(t, b.session.id, &app()).await.is_err());
    // The store proves c dead only after the write-behind slack (a just-created license: the
    // longest TTL, ADR 0017).
    w.clock.advance(TimeDelta::days(2));
    let reaped = w.service.reap_once(10).await.unwrap();
    assert_eq!(
        reaped.expired, 1,
        "c is reaped; b was ended by its heartbeat"
    );
    assert_eq!(
        names_since(&w.events, start),
        ["evicted", "admin_change", "expired", "expired", "reaped"]
    );
    let mut events = w.events.events();
    let last = events.pop().unwrap();
    assert_eq!(last.kind, SeatEventKind::Reaped { sessions: 1 });
    // The reaper names the session and when it ended (its expiry), for seat-time reports.
    let reaped_c = events.pop().unwrap();
    assert_eq!(reaped_c.session_id, Some(c.session.id));
    assert_eq!(
        reaped_c.kind,
        SeatEventKind::Expired {
            ended_at: Some(c.session.expires_at)
        }
    );
    assert!(reaped_c.at > c.session.expires_at);
    assert!(
        w.service.heartbeat(t, c.session.id, &app()).await.is_err(),
        "{c:?}"
    );

    let d = w
        .service
        .acquire(t, &Actor::System, &l.key, &hw("d"), None)
        .await
        .unwrap();
    w.admin
        .set_status(t, l.id, LicenseStatus::Suspended, &Actor::Operator)
        .await
        .unwrap();
    let start = w.events.events().len();
    assert!(w.service.heartbeat(t, d.session.id, &app()).await.is_err());
    assert!(
        w.service
            .acquire(t, &Actor::System, &l.key, &hw("e"), None)
            .await
            .is_err()
    );
    assert_eq!(names_since(&w.events, start), ["revoked", "denied"]);
    let denied = w.events.events().pop().unwrap();
    assert_eq!(
        denied.kind,
        SeatEventKind::Denied {
            reason: DenialReason::LicenseSuspended
        }
    );
    let _: DateTime<Utc> = denied.at;
}

/// The caller in these tests: the embedding application itself (its sessions bind no one).
fn app() -> Caller {
    Caller::new(Actor::System)
}

#[tokio::test]
async fn a_wait_in_the_queue_is_a_queued_event_then_a_grant_or_its_end() {
    let w = world();
    let t = w.tenant.id;
    let mut new = NewLicense::new("CAD", SeatCount::new(1).unwrap());
    new.rules.max_wait_seconds = 600;
    let l = w
        .admin
        .create_license(t, new, &Actor::Operator)
        .await
        .unwrap();
    let applicant = |hw: &str| Applicant::machine(HardwareId::parse(hw).unwrap(), None);
    let ask = |hw: &'static str, ticket: Option<SessionId>| {
        let service = &w.service;
        let key = l.key.clone();
        async move {
            service
                .acquire_waiting(
                    t,
                    &Actor::System,
                    &key,
                    &applicant(hw),
                    SeatWait {
                        seconds: 600,
                        ticket,
                    },
                )
                .await
        }
    };
    let Ok(Acquired::Lease(holder)) = ask("pc-1", None).await else {
        panic!("pc-1 takes the seat")
    };
    let start = w.events.events().len();
    let Ok(Acquired::Waiting(b)) = ask("pc-2", None).await else {
        panic!("pc-2 should wait")
    };
    let Ok(Acquired::Waiting(c)) = ask("pc-3", None).await else {
        panic!("pc-3 should wait")
    };
    // Polls keep their place without an event each.
    assert!(matches!(
        ask("pc-2", Some(b.ticket)).await,
        Ok(Acquired::Waiting(_))
    ));
    assert!(w.service.leave_queue(t, &l.key, c.ticket).await.unwrap());
    assert!(matches!(
        ask("pc-3", Some(c.ticket)).await,
        Err(Error::TicketGone)
    ));
    w.service
        .release(t, holder.session.id, &app())
        .await
        .unwrap();
    let Ok(Acquired::Lease(seated)) = ask("pc-2", Some(b.ticket)).await else {
        panic!("pc-2's turn")
    };
    assert_eq!(
        names_since(&w.events, start),
        [
            "queued",
            "queued",
            "queue_ended",
            "queue_ended",
            "released",
            "granted"
        ]
    );
    let events = w.events.events();
    let queued = &events[start];
    assert_eq!(
        queued.session_id,
        Some(b.ticket),
        "the ticket is the session"
    );
    assert_eq!(
        queued.kind,
        SeatEventKind::Queued {
            position: 1,
            wait_until: b.wait_until
        }
    );
    let ended: Vec<_> = events
        .iter()
        .filter(|e| e.kind.name() == "queue_ended")
        .map(|e| (e.session_id, e.kind.clone()))
        .collect();
    assert_eq!(
        ended,
        [
            (
                Some(c.ticket),
                SeatEventKind::QueueEnded {
                    reason: QueueEndReason::Left
                }
            ),
            (
                Some(c.ticket),
                SeatEventKind::QueueEnded {
                    reason: QueueEndReason::Gone
                }
            ),
        ]
    );
    assert_eq!(
        seated.session.id, b.ticket,
        "its grant names the same session"
    );
}
