//! Borrow, eviction hold-offs, linger and overdraft through the use cases, on the in-memory
//! adapters with a manual clock (ADR 0025). The same rules run over HTTP on PostgreSQL and
//! Redis in license-server's tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use license_core::evict::EvictOptions;
use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::*;

struct World {
    clock: ManualClock,
    ledger: Arc<MemoryLedger>,
    service: LicenseService,
    admin: AdminService,
    tenant: Tenant,
}

fn start() -> DateTime<Utc> {
    // 2027-01-15 08:00 UTC.
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

async fn world() -> World {
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::default());
    let ledger = Arc::new(MemoryLedger::new(Arc::new(clock.clone())));
    let signer = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap());
    let service = LicenseService::new(
        store.clone(),
        ledger.clone(),
        signer,
        Arc::new(clock.clone()),
        "test",
    );
    let admin = AdminService::new(store, Arc::new(clock.clone()));
    let tenant = admin.create_tenant("Acme", &Actor::Operator).await.unwrap();
    World {
        clock,
        ledger,
        service,
        admin,
        tenant,
    }
}

fn app() -> Caller {
    Caller::new(Actor::System)
}

fn hw(name: &str) -> HardwareId {
    HardwareId::parse(name).unwrap()
}

impl World {
    async fn license(&self, seats: u32, overdraft: u32, rules: SeatRules) -> License {
        let mut new = NewLicense::new("CAD", SeatCount::new(seats).unwrap());
        new.overdraft = overdraft;
        new.rules = rules;
        self.admin
            .create_license(self.tenant.id, new, &Actor::Operator)
            .await
            .unwrap()
    }

    async fn acquire(&self, license: &License, machine: &str) -> Result<Lease> {
        self.service
            .acquire(
                self.tenant.id,
                &Actor::System,
                &license.key,
                &hw(machine),
                None,
            )
            .await
    }

    async fn borrow(&self, license: &License, machine: &str, seconds: u32) -> Result<Lease> {
        self.service
            .borrow(
                self.tenant.id,
                &Actor::System,
                &license.key,
                &hw(machine),
                None,
                seconds,
            )
            .await
    }

    async fn evict(&self, session: SessionId, options: EvictOptions) -> Result<Session> {
        let audit = AuditEvent::new(
            self.tenant.id,
            Actor::Operator,
            "session.force_release",
            format!("session:{session}"),
            self.clock.now(),
            serde_json::json!({}),
        );
        self.service
            .evict_session(self.tenant.id, session, &options, &audit)
            .await
    }

    fn advance(&self, seconds: i64) {
        self.clock.advance(TimeDelta::seconds(seconds));
    }
}

#[tokio::test]
async fn a_borrowed_seat_counts_without_heartbeats_until_its_end() {
    let w = world().await;
    let rules = SeatRules {
        max_borrow_seconds: 7 * 86_400,
        ..SeatRules::default()
    };
    let l = w.license(1, 0, rules).await;
    let lease = w.borrow(&l, "laptop", 3 * 86_400).await.unwrap();
    assert!(lease.session.borrowed);
    assert_eq!(
        lease.session.expires_at,
        start() + TimeDelta::days(3),
        "the lease lasts the borrow"
    );
    // Two days offline: no heartbeat, the seat still counts.
    w.advance(2 * 86_400);
    w.service.reap_once(100).await.unwrap();
    assert!(matches!(
        w.acquire(&l, "desk").await,
        Err(Error::NoSeatsAvailable { .. })
    ));
    // A check-in keeps the borrow's end.
    let checked_in = w
        .service
        .heartbeat(w.tenant.id, lease.session.id, &app())
        .await
        .unwrap();
    assert_eq!(checked_in.session.expires_at, lease.session.expires_at);
    // The borrow ends: the seat frees itself.
    w.advance(86_400);
    assert!(w.acquire(&l, "desk").await.is_ok());
}

#[tokio::test]
async fn a_returned_borrow_frees_its_seat_and_only_borrows_return() {
    let w = world().await;
    let rules = SeatRules {
        max_borrow_seconds: 86_400,
        ..SeatRules::default()
    };
    let l = w.license(1, 0, rules).await;
    let lease = w.borrow(&l, "laptop", 3600).await.unwrap();
    w.service
        .return_borrowed(w.tenant.id, lease.session.id, &app())
        .await
        .unwrap();
    let desk = w.acquire(&l, "desk").await.unwrap();
    let refused = w
        .service
        .return_borrowed(w.tenant.id, desk.session.id, &app())
        .await;
    assert!(
        matches!(
            refused,
            Err(Error::InvalidInput {
                field: "session_id",
                ..
            })
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn bad_borrows_name_the_field_and_change_nothing() {
    let w = world().await;
    let off = w.license(2, 0, SeatRules::default()).await;
    let on = w
        .license(
            2,
            0,
            SeatRules {
                max_borrow_seconds: 3600,
                max_borrowed_seats: Some(1),
                ..SeatRules::default()
            },
        )
        .await;
    for (license, seconds) in [(&off, 60), (&on, 0), (&on, 3601), (&on, u32::MAX)] {
        let err = w.borrow(license, "laptop", seconds).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: "borrow_seconds",
                    ..
                }
            ),
            "{seconds}: {err:?}"
        );
    }
    assert_eq!(w.service.live_seats(w.tenant.id, on.id).await.unwrap(), 0);
    // The borrow cap: one borrowed seat, then 402 borrow_limit_reached; an ordinary seat is
    // still free.
    w.borrow(&on, "laptop-1", 60).await.unwrap();
    let err = w.borrow(&on, "laptop-2", 60).await.unwrap_err();
    assert_eq!(err.code(), "borrow_limit_reached");
    assert!(w.acquire(&on, "desk").await.is_ok());
}

#[tokio::test]
async fn borrowing_over_a_running_seat_is_a_conflict() {
    let w = world().await;
    let rules = SeatRules {
        max_borrow_seconds: 3600,
        ..SeatRules::default()
    };
    let l = w.license(2, 0, rules).await;
    w.acquire(&l, "laptop").await.unwrap();
    assert_eq!(
        w.borrow(&l, "laptop", 60).await.unwrap_err().code(),
        "conflict"
    );
}

#[tokio::test]
async fn an_eviction_holds_the_machine_off_and_says_why() {
    let w = world().await;
    let l = w.license(2, 0, SeatRules::default()).await;
    let lease = w.acquire(&l, "pc-1").await.unwrap();
    let evicted = w
        .evict(lease.session.id, EvictOptions::hold_off(600, "audit"))
        .await
        .unwrap();
    assert_eq!(evicted.end_reason, Some(EndReason::Evicted));
    match w
        .service
        .heartbeat(w.tenant.id, lease.session.id, &app())
        .await
    {
        Err(Error::SessionEvicted { reason, until }) => {
            assert_eq!(reason, "audit");
            assert_eq!(until, Some(start() + TimeDelta::seconds(600)));
        }
        other => panic!("{other:?}"),
    }
    match w.acquire(&l, "pc-1").await {
        Err(Error::HeldOff { reason, until }) => {
            assert_eq!(reason, "audit");
            assert_eq!(until, start() + TimeDelta::seconds(600));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        w.acquire(&l, "pc-2").await.is_ok(),
        "others are not held off"
    );
    // The hold-off survives a Redis loss: the rebuild restores it from the store.
    w.ledger.lose_state();
    assert_eq!(w.acquire(&l, "pc-1").await.unwrap_err().code(), "evicted");
    w.advance(601);
    assert!(w.acquire(&l, "pc-1").await.is_ok(), "the hold-off ended");
}

#[tokio::test]
async fn an_eviction_of_a_young_session_needs_force() {
    let w = world().await;
    let rules = SeatRules {
        min_hold_seconds: 300,
        ..SeatRules::default()
    };
    let l = w.license(1, 0, rules).await;
    let lease = w.acquire(&l, "pc-1").await.unwrap();
    let refused = w
        .evict(lease.session.id, EvictOptions::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "conflict");
    assert_eq!(w.service.live_seats(w.tenant.id, l.id).await.unwrap(), 1);
    let forced = EvictOptions {
        force: true,
        ..EvictOptions::default()
    };
    w.evict(lease.session.id, forced).await.unwrap();
    assert_eq!(w.service.live_seats(w.tenant.id, l.id).await.unwrap(), 0);
    let bad = EvictOptions {
        hold_off_seconds: EvictOptions::MAX_HOLD_OFF_SECONDS + 1,
        ..EvictOptions::default()
    };
    assert!(matches!(
        w.evict(lease.session.id, bad).await,
        Err(Error::InvalidInput {
            field: "hold_off_seconds",
            ..
        })
    ));
}

#[tokio::test]
async fn a_lingering_seat_goes_back_to_its_machine_only() {
    let w = world().await;
    let rules = SeatRules {
        linger_seconds: 120,
        ..SeatRules::default()
    };
    let l = w.license(1, 0, rules).await;
    let first = w.acquire(&l, "pc-1").await.unwrap();
    w.service
        .release(w.tenant.id, first.session.id, &app())
        .await
        .unwrap();
    assert!(matches!(
        w.acquire(&l, "pc-2").await,
        Err(Error::NoSeatsAvailable { .. })
    ));
    // It survives a Redis loss too.
    w.ledger.lose_state();
    assert!(matches!(
        w.acquire(&l, "pc-2").await,
        Err(Error::NoSeatsAvailable { .. })
    ));
    let again = w.acquire(&l, "pc-1").await.unwrap();
    assert!(again.new_seat && again.session.id != first.session.id);
    w.service
        .release(w.tenant.id, again.session.id, &app())
        .await
        .unwrap();
    w.advance(121);
    assert!(w.acquire(&l, "pc-2").await.is_ok(), "the linger ended");
}

#[tokio::test]
async fn overdraft_grants_are_marked_counted_and_capped_per_day() {
    let w = world().await;
    let rules = SeatRules {
        overdraft_minutes_per_day: Some(30),
        ..SeatRules::default()
    };
    let l = w.license(1, 2, rules).await;
    let within = w.acquire(&l, "pc-1").await.unwrap();
    assert!(!within.session.overdraft);
    let over = w.acquire(&l, "pc-2").await.unwrap();
    assert!(over.session.overdraft, "the second seat is overdraft");
    let claims = w
        .service
        .verifier(w.tenant.id)
        .await
        .unwrap()
        .verify(&over.token, w.clock.now())
        .unwrap();
    assert!(claims.ovd && !claims.brw);
    // 20 minutes in the overdraft (heartbeats keep it), then more are still allowed.
    for _ in 0..10 {
        w.advance(120);
        for lease in [&within, &over] {
            w.service
                .heartbeat(w.tenant.id, lease.session.id, &app())
                .await
                .unwrap();
        }
    }
    w.service.flush_write_behind().await.unwrap();
    let day = start().date_naive();
    let usage = w.admin.usage(w.tenant.id, l.id, day, day).await.unwrap();
    assert_eq!(usage[0].overdraft_peak, 1);
    assert_eq!(usage[0].overdraft_seat_minutes, 20);
    // Ten more minutes reach the cap of 30: no new grant goes into the overdraft today.
    for _ in 0..5 {
        w.advance(120);
        for lease in [&within, &over] {
            w.service
                .heartbeat(w.tenant.id, lease.session.id, &app())
                .await
                .unwrap();
        }
    }
    w.service
        .release(w.tenant.id, over.session.id, &app())
        .await
        .unwrap();
    let refused = w.acquire(&l, "pc-3").await.unwrap_err();
    assert!(
        matches!(refused, Error::NoSeatsAvailable { limit: 1, .. }),
        "{refused:?}"
    );
    // The next day, the overdraft is open again.
    w.advance(16 * 3600);
    w.acquire(&l, "pc-4").await.unwrap();
    let next = w.acquire(&l, "pc-5").await.unwrap();
    assert!(next.session.overdraft);
}
