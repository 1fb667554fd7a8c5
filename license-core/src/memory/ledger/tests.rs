//! The in-memory ledger under a manual clock: what the contract cannot wait for.

use futures::executor::block_on;

use super::*;
use crate::clock::ManualClock;
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::seat_ledger::UserRef;
use crate::seat_policy::{Cap, Counter, SeatTally};

fn setup() -> (ManualClock, MemoryLedger, LedgerKey) {
    let clock = ManualClock::new(Utc::now());
    let ledger = MemoryLedger::new(Arc::new(clock.clone()));
    let key = LedgerKey {
        tenant_id: TenantId::new(),
        license_id: LicenseId::new(),
    };
    block_on(ledger.rebuild(&key, &[], &[])).unwrap_or_else(|e| panic!("{e}"));
    (clock, ledger, key)
}

fn ask(machine: &str, limit: u32, borrow: Option<u32>) -> SeatRequest {
    SeatRequest {
        session_id: SessionId::new(),
        hardware_id: HardwareId::parse(machine).unwrap_or_else(|e| panic!("{e}")),
        user: Some(UserRef(format!("email:{machine}@example.com"))),
        limit,
        ttl: Duration::from_secs(60),
        borrow,
        tally: SeatTally::default(),
    }
}

fn acquire(ledger: &MemoryLedger, key: &LedgerKey, req: &SeatRequest) -> AcquireOutcome {
    block_on(ledger.acquire(key, req)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_borrow_count_follows_every_change_of_kind() {
    let (clock, ledger, key) = setup();
    let borrow = ask("a", 5, Some(1));
    assert!(matches!(
        acquire(&ledger, &key, &borrow),
        AcquireOutcome::Granted { .. }
    ));
    assert_eq!(
        acquire(&ledger, &key, &ask("b", 5, Some(1))),
        AcquireOutcome::NoBorrowSeats
    );
    // Lingering is not borrowed any more: the cap frees.
    assert!(block_on(ledger.linger(&key, borrow.seat(), Duration::from_secs(30))).unwrap());
    assert!(matches!(
        acquire(&ledger, &key, &ask("b", 5, Some(1))),
        AcquireOutcome::Granted { in_use: 2, .. }
    ));
    // The lingering seat taken over as a borrow meets the cap.
    assert_eq!(
        acquire(&ledger, &key, &ask("a", 5, Some(1))),
        AcquireOutcome::NoBorrowSeats
    );
    clock.advance(TimeDelta::seconds(61));
    assert!(matches!(
        acquire(&ledger, &key, &ask("c", 5, Some(1))),
        AcquireOutcome::Granted { in_use: 1, .. }
    ));
}

#[test]
fn a_hold_off_ends_at_its_time_and_rebuild_restores_it() {
    let (clock, ledger, key) = setup();
    let req = ask("a", 5, None);
    assert!(matches!(
        acquire(&ledger, &key, &req),
        AcquireOutcome::Granted { .. }
    ));
    let hold = Hold {
        user: req.user.clone(),
        duration: Duration::from_secs(100),
        reason: "audit".into(),
    };
    block_on(ledger.evict(&key, req.seat(), &hold)).unwrap_or_else(|e| panic!("{e}"));
    let until = clock.now() + TimeDelta::seconds(100);
    let evicted = AcquireOutcome::Evicted {
        until,
        reason: "audit".into(),
    };
    assert_eq!(acquire(&ledger, &key, &ask("a", 5, None)), evicted);
    // The same person on another machine.
    let elsewhere = SeatRequest {
        user: req.user.clone(),
        ..ask("b", 5, None)
    };
    assert_eq!(acquire(&ledger, &key, &elsewhere), evicted);
    ledger.lose_state();
    let off = HoldOff {
        hardware_id: req.hardware_id.clone(),
        user: req.user.clone(),
        until,
        reason: "audit".into(),
    };
    block_on(ledger.rebuild(&key, &[], &[off])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(acquire(&ledger, &key, &elsewhere), evicted);
    clock.advance(TimeDelta::seconds(100));
    assert!(matches!(
        acquire(&ledger, &key, &elsewhere),
        AcquireOutcome::Granted { .. }
    ));
}

#[test]
fn a_cap_counts_every_end_of_a_seat() {
    let (clock, ledger, key) = setup();
    let eng = Counter::group("eng");
    let capped = |machine: &str| SeatRequest {
        tally: SeatTally {
            counters: vec![eng.clone()],
            caps: vec![Cap {
                counter: eng.clone(),
                max: 1,
                limit: SeatLimit::GroupMax,
            }],
            reserves: vec![],
        },
        ..ask(machine, 5, None)
    };
    let first = capped("a");
    assert!(matches!(
        acquire(&ledger, &key, &first),
        AcquireOutcome::Granted { .. }
    ));
    let refused = acquire(&ledger, &key, &capped("b"));
    assert_eq!(refused, AcquireOutcome::Limited(SeatLimit::GroupMax));
    // Someone outside the group is not capped.
    assert!(matches!(
        acquire(&ledger, &key, &ask("c", 5, None)),
        AcquireOutcome::Granted { .. }
    ));
    // Release frees the count.
    block_on(ledger.release(&key, first.seat())).unwrap_or_else(|e| panic!("{e}"));
    let second = capped("b");
    assert!(matches!(
        acquire(&ledger, &key, &second),
        AcquireOutcome::Granted { .. }
    ));
    // Eviction frees it.
    let hold = Hold {
        user: None,
        duration: Duration::ZERO,
        reason: "x".into(),
    };
    block_on(ledger.evict(&key, second.seat(), &hold)).unwrap_or_else(|e| panic!("{e}"));
    let third = capped("d");
    assert!(matches!(
        acquire(&ledger, &key, &third),
        AcquireOutcome::Granted { .. }
    ));
    // Expiry frees it.
    clock.advance(TimeDelta::seconds(61));
    let fourth = capped("e");
    assert!(matches!(
        acquire(&ledger, &key, &fourth),
        AcquireOutcome::Granted { .. }
    ));
    // A lingering seat still counts; its machine takes it back within the cap.
    assert!(block_on(ledger.linger(&key, fourth.seat(), Duration::from_secs(30))).unwrap_or(false));
    assert_eq!(
        acquire(&ledger, &key, &capped("f")),
        AcquireOutcome::Limited(SeatLimit::GroupMax)
    );
    assert!(matches!(
        acquire(&ledger, &key, &capped("e")),
        AcquireOutcome::TookBack { .. }
    ));
}
