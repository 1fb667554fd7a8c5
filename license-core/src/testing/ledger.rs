use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, join_all};

use crate::SeatKind;
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::seat_ledger::{
    AcquireOutcome, LedgerKey, LiveCount, RebuildOutcome, RenewOutcome, SeatLedger, SeatRef,
    SeatRequest,
};
use crate::seat_policy::SeatTally;
use crate::session::{HardwareId, LiveSeat};

/// Eviction hold-offs, and the rebuild of seat kinds and hold-offs.
mod holds;
/// Borrowed and lingering seats.
mod kinds;
/// Seat policies: caps, reserves, counts given back, the rebuild (ADR 0026).
mod policy;
/// The seat queue (ADR 0029).
mod queue;
/// A peek, and the queue's rebuild from the tickets on record (ADR 0029).
mod queue_rebuild;
/// Regrants of seats whose grant is not on record (ADR 0017).
mod regrant;

/// A ledger under test, and a way to make its backend lose every seat (a Redis `FLUSHALL`,
/// a restart without persistence).
pub struct LedgerHarness {
    /// The ledger.
    pub ledger: Arc<dyn SeatLedger>,
    /// Wipes the backend's state.
    pub lose_state: Box<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>,
}

impl std::fmt::Debug for LedgerHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerHarness")
            .field("ledger", &self.ledger)
            .finish_non_exhaustive()
    }
}

const TTL: Duration = Duration::from_secs(60);

fn fresh_key() -> LedgerKey {
    LedgerKey {
        tenant_id: TenantId::new(),
        license_id: LicenseId::new(),
    }
}

fn hw(i: usize) -> HardwareId {
    HardwareId::parse(&format!("machine-{i}")).unwrap_or_else(|e| panic!("{e}"))
}

fn request(i: usize, limit: u32, ttl: Duration) -> SeatRequest {
    SeatRequest {
        session_id: SessionId::new(),
        hardware_id: hw(i),
        limit,
        ttl,
        user: None,
        borrow: None,
        tally: SeatTally::default(),
    }
}

async fn initialised(ledger: &dyn SeatLedger) -> LedgerKey {
    let key = fresh_key();
    let outcome = ledger
        .rebuild(&key, &[], &[])
        .await
        .unwrap_or_else(|e| panic!("rebuild: {e}"));
    assert_eq!(
        outcome,
        RebuildOutcome::Rebuilt,
        "a new key must accept a rebuild"
    );
    key
}

async fn acquire(ledger: &dyn SeatLedger, key: &LedgerKey, req: &SeatRequest) -> AcquireOutcome {
    ledger
        .acquire(key, req)
        .await
        .unwrap_or_else(|e| panic!("acquire: {e}"))
}

async fn count(ledger: &dyn SeatLedger, key: &LedgerKey) -> LiveCount {
    ledger
        .live_count(key)
        .await
        .unwrap_or_else(|e| panic!("live_count: {e}"))
}

/// Runs every rule of the [`SeatLedger`] contract. Takes a few seconds (TTL, linger and
/// hold-off expiry are real time: the Redis ledger reads Redis's clock).
pub async fn seat_ledger_contract(harness: &LedgerHarness) {
    let ledger = harness.ledger.as_ref();
    unknown_key_asks_for_rebuild(ledger).await;
    grants_up_to_the_limit_and_no_more(ledger).await;
    retry_does_not_take_a_second_seat(ledger).await;
    renew_extends_only_live_seats(ledger).await;
    release_frees_the_seat(ledger).await;
    concurrent_acquires_never_exceed_the_limit(ledger).await;
    zombie_seat_is_free_after_its_ttl(ledger).await;
    late_rebuild_does_not_drop_newer_seats(ledger).await;
    kinds::kinds_and_holds_contract(ledger).await;
    policy::policy_contract(ledger).await;
    regrant::regrant_contract(ledger).await;
    queue::queue_contract(ledger).await;
    queue_rebuild::queue_rebuild_contract(ledger).await;
    lost_state_is_rebuilt_from_live_seats(harness).await;
}

async fn unknown_key_asks_for_rebuild(ledger: &dyn SeatLedger) {
    let key = fresh_key();
    assert_eq!(
        acquire(ledger, &key, &request(0, 5, TTL)).await,
        AcquireOutcome::Rebuild
    );
    let renew = ledger
        .renew(&key, SeatRef::new(SessionId::new(), &hw(0)), TTL)
        .await;
    assert!(
        matches!(renew, Ok(RenewOutcome::Rebuild)),
        "renew on a new key: {renew:?}"
    );
    assert_eq!(count(ledger, &key).await, LiveCount::Rebuild);
    assert!(
        ledger
            .release(&key, SeatRef::new(SessionId::new(), &hw(0)))
            .await
            .is_ok()
    );
    let first = ledger.rebuild(&key, &[], &[]).await;
    assert!(matches!(first, Ok(RebuildOutcome::Rebuilt)), "{first:?}");
    let second = ledger.rebuild(&key, &[], &[]).await;
    assert!(
        matches!(second, Ok(RebuildOutcome::AlreadyInitialised)),
        "{second:?}"
    );
    assert_eq!(count(ledger, &key).await, LiveCount::Count(0));
}

async fn grants_up_to_the_limit_and_no_more(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    for i in 0..3 {
        let outcome = acquire(ledger, &key, &request(i, 3, TTL)).await;
        match outcome {
            AcquireOutcome::Granted { in_use, .. } => {
                assert_eq!(in_use as usize, i + 1, "in_use counts the new seat")
            }
            other => panic!("seat {i} of 3 refused: {other:?}"),
        }
    }
    assert_eq!(
        acquire(ledger, &key, &request(3, 3, TTL)).await,
        AcquireOutcome::NoSeats
    );
    assert_eq!(count(ledger, &key).await, LiveCount::Count(3));
    // Another license of the same tenant is counted apart.
    let other = LedgerKey {
        license_id: LicenseId::new(),
        ..key
    };
    ledger
        .rebuild(&other, &[], &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        acquire(ledger, &other, &request(0, 1, TTL)).await,
        AcquireOutcome::Granted { .. }
    ));
}

async fn retry_does_not_take_a_second_seat(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    let first = request(0, 5, TTL);
    let AcquireOutcome::Granted { expires_at, .. } = acquire(ledger, &key, &first).await else {
        panic!("first acquire refused");
    };
    // Same machine, new session id: the existing session comes back.
    let retry = request(0, 5, TTL);
    assert_eq!(
        acquire(ledger, &key, &retry).await,
        AcquireOutcome::AlreadyHeld {
            session_id: first.session_id,
            expires_at
        }
    );
    // Same session id again: also held.
    assert!(matches!(
        acquire(ledger, &key, &first).await,
        AcquireOutcome::AlreadyHeld { session_id, .. } if session_id == first.session_id
    ));
    assert_eq!(count(ledger, &key).await, LiveCount::Count(1));
}

async fn renew_extends_only_live_seats(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    let req = request(0, 5, Duration::from_secs(30));
    let AcquireOutcome::Granted { expires_at, .. } = acquire(ledger, &key, &req).await else {
        panic!("acquire refused");
    };
    match ledger.renew(&key, req.seat(), TTL).await {
        Ok(RenewOutcome::Renewed {
            expires_at: renewed,
        }) => {
            assert!(
                renewed > expires_at,
                "renew with a longer TTL must move the expiry"
            )
        }
        other => panic!("renew of a live seat: {other:?}"),
    }
    let unknown = ledger
        .renew(&key, SeatRef::new(SessionId::new(), &hw(0)), TTL)
        .await;
    assert!(matches!(unknown, Ok(RenewOutcome::Expired)), "{unknown:?}");
}

async fn release_frees_the_seat(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    let req = request(0, 1, TTL);
    assert!(matches!(
        acquire(ledger, &key, &req).await,
        AcquireOutcome::Granted { .. }
    ));
    assert_eq!(
        acquire(ledger, &key, &request(1, 1, TTL)).await,
        AcquireOutcome::NoSeats
    );
    ledger
        .release(&key, req.seat())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    ledger
        .release(&key, req.seat())
        .await
        .unwrap_or_else(|e| panic!("second release: {e}"));
    let renew = ledger.renew(&key, req.seat(), TTL).await;
    assert!(
        matches!(renew, Ok(RenewOutcome::Expired)),
        "released seat renewed: {renew:?}"
    );
    assert!(matches!(
        acquire(ledger, &key, &request(1, 1, TTL)).await,
        AcquireOutcome::Granted { .. }
    ));
}

async fn concurrent_acquires_never_exceed_the_limit(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    let requests: Vec<_> = (0..500).map(|i| request(i, 50, TTL)).collect();
    let outcomes = join_all(requests.iter().map(|r| ledger.acquire(&key, r))).await;
    let granted: Vec<_> = requests
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| matches!(o, Ok(AcquireOutcome::Granted { .. })))
        .map(|(r, _)| r)
        .collect();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(AcquireOutcome::NoSeats)))
        .count();
    assert_eq!(
        granted.len(),
        50,
        "exactly 50 of 500 concurrent acquires granted"
    );
    assert_eq!(refused, 450, "every other acquire refused: {outcomes:?}");
    assert_eq!(count(ledger, &key).await, LiveCount::Count(50));
    // Release all 50: 50 more succeed.
    join_all(granted.iter().map(|r| ledger.release(&key, r.seat()))).await;
    let more: Vec<_> = (500..550).map(|i| request(i, 50, TTL)).collect();
    let outcomes = join_all(more.iter().map(|r| ledger.acquire(&key, r))).await;
    let regranted = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(AcquireOutcome::Granted { .. })))
        .count();
    assert_eq!(regranted, 50, "after 50 releases, 50 more succeed");
}

async fn zombie_seat_is_free_after_its_ttl(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    let zombie = request(0, 1, Duration::from_secs(1));
    assert!(matches!(
        acquire(ledger, &key, &zombie).await,
        AcquireOutcome::Granted { .. }
    ));
    assert_eq!(
        acquire(ledger, &key, &request(1, 1, TTL)).await,
        AcquireOutcome::NoSeats
    );
    tokio_free_sleep(Duration::from_millis(1_300)).await;
    assert!(
        matches!(
            acquire(ledger, &key, &request(1, 1, TTL)).await,
            AcquireOutcome::Granted { .. }
        ),
        "the zombie's seat must be free after its TTL"
    );
    let renew = ledger.renew(&key, zombie.seat(), TTL).await;
    assert!(
        matches!(renew, Ok(RenewOutcome::Expired)),
        "zombie came back: {renew:?}"
    );
}

async fn late_rebuild_does_not_drop_newer_seats(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    let req = request(0, 1, TTL);
    assert!(matches!(
        acquire(ledger, &key, &req).await,
        AcquireOutcome::Granted { .. }
    ));
    // A rebuild from an older (empty) snapshot arrives late: it must not free the seat.
    let late = ledger.rebuild(&key, &[], &[]).await;
    assert!(
        matches!(late, Ok(RebuildOutcome::AlreadyInitialised)),
        "{late:?}"
    );
    assert_eq!(
        acquire(ledger, &key, &request(1, 1, TTL)).await,
        AcquireOutcome::NoSeats
    );
}

async fn lost_state_is_rebuilt_from_live_seats(harness: &LedgerHarness) {
    let ledger = harness.ledger.as_ref();
    let key = initialised(ledger).await;
    let req = request(0, 2, TTL);
    let AcquireOutcome::Granted { expires_at, .. } = acquire(ledger, &key, &req).await else {
        panic!("acquire refused");
    };
    (harness.lose_state)().await;
    assert_eq!(
        acquire(ledger, &key, &request(1, 2, TTL)).await,
        AcquireOutcome::Rebuild
    );
    let long_gone = LiveSeat {
        session_id: SessionId::new(),
        hardware_id: hw(9),
        expires_at: expires_at - chrono::TimeDelta::hours(1),
        kind: SeatKind::Held,
        counters: Vec::new(),
    };
    let live = LiveSeat {
        session_id: req.session_id,
        hardware_id: req.hardware_id.clone(),
        expires_at,
        kind: SeatKind::Held,
        counters: Vec::new(),
    };
    let rebuilt = ledger.rebuild(&key, &[live, long_gone], &[]).await;
    assert!(
        matches!(rebuilt, Ok(RebuildOutcome::Rebuilt)),
        "{rebuilt:?}"
    );
    assert_eq!(
        count(ledger, &key).await,
        LiveCount::Count(1),
        "expired seats are not restored"
    );
    assert!(matches!(
        acquire(ledger, &key, &request(0, 2, TTL)).await,
        AcquireOutcome::AlreadyHeld { session_id, .. } if session_id == req.session_id
    ));
    assert!(matches!(
        acquire(ledger, &key, &request(1, 2, TTL)).await,
        AcquireOutcome::Granted { .. }
    ));
    assert_eq!(
        acquire(ledger, &key, &request(2, 2, TTL)).await,
        AcquireOutcome::NoSeats
    );
}

/// Sleeps without naming a runtime (core has none): a thread does the waiting.
async fn tokio_free_sleep(duration: Duration) {
    let (tx, rx) = futures::channel::oneshot::channel();
    std::thread::spawn(move || {
        std::thread::sleep(duration);
        let _ = tx.send(());
    });
    let _ = rx.await;
}
