//! The seat invariant under borrow, return, evict (with hold-offs), linger and overdraft,
//! checked against a model under random schedules (ADR 0025).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures::executor::block_on;
use license_core::evict::EvictOptions;
use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::*;
use proptest::prelude::*;

const CLIENTS: usize = 5;
const TTL: i64 = 360;
const MAX_BORROW: u32 = 2_000;

#[derive(Clone, Debug)]
enum Op {
    Acquire(usize),
    Borrow(usize, u32),
    Heartbeat(usize),
    Release(usize),
    Return(usize),
    Evict(usize, u32),
    Advance(i64),
    Reap,
    LedgerRestart,
    /// An acquire (or a borrow for so many seconds) whose ledger call fails while the
    /// database cannot delete its record: a session on record that no client holds, which a
    /// rebuild restores as a seat (ADR 0017).
    FailedAcquire(usize, Option<u32>),
}

fn op() -> impl Strategy<Value = Op> {
    let client = 0..CLIENTS;
    prop_oneof![
        4 => client.clone().prop_map(Op::Acquire),
        2 => (client.clone(), 1..=MAX_BORROW).prop_map(|(c, s)| Op::Borrow(c, s)),
        3 => client.clone().prop_map(Op::Heartbeat),
        2 => client.clone().prop_map(Op::Release),
        1 => client.clone().prop_map(Op::Return),
        1 => (client, prop_oneof![Just(0u32), 1..=600u32]).prop_map(|(c, h)| Op::Evict(c, h)),
        3 => prop_oneof![0..=130i64, (TTL - 2)..=(TTL + 2), 500..=2_100i64].prop_map(Op::Advance),
        1 => Just(Op::Reap),
        1 => Just(Op::LedgerRestart),
        1 => (0..CLIENTS, prop::option::of(1..=MAX_BORROW)).prop_map(|(c, b)| Op::FailedAcquire(c, b)),
    ]
}

/// Seats, overdraft, linger seconds, borrow cap.
type Terms = (u32, u32, u32, Option<u32>);

fn terms() -> impl Strategy<Value = Terms> {
    (
        1..=3u32,
        0..=2u32,
        prop_oneof![Just(0u32), Just(60u32), Just(400u32)],
        prop_oneof![Just(None), (1..=2u32).prop_map(Some)],
    )
}

/// What a client believes it holds.
#[derive(Clone, Copy, Debug)]
struct Held {
    id: SessionId,
    exp: DateTime<Utc>,
    borrowed: bool,
}

#[derive(Default)]
struct Model {
    held: HashMap<usize, Held>,
    /// Released seats lingering for their client, until.
    lingering: HashMap<usize, DateTime<Utc>>,
    /// Hold-offs after an eviction, until.
    holds: HashMap<usize, DateTime<Utc>>,
    /// Sessions an administrator evicted: their heartbeats must say so.
    evicted: HashSet<SessionId>,
}

impl Model {
    fn live(&self, now: DateTime<Utc>) -> usize {
        self.held.values().filter(|h| h.exp > now).count()
    }
    fn borrowed(&self, now: DateTime<Utc>) -> usize {
        self.held
            .values()
            .filter(|h| h.borrowed && h.exp > now)
            .count()
    }
    fn lingering(&self, now: DateTime<Utc>) -> usize {
        self.lingering.values().filter(|u| **u > now).count()
    }
    fn held_off(&self, client: usize, now: DateTime<Utc>) -> bool {
        self.holds.get(&client).is_some_and(|u| *u > now)
    }
    fn mine(&self, client: usize, now: DateTime<Utc>) -> Option<Held> {
        self.held.get(&client).copied().filter(|h| h.exp > now)
    }
}

fn app() -> Caller {
    Caller::new(Actor::System)
}

// Invariant: whatever the schedule, live leases never exceed seats plus overdraft, and counted
// seats (leases plus lingering seats) never exceed it either; borrowed leases never exceed the
// borrow cap; a grant beyond seats_total is marked overdraft (session and token); a held-off
// machine gets no seat until its hold-off ends; an evicted session's heartbeat says evicted; a
// lingering seat goes back to its machine only; a borrowed seat needs no heartbeat and keeps its
// end; the ledger agrees with the model whenever it has not lost its state.
proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn seat_rules_never_oversell((seats, overdraft, linger, cap) in terms(), ops in prop::collection::vec(op(), 1..100)) {
        let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).unwrap());
        let store = Arc::new(MemoryStore::default());
        let ledger = Arc::new(MemoryLedger::new(Arc::new(clock.clone())));
        let signer = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap());
        let service = LicenseService::new(store.clone(), ledger.clone(), signer, Arc::new(clock.clone()), "prop");
        let admin = AdminService::new(store.clone(), Arc::new(clock.clone()));
        let tenant = block_on(admin.create_tenant("Prop", &Actor::Operator)).unwrap();
        let cap = cap.map(|c| c.min(seats + overdraft));
        let mut new = NewLicense::new("P", SeatCount::new(seats).unwrap());
        new.overdraft = overdraft;
        new.rules = SeatRules {
            max_borrow_seconds: MAX_BORROW,
            max_borrowed_seats: cap,
            linger_seconds: linger,
            ..SeatRules::default()
        };
        let license = block_on(admin.create_license(tenant.id, new, &Actor::Operator)).unwrap();
        let limit = (seats + overdraft) as usize;
        let hw: Vec<HardwareId> = (0..CLIENTS).map(|c| HardwareId::parse(&format!("hw-{c}")).unwrap()).collect();
        let mut m = Model::default();
        // After a ledger loss the rebuild keeps seats the store cannot prove dead for the
        // write-behind slack (ADR 0017): counts may then run above the model, never the leases.
        let mut restarted = false;

        for op in ops {
            let now = clock.now();
            match op {
                Op::Acquire(c) | Op::Borrow(c, _) => {
                    let borrow = match op { Op::Borrow(_, s) => Some(s), _ => None };
                    let result = match borrow {
                        Some(s) => block_on(service.borrow(tenant.id, &Actor::System, &license.key, &hw[c], None, s)),
                        None => block_on(service.acquire(tenant.id, &Actor::System, &license.key, &hw[c], None)),
                    };
                    let counted_before = m.live(now) + m.lingering(now);
                    match (m.mine(c, now), result) {
                        (_, Err(Error::HeldOff { until, .. })) => {
                            prop_assert!(m.held_off(c, now), "held off without an eviction");
                            prop_assert_eq!(Some(&until), m.holds.get(&c));
                        }
                        (_, Ok(_)) | (_, Err(_)) if m.held_off(c, now) => {
                            prop_assert!(false, "a held-off machine was not refused");
                        }
                        (Some(mine), Ok(lease)) => {
                            prop_assert_eq!(lease.session.id, mine.id, "a retry must return the live session");
                            prop_assert!(!lease.new_seat);
                            if mine.borrowed {
                                prop_assert_eq!(lease.session.expires_at, mine.exp, "a borrow keeps its end");
                            } else {
                                prop_assert!(borrow.is_none(), "a held seat was turned into a borrow");
                                m.held.insert(c, Held { exp: lease.session.expires_at, ..mine });
                            }
                        }
                        (Some(mine), Err(Error::Conflict(_))) => {
                            prop_assert!(borrow.is_some() && !mine.borrowed, "conflict is for borrowing over a held seat");
                        }
                        (Some(_), Err(e)) => prop_assert!(false, "a retry failed: {e}"),
                        (None, Ok(lease)) if restarted && !lease.new_seat => {
                            m.held.insert(c, Held { id: lease.session.id, exp: lease.session.expires_at, borrowed: lease.session.borrowed });
                        }
                        (None, Ok(lease)) => {
                            prop_assert!(lease.new_seat);
                            let takeover = m.lingering.get(&c).is_some_and(|u| *u > now);
                            if !takeover {
                                prop_assert!(m.live(now) < limit, "granted over the limit");
                                prop_assert!(restarted || counted_before < limit, "granted a seat that lingers for another machine");
                            }
                            let exp = match borrow {
                                Some(s) => now + TimeDelta::seconds(i64::from(s)),
                                None => now + TimeDelta::seconds(TTL),
                            };
                            prop_assert_eq!(lease.session.expires_at, exp);
                            prop_assert_eq!(lease.session.borrowed, borrow.is_some());
                            if borrow.is_some() {
                                prop_assert!(cap.is_none_or(|cap| m.borrowed(now) < cap as usize), "borrowed over the cap");
                            }
                            let in_use = if takeover { counted_before } else { counted_before + 1 };
                            if !restarted {
                                prop_assert_eq!(lease.session.overdraft, in_use > seats as usize, "overdraft mark");
                            }
                            let claims: serde_json::Value = serde_json::from_slice(
                                &base64_url(lease.token.split('.').nth(1).unwrap()),
                            ).unwrap();
                            prop_assert_eq!(claims["ovd"].as_bool().unwrap_or(false), lease.session.overdraft);
                            prop_assert_eq!(claims["brw"].as_bool().unwrap_or(false), lease.session.borrowed);
                            m.lingering.remove(&c);
                            m.held.insert(c, Held { id: lease.session.id, exp, borrowed: borrow.is_some() });
                        }
                        // The rebuild's slack kept this machine's expired seat: a borrow over it is
                        // a conflict, as over a live one.
                        (None, Err(Error::Conflict(_))) if restarted && borrow.is_some() => {}
                        (None, Err(Error::NoSeatsAvailable { .. })) => {
                            prop_assert!(restarted || counted_before >= limit, "refused with a free seat");
                            prop_assert!(restarted || m.lingering.get(&c).is_none_or(|u| *u <= now), "a lingering seat refused to its own machine");
                        }
                        (None, Err(Error::BorrowLimitReached { .. })) => {
                            prop_assert!(borrow.is_some());
                            prop_assert!(restarted || cap.is_some_and(|cap| m.borrowed(now) >= cap as usize), "borrow refused under the cap");
                        }
                        (None, Err(e)) => prop_assert!(false, "unexpected error: {e}"),
                    }
                }
                Op::Heartbeat(c) => {
                    let Some(&mine) = m.held.get(&c) else { continue };
                    let result = block_on(service.heartbeat(tenant.id, mine.id, &app()));
                    if mine.exp > now {
                        let lease = result.map_err(|e| TestCaseError::fail(format!("live heartbeat failed: {e}")))?;
                        if mine.borrowed {
                            prop_assert_eq!(lease.session.expires_at, mine.exp, "a check-in keeps the borrow's end");
                        } else {
                            prop_assert_eq!(lease.session.expires_at, now + TimeDelta::seconds(TTL));
                            m.held.insert(c, Held { exp: lease.session.expires_at, ..mine });
                        }
                    } else if restarted && result.is_ok() {
                        let lease = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
                        m.held.insert(c, Held { exp: lease.session.expires_at, ..mine });
                    } else {
                        prop_assert!(matches!(result, Err(Error::SessionExpired)), "an expired session came back: {result:?}");
                        m.held.remove(&c);
                    }
                }
                Op::Release(c) | Op::Return(c) => {
                    let Some(mine) = m.held.get(&c).copied() else { continue };
                    let returning = matches!(op, Op::Return(_));
                    let result = if returning {
                        block_on(service.return_borrowed(tenant.id, mine.id, &app()))
                    } else {
                        block_on(service.release(tenant.id, mine.id, &app()))
                    };
                    if returning && !mine.borrowed {
                        prop_assert!(matches!(result, Err(Error::InvalidInput { field: "session_id", .. })), "{result:?}");
                        continue;
                    }
                    prop_assert!(result.is_ok(), "{result:?}");
                    m.held.remove(&c);
                    if linger > 0 && !mine.borrowed && mine.exp > now {
                        m.lingering.insert(c, now + TimeDelta::seconds(i64::from(linger)));
                    }
                    let after = block_on(service.heartbeat(tenant.id, mine.id, &app()));
                    prop_assert!(matches!(after, Err(Error::SessionExpired)), "a released session came back: {after:?}");
                }
                Op::Evict(c, hold) => {
                    let Some(mine) = m.mine(c, now) else { continue };
                    let audit = AuditEvent::new(tenant.id, Actor::Operator, "session.force_release", format!("session:{}", mine.id), now, serde_json::json!({}));
                    let options = EvictOptions { hold_off_seconds: hold, reason: Some("audit".into()), force: false };
                    let evicted = block_on(service.evict_session(tenant.id, mine.id, &options, &audit)).unwrap();
                    prop_assert_eq!(evicted.end_reason, Some(EndReason::Evicted));
                    m.held.remove(&c);
                    m.evicted.insert(mine.id);
                    if hold > 0 {
                        m.holds.insert(c, now + TimeDelta::seconds(i64::from(hold)));
                    }
                    let after = block_on(service.heartbeat(tenant.id, mine.id, &app()));
                    prop_assert!(matches!(after, Err(Error::SessionEvicted { .. })), "an evicted session heartbeat: {after:?}");
                }
                Op::Advance(seconds) => clock.advance(TimeDelta::seconds(seconds)),
                Op::Reap => { block_on(service.reap_once(3)).unwrap(); }
                Op::LedgerRestart => {
                    ledger.lose_state();
                    restarted = true;
                }
                Op::FailedAcquire(c, borrow) => {
                    ledger.set_unavailable(true);
                    store.set_discards_fail(true);
                    let result = match borrow {
                        Some(s) => block_on(service.borrow(tenant.id, &Actor::System, &license.key, &hw[c], None, s)),
                        None => block_on(service.acquire(tenant.id, &Actor::System, &license.key, &hw[c], None)),
                    };
                    ledger.set_unavailable(false);
                    store.set_discards_fail(false);
                    prop_assert!(matches!(result, Err(Error::Unavailable { .. })), "{result:?}");
                    // Any rebuild from now on (not only after a loss) may restore the record.
                    restarted = true;
                }
            }
            block_on(service.flush_write_behind()).unwrap();
            let now = clock.now();
            m.lingering.retain(|_, u| *u > now);
            let counted = block_on(service.live_seats(tenant.id, license.id)).unwrap() as usize;
            let model = m.live(now) + m.lingering(now);
            if restarted {
                prop_assert!(counted >= m.live(now), "a live lease without a seat");
            } else {
                prop_assert_eq!(counted, model, "ledger and model disagree");
            }
            // The invariant itself.
            prop_assert!(m.live(now) <= limit, "oversold");
            prop_assert!(cap.is_none_or(|cap| m.borrowed(now) <= cap as usize), "over the borrow cap");
            if !restarted {
                prop_assert!(model <= limit, "leases and lingering seats over the limit");
            }
        }
    }
}

/// Decodes base64url without padding (a JWS part).
fn base64_url(part: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap()
}
