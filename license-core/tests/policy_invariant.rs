//! Seat policies under random schedules (ADR 0026): whatever the order of acquires, releases,
//! expiries, reaps and ledger losses, a reserve is never given away, a `max` is never exceeded,
//! an excluded requester never gets a seat, and (while the ledger kept its state) every
//! refusal names the limit the model says refuses it. Per-machine and per-user leasing; with or
//! without a queue (ADR 0029), whose waiters join and poll among the rest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures::executor::block_on;
use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::*;
use proptest::prelude::*;

const TTL: i64 = 360;

/// A client: its machine, its user, its host. Users `a*` are at a.com (group `a`), users
/// `b*` at b.com (group `b`, with host `hb` too); client 6 is user a0 again on another
/// machine, client 7 user b0 again (per-user leasing gives them their user's seat).
const CLIENTS: [(&str, &str, &str); 8] = [
    ("hw-0", "a0@a.com", "ha"),
    ("hw-1", "a1@a.com", "ha"),
    ("hw-2", "a2@a.com", "hx"),
    ("hw-3", "b0@b.com", "hb"),
    ("hw-4", "b1@b.com", "hb"),
    ("hw-5", "c0@c.com", "hx"),
    ("hw-6", "a0@a.com", "hy"),
    ("hw-7", "b0@b.com", "hy"),
];

fn group_of(c: usize) -> Option<&'static str> {
    let email = CLIENTS[c].1;
    if email.ends_with("@a.com") {
        Some("a")
    } else if email.ends_with("@b.com") {
        Some("b")
    } else {
        None
    }
}

#[derive(Clone, Debug)]
enum Op {
    Acquire(usize),
    Release(usize),
    Advance(i64),
    Reap,
    LedgerRestart,
    /// An acquire whose ledger call fails while the database cannot delete its record: a
    /// session on record (with its seat key and counters) that no client holds, which a
    /// rebuild restores as a seat (ADR 0017).
    FailedAcquire(usize),
    /// An acquire that waits in the queue (a join, or a poll of the client's ticket).
    Wait(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let client = 0..CLIENTS.len();
    prop_oneof![
        6 => client.clone().prop_map(Op::Acquire),
        3 => client.prop_map(Op::Release),
        2 => prop_oneof![0..=100i64, (TTL - 2)..=(TTL + 2)].prop_map(Op::Advance),
        1 => Just(Op::Reap),
        1 => Just(Op::LedgerRestart),
        1 => (0..CLIENTS.len()).prop_map(Op::FailedAcquire),
        4 => (0..CLIENTS.len()).prop_map(Op::Wait),
    ]
}

/// The policy's knobs: reserves for a and b, max for group a, max for user a0, max for host
/// hb, include a+b (everyone but c0), exclude b.
#[derive(Clone, Debug)]
struct Knobs {
    reserve_a: u32,
    reserve_b: u32,
    max_a: Option<u32>,
    max_user: Option<u32>,
    max_host: Option<u32>,
    include: bool,
    exclude_b: bool,
}

fn knobs() -> impl Strategy<Value = Knobs> {
    (
        0..=2u32,
        0..=2u32,
        prop::option::of(0..=3u32),
        prop::option::of(0..=1u32),
        prop::option::of(0..=1u32),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(reserve_a, reserve_b, max_a, max_user, max_host, include, exclude_b)| Knobs {
                reserve_a,
                reserve_b,
                max_a,
                max_user,
                max_host,
                include,
                exclude_b,
            },
        )
}

impl Knobs {
    fn options(&self) -> String {
        let mut text = String::from("GROUP a domain:a.com\nGROUP b domain:b.com host:hb\n");
        if self.reserve_a > 0 {
            text += &format!("RESERVE {} a\n", self.reserve_a);
        }
        if self.reserve_b > 0 {
            text += &format!("RESERVE {} b\n", self.reserve_b);
        }
        if let Some(n) = self.max_a {
            text += &format!("MAX {n} group:a\n");
        }
        if let Some(n) = self.max_user {
            text += &format!("MAX {n} user:a0@a.com\n");
        }
        if let Some(n) = self.max_host {
            text += &format!("MAX {n} host:hb\n");
        }
        if self.include {
            text += "INCLUDE a\nINCLUDE b\n";
        }
        if self.exclude_b {
            text += "EXCLUDE b\n";
        }
        text
    }

    fn excluded(&self, c: usize) -> bool {
        let group = group_of(c);
        (self.exclude_b && group == Some("b")) || (self.include && group.is_none())
    }
}

/// A live seat as the model sees it.
#[derive(Clone, Copy, Debug)]
struct Seat {
    id: SessionId,
    exp: DateTime<Utc>,
    client: usize,
}

/// What the model says an acquire of a new seat by `c` meets: `None` (granted) or the limit.
fn expected(k: &Knobs, seats: &[Seat], c: usize, limit: u32) -> Option<SeatLimit> {
    let in_use = seats.len() as u32;
    if in_use >= limit {
        return Some(SeatLimit::Seats);
    }
    let of_group = |g: &str| {
        seats
            .iter()
            .filter(|s| group_of(s.client) == Some(g))
            .count() as u32
    };
    let of_user = |u: &str| seats.iter().filter(|s| CLIENTS[s.client].1 == u).count() as u32;
    let of_host = |h: &str| seats.iter().filter(|s| CLIENTS[s.client].2 == h).count() as u32;
    let group = group_of(c);
    // Caps in the order the policy lists them: group, user, host.
    if let Some(max) = k.max_a
        && group == Some("a")
        && of_group("a") >= max
    {
        return Some(SeatLimit::GroupMax);
    }
    if let Some(max) = k.max_user
        && CLIENTS[c].1 == "a0@a.com"
        && of_user("a0@a.com") >= max
    {
        return Some(SeatLimit::UserMax);
    }
    if let Some(max) = k.max_host
        && CLIENTS[c].2 == "hb"
        && of_host("hb") >= max
    {
        return Some(SeatLimit::HostMax);
    }
    let lacking = |g: &str, r: u32| r.saturating_sub(of_group(g) + u32::from(group == Some(g)));
    if in_use + 1 + lacking("a", k.reserve_a) + lacking("b", k.reserve_b) > limit {
        return Some(SeatLimit::ReservedForOthers);
    }
    None
}

/// What client `c` asks with.
fn applicant(c: usize) -> Applicant {
    let (hw, email, host) = CLIENTS[c];
    Applicant {
        hardware_id: HardwareId::parse(hw).unwrap(),
        user_email: Some(UserEmail::parse(email).unwrap()),
        host_name: Some(HostName::parse(host).unwrap()),
        process_id: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn policies_are_never_broken(
        seats in 1..=5u32,
        k in knobs(),
        per_user in prop::bool::weighted(0.3),
        linger in prop_oneof![Just(0u32), Just(60u32)],
        queueing in prop::bool::weighted(0.5),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).unwrap());
        let store = Arc::new(MemoryStore::default());
        let ledger = Arc::new(MemoryLedger::new(Arc::new(clock.clone())));
        let signer = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap());
        let service = LicenseService::new(store.clone(), ledger.clone(), signer, Arc::new(clock.clone()), "prop");
        let admin = AdminService::new(store.clone(), Arc::new(clock.clone()));
        let tenant = block_on(admin.create_tenant("Prop", &Actor::Operator)).unwrap();
        // Reserves never exceed the seats sold: trim them as an administrator must.
        let k = Knobs {
            reserve_b: k.reserve_b.min(seats.saturating_sub(k.reserve_a.min(seats))),
            reserve_a: k.reserve_a.min(seats),
            ..k
        };
        let mut new = NewLicense::new("P", SeatCount::new(seats).unwrap());
        new.policy = parse_options(&k.options()).unwrap();
        if per_user {
            new.rules.leasing = LeasingStrategy::PerUser;
        }
        new.rules.linger_seconds = linger;
        if queueing {
            new.rules.max_wait_seconds = 120;
        }
        let license = block_on(admin.create_license(tenant.id, new, &Actor::Operator)).unwrap();
        // The seat's owner: the machine, or under per-user leasing the user.
        let owner = |c: usize| if per_user { CLIENTS[c].1 } else { CLIENTS[c].0 };
        let mut held: HashMap<&'static str, Seat> = HashMap::new();
        // Released seats lingering for their owner: they count, for their groups too.
        let mut lingering: HashMap<&'static str, Seat> = HashMap::new();
        let mut restarted = false;
        // Each waiting client's ticket, and until when it may live (its poll deadline or its
        // wait's end, whichever comes first): the model of the queue, loose enough to say
        // when a refusal may name it.
        let mut tickets: HashMap<usize, (SessionId, DateTime<Utc>, DateTime<Utc>)> = HashMap::new();

        for op in ops {
            let now = clock.now();
            held.retain(|_, s| s.exp > now);
            lingering.retain(|_, s| s.exp > now);
            tickets.retain(|_, (_, poll_by, wait_until)| *poll_by > now && *wait_until > now);
            let op = match op {
                // Without a queue, a wait is a plain acquire.
                Op::Wait(c) if !queueing => Op::Acquire(c),
                op => op,
            };
            match op {
                Op::Wait(c) => {
                    let ticket = tickets.get(&c).map(|(id, ..)| *id);
                    let wait = SeatWait { seconds: 120, ticket };
                    let live: Vec<Seat> = held
                        .values()
                        .chain(lingering.iter().filter(|(o, _)| **o != owner(c)).map(|(_, s)| s))
                        .copied()
                        .collect();
                    let want = expected(&k, &live, c, seats);
                    let result = block_on(service.acquire_waiting(tenant.id, &Actor::System, &license.key, &applicant(c), wait));
                    match (held.get(owner(c)).copied(), result) {
                        (_, Err(Error::Excluded(_))) => prop_assert!(k.excluded(c), "excluded wrongly"),
                        (_, Ok(_)) if k.excluded(c) => prop_assert!(false, "an excluded requester waits or holds"),
                        (Some(mine), Ok(Acquired::Lease(lease))) => {
                            prop_assert_eq!(lease.session.id, mine.id, "a retry returns the owner's seat");
                            held.insert(owner(c), Seat { exp: lease.session.expires_at, ..mine });
                            tickets.remove(&c);
                        }
                        (Some(_), other) => prop_assert!(false, "a seated client asking again: {other:?}"),
                        (None, Ok(Acquired::Lease(lease))) if restarted && !lease.new_seat => {
                            let first = CLIENTS.iter().position(|(hw, ..)| *hw == lease.session.hardware_id.as_str()).unwrap();
                            lingering.remove(owner(c));
                            held.insert(owner(c), Seat { id: lease.session.id, exp: lease.session.expires_at, client: first });
                            tickets.remove(&c);
                        }
                        (None, Ok(Acquired::Lease(lease))) => {
                            prop_assert!(want.is_none(), "a waiter granted, but the model says {want:?}");
                            if let Some(id) = ticket {
                                prop_assert_eq!(lease.session.id, id, "the ticket becomes the session");
                            }
                            lingering.remove(owner(c));
                            held.insert(owner(c), Seat { id: lease.session.id, exp: lease.session.expires_at, client: c });
                            tickets.remove(&c);
                        }
                        (None, Ok(Acquired::Waiting(place))) => {
                            prop_assert!(ticket.is_none_or(|id| id == place.ticket), "a poll keeps its ticket");
                            let wait_until = tickets.get(&c).map_or(place.wait_until, |t| t.2);
                            prop_assert_eq!(place.wait_until, wait_until, "a poll keeps its wait");
                            let poll_by = now + TimeDelta::from_std(place.poll_within).unwrap();
                            tickets.insert(c, (place.ticket, poll_by, place.wait_until));
                        }
                        (None, Err(Error::TicketGone)) => {
                            prop_assert!(ticket.is_some(), "a join answered as a poll");
                            // The model keeps a ticket the ledger may have lost with its state.
                            prop_assert!(restarted || !tickets.contains_key(&c), "a live ticket is gone");
                            tickets.remove(&c);
                        }
                        // A waiter joins the queue rather than be refused (a take-back of its
                        // own lingering seat too), refused only over the limit a rebuild may
                        // leave (ADR 0017).
                        (None, Err(Error::NoSeatsAvailable { .. })) => {
                            prop_assert!(restarted, "a waiter refused instead of queued");
                        }
                        (None, Err(e)) => prop_assert!(false, "unexpected error: {e}"),
                    }
                }
                Op::Acquire(c) => {
                    let applicant = applicant(c);
                    // Counted seats, but the owner's own lingering seat, which it takes back.
                    let live: Vec<Seat> = held
                        .values()
                        .chain(lingering.iter().filter(|(o, _)| **o != owner(c)).map(|(_, s)| s))
                        .copied()
                        .collect();
                    let want = expected(&k, &live, c, seats);
                    let result = block_on(service.acquire_as(tenant.id, &Actor::System, &license.key, &applicant));
                    match (held.get(owner(c)).copied(), result) {
                        (_, Err(Error::Excluded(_))) => prop_assert!(k.excluded(c), "excluded wrongly"),
                        (_, Ok(_)) if k.excluded(c) => prop_assert!(false, "an excluded requester got a seat"),
                        (Some(mine), Ok(lease)) => {
                            prop_assert_eq!(lease.session.id, mine.id, "a retry returns the owner's seat");
                            prop_assert!(!lease.new_seat);
                            // A retry renews the seat.
                            held.insert(owner(c), Seat { exp: lease.session.expires_at, ..mine });
                        }
                        (Some(_), Err(e)) => prop_assert!(false, "a retry failed: {e}"),
                        (None, Ok(lease)) if restarted && !lease.new_seat => {
                            // A seat the rebuild kept: it stays its first machine's (per-user
                            // leasing returns it to its user on any machine).
                            let first = CLIENTS.iter().position(|(hw, ..)| *hw == lease.session.hardware_id.as_str()).unwrap();
                            // The rebuild restored the owner's live session, not its linger.
                            lingering.remove(owner(c));
                            held.insert(owner(c), Seat { id: lease.session.id, exp: lease.session.expires_at, client: first });
                        }
                        (None, Ok(lease)) => {
                            prop_assert!(lease.new_seat);
                            prop_assert!(want.is_none(), "granted, but the model says {want:?}");
                            lingering.remove(owner(c));
                            held.insert(owner(c), Seat { id: lease.session.id, exp: lease.session.expires_at, client: c });
                        }
                        (None, Err(Error::NoSeatsAvailable { reached, .. })) => {
                            // After a ledger loss the rebuild may keep seats the store cannot
                            // prove dead (ADR 0017): the ledger then refuses more, never less.
                            // Waiters may stand in the way of a seat the model says is free.
                            if reached == SeatLimit::Queued {
                                // After a ledger loss the rebuild restores the tickets on
                                // record, also ones the ledger had dropped for not polling
                                // (ADR 0029): for one poll window they may stand in the way.
                                prop_assert!(want.is_none() && (!tickets.is_empty() || restarted), "refused for a queue the model does not have");
                            } else if !restarted {
                                prop_assert_eq!(Some(reached), want, "refused for another limit");
                            }
                        }
                        (None, Err(e)) => prop_assert!(false, "unexpected error: {e}"),
                    }
                }
                Op::Release(c) => {
                    let Some(mine) = held.remove(owner(c)) else { continue };
                    let result = block_on(service.release(tenant.id, mine.id, &Caller::new(Actor::System)));
                    prop_assert!(result.is_ok(), "{result:?}");
                    if linger > 0 && mine.exp > clock.now() {
                        lingering.insert(owner(c), Seat { exp: clock.now() + TimeDelta::seconds(i64::from(linger)), ..mine });
                    }
                }
                Op::Advance(seconds) => clock.advance(TimeDelta::seconds(seconds)),
                Op::Reap => { block_on(service.reap_once(3)).unwrap(); }
                Op::LedgerRestart => {
                    ledger.lose_state();
                    restarted = true;
                }
                Op::FailedAcquire(c) => {
                    ledger.set_unavailable(true);
                    store.set_discards_fail(true);
                    let result = block_on(service.acquire_as(tenant.id, &Actor::System, &license.key, &applicant(c)));
                    ledger.set_unavailable(false);
                    store.set_discards_fail(false);
                    prop_assert!(matches!(result, Err(Error::Unavailable { .. }) | Err(Error::Excluded(_))), "{result:?}");
                    // Any rebuild from now on (not only after a loss) may restore the record.
                    restarted = true;
                }
            }
            block_on(service.flush_write_behind()).unwrap();
            let now = clock.now();
            held.retain(|_, s| s.exp > now);
            lingering.retain(|_, s| s.exp > now);
            // The invariants on what is held now (the policy never changes in a run).
            let live: Vec<Seat> = held.values().copied().collect();
            prop_assert!(live.len() as u32 <= seats, "oversold");
            prop_assert!(live.iter().all(|s| !k.excluded(s.client)), "an excluded requester holds a seat");
            let of_group = |g: &str| live.iter().filter(|s| group_of(s.client) == Some(g)).count() as u32;
            if let Some(max) = k.max_a {
                prop_assert!(of_group("a") <= max, "group a over its max");
            }
            if let Some(max) = k.max_user {
                prop_assert!(live.iter().filter(|s| CLIENTS[s.client].1 == "a0@a.com").count() as u32 <= max, "user over its max");
            }
            if let Some(max) = k.max_host {
                prop_assert!(live.iter().filter(|s| CLIENTS[s.client].2 == "hb").count() as u32 <= max, "host over its max");
            }
            if per_user {
                let mut users: Vec<&str> = live.iter().map(|s| CLIENTS[s.client].1).collect();
                users.sort_unstable();
                let n = users.len();
                users.dedup();
                prop_assert_eq!(users.len(), n, "a user holds two seats under per-user leasing");
            }
            let counted = block_on(service.live_seats(tenant.id, license.id)).unwrap() as usize;
            if !restarted {
                prop_assert_eq!(counted, live.len() + lingering.len(), "ledger and model disagree");
            }
        }
    }
}
