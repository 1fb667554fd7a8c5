//! The seat queue's rules under random schedules (ADR 0029), checked against a model: tickets
//! in priority-then-arrival order, nobody seated ahead of a live ticket that could take the
//! seat, zombie and timed-out tickets dropped, group caps and the seat count never passed; and
//! a rebuild from the tickets on record (what the store keeps) gives back the same order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::executor::block_on;
use license_core::memory::MemoryLedger;
use license_core::*;
use proptest::prelude::*;

const MACHINES: usize = 7;
const POLL_MS: i64 = 1_000;
const WAIT_MS: i64 = 4_000;
const MAX_LENGTH: u32 = 4;
/// The `eng` group's cap (machines of even number are in it).
const ENG_CAP: u32 = 1;

#[derive(Clone, Debug)]
enum Op {
    /// An acquire that waits: joins, or keeps its place.
    Join {
        machine: usize,
        priority: u32,
    },
    /// A poll of the machine's ticket.
    Poll {
        machine: usize,
    },
    /// A plain acquire.
    Plain {
        machine: usize,
        priority: u32,
    },
    Release {
        machine: usize,
    },
    Leave {
        machine: usize,
    },
    Advance {
        ms: i64,
    },
    /// The ledger loses its state and is rebuilt from the seats and the tickets on record.
    Rebuild,
}

fn op() -> impl Strategy<Value = Op> {
    let machine = 0..MACHINES;
    prop_oneof![
        4 => (machine.clone(), 0..3u32).prop_map(|(machine, priority)| Op::Join { machine, priority }),
        5 => machine.clone().prop_map(|machine| Op::Poll { machine }),
        2 => (machine.clone(), 0..3u32).prop_map(|(machine, priority)| Op::Plain { machine, priority }),
        3 => machine.clone().prop_map(|machine| Op::Release { machine }),
        1 => machine.prop_map(|machine| Op::Leave { machine }),
        // Around the poll deadline and the wait's end, so expiries land on, before and after.
        2 => prop_oneof![0..=400i64, (POLL_MS - 2)..=(POLL_MS + 2), (WAIT_MS - 2)..=(WAIT_MS + 2)]
            .prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Rebuild),
    ]
}

fn eng(machine: usize) -> bool {
    machine.is_multiple_of(2)
}

/// What the machine's seat counts toward and must respect.
fn tally(machine: usize, limited: bool) -> SeatTally {
    if !eng(machine) || !limited {
        return SeatTally::default();
    }
    let group = Counter::group("eng");
    SeatTally {
        counters: vec![group.clone()],
        caps: vec![Cap {
            counter: group,
            max: ENG_CAP,
            limit: SeatLimit::GroupMax,
        }],
        reserves: vec![],
    }
}

#[derive(Clone, Debug)]
struct Ticket {
    priority: u32,
    arrival: u64,
    poll_by: DateTime<Utc>,
    wait_until: DateTime<Utc>,
}

impl Ticket {
    fn live(&self, now: DateTime<Utc>) -> bool {
        self.poll_by > now && self.wait_until > now
    }
    /// Whether it stands ahead of a ticket (or a plain asker) at `priority`, `arrival`.
    fn ahead_of(&self, priority: u32, arrival: u64) -> bool {
        self.priority > priority || (self.priority == priority && self.arrival < arrival)
    }
}

/// The model: who holds a seat, who waits where.
#[derive(Default)]
struct Model {
    /// Each machine's current session (a new one after its seat or ticket ended).
    sessions: HashMap<usize, SessionId>,
    seats: HashMap<usize, SessionId>,
    tickets: HashMap<usize, Ticket>,
    arrivals: u64,
    /// The tickets on record, as the use case keeps them in the store: written at a join with
    /// the ledger's arrival number, deleted when the wait ends with a seat, a leave or a poll
    /// that finds it gone (a ticket dropped unpolled stays until its wait ends).
    records: HashMap<usize, Record>,
}

#[derive(Clone, Debug)]
struct Record {
    ticket: QueueTicket,
    /// The model's arrival number of the ticket.
    arrival: u64,
}

impl Model {
    fn session(&mut self, machine: usize) -> SessionId {
        *self.sessions.entry(machine).or_default()
    }
    fn prune(&mut self, now: DateTime<Utc>) {
        self.tickets.retain(|_, t| t.live(now));
    }
    /// The live tickets standing ahead of `machine` (at `priority` when it has no ticket).
    fn ahead(&self, machine: usize, priority: u32) -> Vec<usize> {
        let (p, a) = match self.tickets.get(&machine) {
            Some(t) => (t.priority, t.arrival),
            None => (priority, u64::MAX),
        };
        self.tickets
            .iter()
            .filter(|(m, t)| **m != machine && t.ahead_of(p, a))
            .map(|(m, _)| *m)
            .collect()
    }
    fn eng_seats(&self) -> u32 {
        self.seats.keys().filter(|m| eng(**m)).count() as u32
    }
}

/// The tickets of the ledger's queue, first in line first.
fn waiting(ledger: &MemoryLedger, key: &LedgerKey) -> Vec<SessionId> {
    block_on(ledger.queue(key, 100))
        .unwrap()
        .into_iter()
        .map(|w| w.ticket)
        .collect()
}

fn hardware(machine: usize) -> HardwareId {
    HardwareId::parse(&format!("machine-{machine}")).unwrap()
}

fn run(limit: u32, limited: bool, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let ledger = MemoryLedger::new(clock.clone());
    let key = LedgerKey {
        tenant_id: TenantId::new(),
        license_id: LicenseId::new(),
    };
    block_on(ledger.rebuild(&key, &[], &[])).unwrap();
    let mut model = Model::default();
    let poll_within = Duration::from_millis(POLL_MS as u64);
    for op in ops {
        let now = clock.now();
        model.prune(now);
        let ask = |model: &mut Model, machine: usize, queue: QueueRequest| {
            let request = SeatRequest {
                session_id: model.session(machine),
                hardware_id: hardware(machine),
                user: None,
                limit,
                ttl: Duration::from_secs(3_600),
                borrow: None,
                tally: tally(machine, limited),
            };
            block_on(ledger.acquire_queued(&key, &request, &queue)).unwrap()
        };
        let asking = match op {
            Op::Join { machine, priority } => Some((
                machine,
                priority,
                QueueMode::Join {
                    wait: Duration::from_millis(WAIT_MS as u64),
                    poll_within,
                    max_length: MAX_LENGTH,
                },
            )),
            Op::Plain { machine, priority } => Some((machine, priority, QueueMode::Pass)),
            Op::Poll { machine } => Some((machine, 0, QueueMode::Poll { poll_within })),
            _ => None,
        };
        match (asking, op) {
            (Some((machine, priority, mode)), _) if model.seats.contains_key(&machine) => {
                let outcome = ask(&mut model, machine, QueueRequest { priority, mode });
                prop_assert!(
                    matches!(outcome, AcquireOutcome::AlreadyHeld { .. }),
                    "a seated machine asking again: {outcome:?}"
                );
            }
            (Some((machine, priority, mode)), _) => {
                // The ticket's own priority counts once it has one.
                let standing = model.tickets.get(&machine).map_or(priority, |t| t.priority);
                let ahead = model.ahead(machine, standing);
                let in_use = model.seats.len() as u32;
                let outcome = ask(&mut model, machine, QueueRequest { priority, mode });
                match outcome {
                    AcquireOutcome::Granted { in_use: after, .. } => {
                        prop_assert!(after <= limit, "{after} seats of {limit}");
                        prop_assert!(
                            !matches!(mode, QueueMode::Poll { .. })
                                || model.tickets.contains_key(&machine),
                            "a poll without a live ticket was granted"
                        );
                        // Tickets ahead that surely could take a seat (no cap of their own
                        // in the way: not `eng`, or the asker's own class) each leave one
                        // seat fewer for it.
                        let sure = ahead
                            .iter()
                            .filter(|m| !model.seats.contains_key(m))
                            .filter(|m| !(limited && eng(**m)) || (eng(**m) == eng(machine)))
                            .count() as u32;
                        prop_assert!(
                            in_use + sure < limit,
                            "machine {machine} seated past {sure} live tickets ahead with \
                             {in_use} of {limit} seats taken"
                        );
                        let session = model.session(machine);
                        model.seats.insert(machine, session);
                        model.tickets.remove(&machine);
                        model.records.remove(&machine);
                    }
                    AcquireOutcome::Queued {
                        position,
                        wait_until,
                        arrival,
                    } => {
                        prop_assert!(!matches!(mode, QueueMode::Pass));
                        if let Some(ticket) = model.tickets.get_mut(&machine) {
                            ticket.poll_by = now + TimeDelta::milliseconds(POLL_MS);
                            prop_assert_eq!(wait_until, ticket.wait_until);
                        } else {
                            prop_assert!(
                                matches!(mode, QueueMode::Join { .. }),
                                "a poll without a live ticket was queued"
                            );
                            prop_assert!((model.tickets.len() as u32) < MAX_LENGTH);
                            model.arrivals += 1;
                            let record = QueueTicket {
                                tenant_id: key.tenant_id,
                                license_id: key.license_id,
                                ticket: model.session(machine),
                                seat: hardware(machine),
                                priority,
                                arrival,
                                joined_at: now,
                                wait_until,
                                tally: tally(machine, limited),
                            };
                            let model_arrival = model.arrivals;
                            model.records.insert(
                                machine,
                                Record {
                                    ticket: record,
                                    arrival: model_arrival,
                                },
                            );
                            model.tickets.insert(
                                machine,
                                Ticket {
                                    priority,
                                    arrival: model.arrivals,
                                    poll_by: now + TimeDelta::milliseconds(POLL_MS),
                                    wait_until: now + TimeDelta::milliseconds(WAIT_MS),
                                },
                            );
                            prop_assert_eq!(wait_until, now + TimeDelta::milliseconds(WAIT_MS));
                        }
                        let expected = model.ahead(machine, priority).len() as u32 + 1;
                        prop_assert_eq!(position, expected, "position of machine {}", machine);
                    }
                    AcquireOutcome::QueueFull => {
                        prop_assert!(matches!(mode, QueueMode::Join { .. }), "only a join");
                        prop_assert!(!model.tickets.contains_key(&machine));
                        // More only after a rebuild restored tickets dropped unpolled.
                        prop_assert!(model.tickets.len() as u32 >= MAX_LENGTH);
                    }
                    AcquireOutcome::TicketGone => {
                        prop_assert!(matches!(mode, QueueMode::Poll { .. }), "only a poll");
                        prop_assert!(!model.tickets.contains_key(&machine), "its ticket lives");
                        model.sessions.remove(&machine);
                        model.records.remove(&machine);
                    }
                    AcquireOutcome::Limited(SeatLimit::Queued) => {
                        prop_assert!(matches!(mode, QueueMode::Pass));
                        prop_assert!(!ahead.is_empty(), "refused for a queue with none ahead");
                        prop_assert!(in_use < limit);
                    }
                    AcquireOutcome::NoSeats => {
                        prop_assert!(matches!(mode, QueueMode::Pass));
                        prop_assert_eq!(in_use, limit);
                    }
                    AcquireOutcome::Limited(SeatLimit::GroupMax) => {
                        prop_assert!(matches!(mode, QueueMode::Pass));
                        prop_assert!(limited && eng(machine) && model.eng_seats() >= ENG_CAP);
                    }
                    other => prop_assert!(false, "unexpected {other:?}"),
                }
            }
            (None, Op::Release { machine }) => {
                if let Some(session) = model.seats.remove(&machine) {
                    block_on(ledger.release(&key, SeatRef::new(session, &hardware(machine))))
                        .unwrap();
                    model.sessions.remove(&machine);
                }
            }
            (None, Op::Leave { machine }) => {
                let session = model.session(machine);
                let left = block_on(ledger.leave(&key, session)).unwrap();
                model.records.remove(&machine);
                // A ticket the ledger still has but the model dropped as expired is pruned
                // by the ledger's next acquire: leave may find it; it must find a live one.
                if model.tickets.remove(&machine).is_some() {
                    prop_assert!(left, "a live ticket was not found");
                }
            }
            (None, Op::Advance { ms }) => clock.advance(TimeDelta::milliseconds(ms)),
            (None, Op::Rebuild) => {
                let before = waiting(&ledger, &key);
                // The store's answer: live waits, by priority, then arrival.
                let mut live: Vec<Record> = model
                    .records
                    .values()
                    .filter(|r| r.ticket.wait_until > now)
                    .cloned()
                    .collect();
                live.sort_by_key(|r| (std::cmp::Reverse(r.ticket.priority), r.ticket.arrival));
                let tickets: Vec<QueueTicket> = live.iter().map(|r| r.ticket.clone()).collect();
                let seats: Vec<LiveSeat> = model
                    .seats
                    .iter()
                    .map(|(machine, session)| LiveSeat {
                        session_id: *session,
                        hardware_id: hardware(*machine),
                        expires_at: now + TimeDelta::hours(1),
                        kind: SeatKind::Held,
                        counters: tally(*machine, limited).counters,
                    })
                    .collect();
                ledger.lose_state();
                let rebuilt =
                    block_on(ledger.rebuild_queued(&key, &seats, &[], &tickets, poll_within));
                prop_assert_eq!(rebuilt.unwrap(), RebuildOutcome::Rebuilt);
                let after = waiting(&ledger, &key);
                prop_assert_eq!(
                    &after,
                    &tickets.iter().map(|t| t.ticket).collect::<Vec<_>>(),
                    "the rebuilt queue is the record's, in its order"
                );
                let kept: Vec<SessionId> = after
                    .iter()
                    .filter(|t| before.contains(t))
                    .copied()
                    .collect();
                prop_assert_eq!(kept, before, "a rebuild keeps the order of live tickets");
                // Every ticket on record waits again, polled now (one dropped unpolled too).
                for record in live {
                    let machine = model
                        .records
                        .iter()
                        .find(|(_, r)| r.ticket.ticket == record.ticket.ticket)
                        .map(|(m, _)| *m)
                        .unwrap();
                    model.sessions.insert(machine, record.ticket.ticket);
                    model.tickets.insert(
                        machine,
                        Ticket {
                            priority: record.ticket.priority,
                            arrival: record.arrival,
                            poll_by: now + TimeDelta::milliseconds(POLL_MS),
                            wait_until: record.ticket.wait_until,
                        },
                    );
                }
            }
            (None, _) => unreachable!("every ask is handled above"),
        }
        // The seat count and the group cap hold whatever the queue does.
        let LiveCount::Count(live) = block_on(ledger.live_count(&key)).unwrap() else {
            return Err(TestCaseError::fail("lost state"));
        };
        prop_assert_eq!(live, model.seats.len() as u32);
        prop_assert!(live <= limit);
        if limited {
            prop_assert!(model.eng_seats() <= ENG_CAP);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn the_queue_keeps_its_order_and_every_limit(
        limit in 1..=3u32,
        limited in any::<bool>(),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        run(limit, limited, ops)?;
    }
}
