//! The turns of the seat queue (ADR 0029) on Redis: served strictly in ticket order under
//! concurrency, a full queue counting only the tickets that still wait, and the arrival
//! counter kept in order when it would overflow, and the queue rebuilt in its order from the
//! tickets on record after Redis lost it. `queue_keys` checks the keys themselves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use license_core::{
    AcquireOutcome, LedgerKey, LiveSeat, QueueMode, QueueRequest, QueueTicket, RebuildOutcome,
    SeatKind, SeatLedger, SeatLimit, SeatRequest, SessionId,
};

use super::{Fixture, redis_key, request};

pub const MINUTE: Duration = Duration::from_secs(60);
pub const HOUR: Duration = Duration::from_secs(3_600);

/// The queue's keys.
pub const QUEUE_PARTS: [&str; 3] = ["queue", "tickets", "deadlines"];

pub fn join(priority: u32, wait: Duration, poll_within: Duration) -> QueueRequest {
    QueueRequest {
        priority,
        mode: QueueMode::Join {
            wait,
            poll_within,
            max_length: 1_000,
        },
    }
}

pub fn poll(poll_within: Duration) -> QueueRequest {
    QueueRequest {
        priority: 0,
        mode: QueueMode::Poll { poll_within },
    }
}

pub async fn ask(
    fx: &Fixture,
    key: &LedgerKey,
    req: &SeatRequest,
    queue: QueueRequest,
) -> AcquireOutcome {
    fx.ledger.acquire_queued(key, req, &queue).await.unwrap()
}

pub fn position(outcome: &AcquireOutcome) -> u32 {
    match outcome {
        AcquireOutcome::Queued { position, .. } => *position,
        other => panic!("should wait: {other:?}"),
    }
}

pub async fn exists(fx: &Fixture, key: &LedgerKey, part: &str) -> bool {
    let n: u32 = fx
        .probe
        .query(redis::cmd("EXISTS").arg(redis_key(key, part)))
        .await;
    n == 1
}

pub async fn pttl(fx: &Fixture, key: &LedgerKey, part: &str) -> u128 {
    let ms: i64 = fx
        .probe
        .query(redis::cmd("PTTL").arg(redis_key(key, part)))
        .await;
    u128::try_from(ms).unwrap_or_else(|_| panic!("{part} has no expiry: {ms}"))
}

/// A license of one seat, taken; the holder's request.
pub async fn one_seat_taken(fx: &Fixture) -> (LedgerKey, SeatRequest) {
    let key = fx.license().await;
    let holder = request("holder", 1, MINUTE);
    assert!(matches!(
        fx.ledger.acquire(&key, &holder).await.unwrap(),
        AcquireOutcome::Granted { .. }
    ));
    (key, holder)
}

/// Waiters of two priorities join a taken 1-seat license at once, from their own tasks; then,
/// the seat freed, they all poll (half by polling, half by joining again) while plain acquires
/// hammer the license, each winner holding the seat a moment before releasing it. The seat goes
/// to the waiters strictly in their ticket order (priority, then arrival), and never to a plain
/// acquire while one waits.
pub async fn concurrent_waiters_are_granted_in_ticket_order(fx: &Fixture) {
    const WAITERS: usize = 8;
    let (key, holder) = one_seat_taken(fx).await;
    let patient = Duration::from_secs(20);
    let waiters: Vec<(SeatRequest, u32)> = (0..WAITERS)
        .map(|i| {
            (
                request(&format!("waiter-{i}"), 1, MINUTE),
                5 * u32::from(i % 3 == 0),
            )
        })
        .collect();
    let joins = waiters.iter().map(|(req, priority)| {
        let (ledger, req, queue) = (
            fx.ledger.clone(),
            req.clone(),
            join(*priority, 5 * MINUTE, patient),
        );
        tokio::spawn(async move { ledger.acquire_queued(&key, &req, &queue).await.unwrap() })
    });
    for joined in futures::future::join_all(joins).await {
        position(&joined.unwrap());
    }
    // The ticket order, as the queue tells it now that everyone is in.
    let mut order: Vec<(u32, SessionId, u32)> = Vec::new();
    for (req, priority) in &waiters {
        let at = position(&ask(fx, &key, req, poll(patient)).await);
        order.push((at, req.session_id, *priority));
    }
    order.sort_unstable();
    assert_eq!(
        order.iter().map(|(at, ..)| *at).collect::<Vec<_>>(),
        (1..=WAITERS as u32).collect::<Vec<_>>(),
        "one place each"
    );
    assert!(
        order.windows(2).all(|w| w[0].2 >= w[1].2),
        "higher priority first: {order:?}"
    );

    fx.ledger.release(&key, holder.seat()).await.unwrap();
    let served: Arc<Mutex<Vec<SessionId>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let pollers: Vec<_> = waiters
        .iter()
        .enumerate()
        .map(|(i, (req, priority))| {
            let (ledger, req, served) = (fx.ledger.clone(), req.clone(), served.clone());
            let again = if i % 2 == 0 {
                poll(patient)
            } else {
                join(*priority, 5 * MINUTE, patient)
            };
            tokio::spawn(async move {
                let started = Instant::now();
                loop {
                    match ledger.acquire_queued(&key, &req, &again).await.unwrap() {
                        AcquireOutcome::Granted { in_use, .. } => {
                            assert_eq!(in_use, 1);
                            // Recorded before the release: the next grant comes after it.
                            served.lock().unwrap().push(req.session_id);
                            tokio::time::sleep(Duration::from_millis(15)).await;
                            ledger.release(&key, req.seat()).await.unwrap();
                            return;
                        }
                        AcquireOutcome::Queued { .. } => {}
                        other => panic!("a waiter got {other:?}"),
                    }
                    assert!(started.elapsed() < Duration::from_secs(30), "never served");
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
            })
        })
        .collect();
    let intruders: Vec<_> = (0..2)
        .map(|i| {
            let (ledger, done, served) = (fx.ledger.clone(), done.clone(), served.clone());
            tokio::spawn(async move {
                let mut refused = 0;
                while !done.load(Ordering::SeqCst) {
                    let plain = request(&format!("intruder-{i}"), 1, MINUTE);
                    match ledger.acquire(&key, &plain).await.unwrap() {
                        AcquireOutcome::NoSeats | AcquireOutcome::Limited(SeatLimit::Queued) => {
                            refused += 1;
                        }
                        // Only once the last waiter was served (and released its seat).
                        AcquireOutcome::Granted { .. } => {
                            assert_eq!(
                                served.lock().unwrap().len(),
                                WAITERS,
                                "a plain acquire took a seat while tickets wait"
                            );
                            ledger.release(&key, plain.seat()).await.unwrap();
                            break;
                        }
                        other => panic!("a plain acquire got {other:?}"),
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                refused
            })
        })
        .collect();
    for poller in pollers {
        poller.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    for intruder in intruders {
        assert!(intruder.await.unwrap() > 0, "the plain acquires did run");
    }
    assert_eq!(
        *served.lock().unwrap(),
        order.iter().map(|(_, id, _)| *id).collect::<Vec<_>>(),
        "served in ticket order"
    );
    for part in QUEUE_PARTS {
        assert!(
            !exists(fx, &key, part).await,
            "{part} left after the last turn"
        );
    }
    assert!(matches!(
        fx.ledger
            .acquire(&key, &request("after", 1, MINUTE))
            .await
            .unwrap(),
        AcquireOutcome::Granted { .. }
    ));
}

/// A join to a queue at its most counts the tickets that still wait, each once: a dropped one
/// (the joiner's own old ticket too) makes no room, nor is it counted twice.
pub async fn a_full_queue_counts_each_waiting_ticket_once(fx: &Fixture) {
    let (key, _holder) = one_seat_taken(fx).await;
    let most = |max_length, poll_within| QueueRequest {
        priority: 0,
        mode: QueueMode::Join {
            wait: HOUR,
            poll_within,
            max_length,
        },
    };
    let (a, b, c) = (
        request("a", 1, MINUTE),
        request("b", 1, MINUTE),
        request("c", 1, MINUTE),
    );
    let brief = Duration::from_millis(300);
    assert_eq!(position(&ask(fx, &key, &a, most(3, brief)).await), 1);
    assert_eq!(position(&ask(fx, &key, &b, most(3, MINUTE)).await), 2);
    assert_eq!(position(&ask(fx, &key, &c, most(3, MINUTE)).await), 3);
    tokio::time::sleep(brief + Duration::from_millis(200)).await;
    // a's ticket was dropped: b and c still wait, which is the most.
    assert_eq!(
        ask(fx, &key, &a, most(2, MINUTE)).await,
        AcquireOutcome::QueueFull
    );
    assert!(fx.ledger.leave(&key, b.session_id).await.unwrap());
    assert_eq!(
        position(&ask(fx, &key, &a, most(2, MINUTE)).await),
        2,
        "a new ticket, behind c"
    );
}

/// Should the arrival counter reach 2^32 (a queue that never emptied for that many joins), the
/// tickets are renumbered in their order first: the order of priorities and arrivals holds.
pub async fn arrivals_are_renumbered_before_they_overflow(fx: &Fixture) {
    let (key, _holder) = one_seat_taken(fx).await;
    let patient = join(0, HOUR, MINUTE);
    let (a, b) = (request("a", 1, MINUTE), request("b", 1, MINUTE));
    let urgent = request("urgent", 1, MINUTE);
    assert_eq!(position(&ask(fx, &key, &a, patient).await), 1);
    assert_eq!(
        position(&ask(fx, &key, &urgent, join(7, HOUR, MINUTE)).await),
        1
    );
    assert_eq!(position(&ask(fx, &key, &b, patient).await), 3);
    let _: i64 = fx
        .probe
        .query(
            redis::cmd("HSET")
                .arg(redis_key(&key, "tickets"))
                .arg("arrivals")
                .arg(u64::from(u32::MAX) - 1),
        )
        .await;
    let (c, d) = (request("c", 1, MINUTE), request("d", 1, MINUTE));
    assert_eq!(position(&ask(fx, &key, &c, patient).await), 4);
    // The counter ran out here: renumbered, the queue keeps its order.
    assert_eq!(position(&ask(fx, &key, &d, join(7, HOUR, MINUTE)).await), 2);
    let mut places = HashMap::new();
    for (name, req) in [
        ("a", &a),
        ("b", &b),
        ("c", &c),
        ("d", &d),
        ("urgent", &urgent),
    ] {
        places.insert(name, position(&ask(fx, &key, req, poll(MINUTE)).await));
    }
    let expected = HashMap::from([("urgent", 1), ("d", 2), ("a", 3), ("b", 4), ("c", 5)]);
    assert_eq!(places, expected);
    // Members are raw session ids: not text.
    let ordered: Vec<(Vec<u8>, f64)> = fx
        .probe
        .query(
            redis::cmd("ZRANGE")
                .arg(redis_key(&key, "queue"))
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES"),
        )
        .await;
    let scores: Vec<f64> = ordered.into_iter().map(|(_, score)| score).collect();
    assert!(
        scores.iter().all(|s| s % 4_294_967_296.0 < 16.0),
        "small arrivals again: {scores:?}"
    );
}

/// The administrator's list names each waiting ticket's seat key as it was given (a person's
/// seat key too), leaves out the tickets that stopped waiting, and is empty once the marker
/// is lost; another machine joining under a waiter's session id takes a new place at the end.
pub async fn the_queue_lists_the_waiting_tickets(fx: &Fixture) {
    let (key, _holder) = one_seat_taken(fx).await;
    let person = SeatRequest {
        hardware_id: license_core::HardwareId::parse_seat_key("#user email:ada@example.com")
            .unwrap(),
        ..request("unused", 1, MINUTE)
    };
    let brief = request("brief", 1, MINUTE);
    let last = request("last", 1, MINUTE);
    assert_eq!(
        position(&ask(fx, &key, &person, join(3, HOUR, MINUTE)).await),
        1
    );
    let short = join(0, HOUR, Duration::from_millis(300));
    assert_eq!(position(&ask(fx, &key, &brief, short).await), 2);
    assert_eq!(
        position(&ask(fx, &key, &last, join(0, HOUR, MINUTE)).await),
        3
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let listed = fx.ledger.queue(&key, 10).await.unwrap();
    let seen: Vec<_> = listed
        .iter()
        .map(|w| (w.ticket, w.hardware_id.as_str(), w.priority))
        .collect();
    assert_eq!(
        seen,
        [
            (person.session_id, "#user email:ada@example.com", 3),
            (last.session_id, "last", 0)
        ]
    );
    // The person's session id joined again from a machine: a new ticket, behind `last`.
    let other_machine = SeatRequest {
        session_id: person.session_id,
        ..request("elsewhere", 1, MINUTE)
    };
    assert_eq!(
        position(&ask(fx, &key, &other_machine, join(0, HOUR, MINUTE)).await),
        2
    );
    let listed = fx.ledger.queue(&key, 10).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|w| w.hardware_id.as_str())
            .collect::<Vec<_>>(),
        ["last", "elsewhere"]
    );
    assert!(fx.ledger.queue(&key, 0).await.unwrap().is_empty());
    let _: u32 = fx
        .probe
        .query(redis::cmd("DEL").arg(redis_key(&key, "init")))
        .await;
    assert!(fx.ledger.queue(&key, 10).await.unwrap().is_empty());
}

/// Three waiters (two priorities) queue on a taken 1-seat license, their tickets recorded as
/// the use case records them (with the arrival the join answered); Redis loses everything; the
/// rebuild from the seat and the records restores the queue: each poll finds its place, a new
/// join stands behind them, a record whose wait ended is not restored, and the freed seat goes
/// to the waiters in the original order.
pub async fn a_rebuild_restores_the_queue_in_its_order(fx: &Fixture) {
    let (key, holder) = one_seat_taken(fx).await;
    let patient = Duration::from_secs(20);
    let waiters: Vec<(SeatRequest, u32)> = [("early", 0), ("urgent", 5), ("late", 0)]
        .into_iter()
        .map(|(name, priority)| (request(name, 1, MINUTE), priority))
        .collect();
    let now = chrono::Utc::now();
    let mut records = Vec::new();
    for (req, priority) in &waiters {
        let queue = join(*priority, 5 * MINUTE, patient);
        let AcquireOutcome::Queued {
            wait_until,
            arrival,
            ..
        } = ask(fx, &key, req, queue).await
        else {
            panic!("should wait");
        };
        records.push(QueueTicket {
            tenant_id: key.tenant_id,
            license_id: key.license_id,
            ticket: req.session_id,
            seat: req.hardware_id.clone(),
            priority: *priority,
            arrival,
            joined_at: now,
            wait_until,
            tally: req.tally.clone(),
        });
    }
    // A record whose wait has ended: not restored.
    let ended = request("ended", 1, MINUTE);
    records.push(QueueTicket {
        ticket: ended.session_id,
        seat: ended.hardware_id.clone(),
        arrival: 0,
        wait_until: now - chrono::TimeDelta::seconds(1),
        ..records[0].clone()
    });
    // The store's order: priority, then arrival.
    records.sort_by_key(|t| (std::cmp::Reverse(t.priority), t.arrival));
    let (early, urgent, late) = (&waiters[0].0, &waiters[1].0, &waiters[2].0);

    (fx.wipe)().await;
    assert_eq!(
        ask(fx, &key, early, poll(patient)).await,
        AcquireOutcome::Rebuild
    );
    let seat = LiveSeat {
        session_id: holder.session_id,
        hardware_id: holder.hardware_id.clone(),
        expires_at: now + chrono::TimeDelta::minutes(1),
        kind: SeatKind::Held,
        counters: vec![],
    };
    let rebuilt = fx
        .ledger
        .rebuild_queued(&key, &[seat], &[], &records, patient)
        .await
        .unwrap();
    assert_eq!(rebuilt, RebuildOutcome::Rebuilt);

    assert_eq!(position(&ask(fx, &key, late, poll(patient)).await), 3);
    assert_eq!(position(&ask(fx, &key, early, poll(patient)).await), 2);
    assert_eq!(position(&ask(fx, &key, urgent, poll(patient)).await), 1);
    assert_eq!(
        ask(fx, &key, &ended, poll(patient)).await,
        AcquireOutcome::TicketGone,
        "a ticket whose wait ended is not restored"
    );
    let newcomer = request("newcomer", 1, MINUTE);
    assert_eq!(
        position(&ask(fx, &key, &newcomer, join(0, 5 * MINUTE, patient)).await),
        4,
        "the arrival counter goes on after the restored tickets"
    );
    let listed: Vec<SessionId> = fx
        .ledger
        .queue(&key, 10)
        .await
        .unwrap()
        .iter()
        .map(|w| w.ticket)
        .collect();
    assert_eq!(
        listed,
        vec![
            urgent.session_id,
            early.session_id,
            late.session_id,
            newcomer.session_id
        ]
    );

    // The seat freed, the waiters get it in their order, each poll after the one before.
    fx.ledger.release(&key, holder.seat()).await.unwrap();
    for (i, next) in [urgent, early, late].into_iter().enumerate() {
        for behind in [urgent, early, late].into_iter().skip(i + 1) {
            assert!(
                matches!(
                    ask(fx, &key, behind, poll(patient)).await,
                    AcquireOutcome::Queued { .. }
                ),
                "only the first in line gets the seat"
            );
        }
        assert!(
            matches!(
                ask(fx, &key, next, poll(patient)).await,
                AcquireOutcome::Granted { .. }
            ),
            "waiter {i} in line"
        );
        fx.ledger.release(&key, next.seat()).await.unwrap();
    }
}
