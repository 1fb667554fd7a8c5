//! The seat invariant under random schedules, checked against a model.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures::executor::block_on;
use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::*;
use proptest::prelude::*;

const CLIENTS: usize = 6;
const TTL: i64 = 360;

#[derive(Clone, Debug)]
enum Op {
    Acquire {
        client: usize,
        license: usize,
    },
    Heartbeat {
        client: usize,
        license: usize,
    },
    Release {
        client: usize,
        license: usize,
    },
    Advance {
        seconds: i64,
    },
    Reap,
    LedgerRestart,
    /// A replica recorded an acquire (store first) and died before the ledger's grant; or the
    /// ledger call failed and the record could not be deleted: a session on record that no
    /// client holds (ADR 0017).
    Orphan {
        client: usize,
        license: usize,
    },
    /// An acquire whose ledger call fails (Redis down) while the database cannot delete its
    /// record either: the same leftover, made by the use case itself.
    FailedAcquire {
        client: usize,
        license: usize,
    },
}

fn op(licenses: usize) -> impl Strategy<Value = Op> {
    let pick = (0..CLIENTS, 0..licenses);
    prop_oneof![
        4 => pick.clone().prop_map(|(client, license)| Op::Acquire { client, license }),
        3 => pick.clone().prop_map(|(client, license)| Op::Heartbeat { client, license }),
        2 => pick.prop_map(|(client, license)| Op::Release { client, license }),
        // Often around the TTL, so expiries land exactly on, before and after it.
        3 => prop_oneof![0..=130i64, (TTL - 2)..=(TTL + 2)].prop_map(|seconds| Op::Advance { seconds }),
        1 => Just(Op::Reap),
        1 => Just(Op::LedgerRestart),
        1 => (0..CLIENTS, 0..licenses).prop_map(|(client, license)| Op::Orphan { client, license }),
        1 => (0..CLIENTS, 0..licenses).prop_map(|(client, license)| Op::FailedAcquire { client, license }),
    ]
}

fn schedule() -> impl Strategy<Value = (Vec<u32>, Vec<Op>)> {
    prop::collection::vec(1..=3u32, 1..=3).prop_flat_map(|seats| {
        let n = seats.len();
        (Just(seats), prop::collection::vec(op(n), 1..120))
    })
}

/// What a client believes it holds: its session and the lease's expiry.
type Held = HashMap<(usize, usize), (SessionId, DateTime<Utc>)>;

fn live(held: &Held, license: usize, now: DateTime<Utc>) -> usize {
    held.iter()
        .filter(|((_, l), (_, exp))| *l == license && *exp > now)
        .count()
}

/// The latest event other than a ledger rebuild (which any ledger call may trigger first).
fn last_event(events: &events::MemoryEvents) -> &'static str {
    events
        .names()
        .into_iter()
        .rev()
        .find(|n| *n != "rebuilt")
        .unwrap_or("none")
}

// Invariant: whatever the schedule of acquires, heartbeats, releases, clock moves, reaps and
// ledger restarts (and records of acquires that never got their seat, which a rebuild restores),
// no license ever has more live leases than seats; a retried acquire returns
// the live session instead of a second seat; a seat frees exactly when its lease expires; a
// released or expired session never heartbeats back to life; and each outcome is the event the
// use case emits (granted, held, denied, renewed).
proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn seats_are_never_oversold((seats, ops) in schedule()) {
        let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).unwrap());
        let store = Arc::new(MemoryStore::default());
        let ledger = Arc::new(MemoryLedger::new(Arc::new(clock.clone())));
        let signer = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap());
        let events = Arc::new(events::MemoryEvents::default());
        let service = LicenseService::new(store.clone(), ledger.clone(), signer, Arc::new(clock.clone()), "prop")
            .with_events(events.clone());
        let admin = AdminService::new(store.clone(), Arc::new(clock.clone()));
        let tenant = block_on(admin.create_tenant("Prop", &Actor::Operator)).unwrap();
        let licenses: Vec<License> = seats.iter().map(|&n| {
            block_on(admin.create_license(tenant.id, NewLicense::new("P", SeatCount::new(n).unwrap()), &Actor::Operator)).unwrap()
        }).collect();
        let hw: Vec<HardwareId> = (0..CLIENTS).map(|c| HardwareId::parse(&format!("hw-{c}")).unwrap()).collect();
        let mut held = Held::new();
        // After the ledger lost its state, the rebuild keeps every seat the store cannot prove
        // dead for the write-behind slack (ADR 0017): a seat may then outlive its lease, so a
        // late heartbeat or retry may find it still held. Once a record of an acquire that
        // never got its seat exists, any rebuild (the license's first included) restores it as
        // a seat too. Safety stays exact.
        let mut may_overcount = false;

        for op in ops {
            let now = clock.now();
            match op {
                Op::Acquire { client, license } => {
                    let l = &licenses[license];
                    let result = block_on(service.acquire(tenant.id, &Actor::System, &l.key, &hw[client], None));
                    let mine = held.get(&(client, license)).filter(|(_, exp)| *exp > now).copied();
                    match (mine, result) {
                        (Some((id, _)), Ok(lease)) => {
                            prop_assert_eq!(lease.session.id, id, "a retry must return the live session");
                            prop_assert!(!lease.new_seat);
                            prop_assert_eq!(last_event(&events), "held");
                            // A retry renews the seat, like a heartbeat.
                            prop_assert_eq!(lease.session.expires_at, now + TimeDelta::seconds(TTL));
                            held.insert((client, license), (id, lease.session.expires_at));
                        }
                        (Some(_), Err(e)) => prop_assert!(false, "a retry failed: {e}"),
                        (None, Ok(lease)) if may_overcount && !lease.new_seat => {
                            prop_assert_eq!(last_event(&events), "held");
                            held.insert((client, license), (lease.session.id, lease.session.expires_at));
                        }
                        (None, Ok(lease)) => {
                            prop_assert!(live(&held, license, now) < l.seats.get() as usize, "granted over the limit");
                            prop_assert_eq!(lease.session.expires_at, now + TimeDelta::seconds(TTL));
                            prop_assert!(lease.new_seat);
                            prop_assert_eq!(last_event(&events), "granted");
                            held.insert((client, license), (lease.session.id, lease.session.expires_at));
                        }
                        (None, Err(Error::NoSeatsAvailable { .. })) if may_overcount => {
                            let counted = block_on(service.live_seats(tenant.id, l.id)).unwrap();
                            prop_assert!(counted >= l.seats.get(), "refused with a free seat");
                            prop_assert_eq!(last_event(&events), "denied");
                        }
                        (None, Err(Error::NoSeatsAvailable { .. })) => {
                            prop_assert_eq!(live(&held, license, now), l.seats.get() as usize, "refused with a free seat");
                            prop_assert_eq!(last_event(&events), "denied");
                        }
                        (None, Err(e)) => prop_assert!(false, "unexpected error: {e}"),
                    }
                }
                Op::Heartbeat { client, license } => {
                    let Some(&(id, exp)) = held.get(&(client, license)) else { continue };
                    let result = block_on(service.heartbeat(tenant.id, id, &app()));
                    if may_overcount && exp <= now && result.is_ok() {
                        // A seat kept by the rebuild's slack: renewed, never freed meanwhile.
                        let lease = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
                        held.insert((client, license), (id, lease.session.expires_at));
                    } else if exp > now {
                        let lease = result.map_err(|e| TestCaseError::fail(format!("live heartbeat failed: {e}")))?;
                        prop_assert_eq!(lease.session.expires_at, now + TimeDelta::seconds(TTL));
                        prop_assert_eq!(last_event(&events), "renewed");
                        held.insert((client, license), (id, lease.session.expires_at));
                    } else {
                        prop_assert!(matches!(result, Err(Error::SessionExpired)), "an expired session came back: {result:?}");
                        held.remove(&(client, license));
                    }
                }
                Op::Release { client, license } => {
                    let Some((id, _)) = held.remove(&(client, license)) else { continue };
                    prop_assert!(block_on(service.release(tenant.id, id, &app())).is_ok());
                    let after = block_on(service.heartbeat(tenant.id, id, &app()));
                    prop_assert!(matches!(after, Err(Error::SessionExpired)), "a released session came back: {after:?}");
                }
                Op::Advance { seconds } => clock.advance(TimeDelta::seconds(seconds)),
                Op::Reap => { block_on(service.reap_once(3)).unwrap(); }
                Op::LedgerRestart => {
                    ledger.lose_state();
                    may_overcount = true;
                }
                Op::Orphan { client, license } => {
                    let orphan = Session::start(
                        SessionId::new(), tenant.id, licenses[license].id, hw[client].clone(),
                        None, now, now + TimeDelta::seconds(TTL),
                    )
                    .held_by(Actor::System);
                    block_on(store.insert_session(&orphan, 0)).unwrap();
                    may_overcount = true;
                }
                Op::FailedAcquire { client, license } => {
                    ledger.set_unavailable(true);
                    store.set_discards_fail(true);
                    let result = block_on(service.acquire(tenant.id, &Actor::System, &licenses[license].key, &hw[client], None));
                    ledger.set_unavailable(false);
                    store.set_discards_fail(false);
                    prop_assert!(matches!(result, Err(Error::Unavailable { .. })), "{result:?}");
                    may_overcount = true;
                }
            }
            // The server flushes renewals to the store every second; steps here are at least
            // that far apart. (Unflushed renewals at a Redis loss are the write-behind's case:
            // ADR 0017 and the fault soak.)
            block_on(service.flush_write_behind()).unwrap();
            // The ledger agrees with the model after every step.
            let now = clock.now();
            for (i, l) in licenses.iter().enumerate() {
                let counted = block_on(service.live_seats(tenant.id, l.id)).unwrap() as usize;
                if may_overcount {
                    prop_assert!(counted >= live(&held, i, now), "a live lease without a seat on license {}", i);
                } else {
                    prop_assert_eq!(counted, live(&held, i, now), "ledger and model disagree on license {}", i);
                }
                // The invariant itself: never more live leases than seats. (A rebuilt ledger may
                // count more seats than that, zombies the store cannot prove dead: it then
                // grants nothing until they expire.)
                prop_assert!(live(&held, i, now) <= l.seats.get() as usize, "oversold license {}", i);
                if !may_overcount {
                    prop_assert!(counted <= l.seats.get() as usize);
                }
            }
        }
    }
}

/// The caller in these tests: the embedding application itself (its sessions bind no one).
fn app() -> Caller {
    Caller::new(Actor::System)
}
