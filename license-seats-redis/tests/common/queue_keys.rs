//! What the seat queue's keys (`queue`, `tickets`, `deadlines`; ADR 0029) must keep on Redis:
//! never made for a license nobody waits on, expiring a grace after the latest wait, freed
//! with the last ticket, cleared by a rebuild, and never written by malformed arguments.

use std::time::Duration;

use license_core::{AcquireOutcome, SeatLedger, SeatLimit};

use super::queue::{
    HOUR, MINUTE, QUEUE_PARTS, ask, exists, join, one_seat_taken, poll, position, pttl,
};
use super::{Fixture, redis_key, request};

/// A license nobody waits on has no queue keys, whatever its plain acquires meet (a grant, a
/// refusal, a hold-off, its own seat) and a poll without a ticket writes none either.
pub async fn a_license_without_waiters_makes_no_queue_keys(fx: &Fixture) {
    let (key, holder) = one_seat_taken(fx).await;
    let other = request("other", 1, MINUTE);
    assert_eq!(
        fx.ledger.acquire(&key, &other).await.unwrap(),
        AcquireOutcome::NoSeats
    );
    assert!(matches!(
        fx.ledger
            .acquire(&key, &request("holder", 1, MINUTE))
            .await
            .unwrap(),
        AcquireOutcome::AlreadyHeld { .. }
    ));
    assert_eq!(
        ask(fx, &key, &other, poll(MINUTE)).await,
        AcquireOutcome::TicketGone
    );
    let hold = license_core::Hold {
        user: None,
        duration: MINUTE,
        reason: "audit".into(),
    };
    fx.ledger.evict(&key, holder.seat(), &hold).await.unwrap();
    assert!(matches!(
        fx.ledger.acquire(&key, &holder).await.unwrap(),
        AcquireOutcome::Evicted { .. }
    ));
    assert!(matches!(
        fx.ledger.acquire(&key, &other).await.unwrap(),
        AcquireOutcome::Granted { .. }
    ));
    for part in QUEUE_PARTS {
        assert!(!exists(fx, &key, part).await, "{part} made");
    }
}

/// The queue's keys (and the marker) expire a grace after the latest wait, never cut back by a
/// shorter one; dropped tickets are freed by the acquire that finds them, and the keys go with
/// the last ticket.
pub async fn queue_keys_expire_a_grace_after_the_latest_wait(fx: &Fixture) {
    let grace = license_seats_redis::KEY_GRACE;
    let at_least = |d: Duration| (d + grace).as_millis() - 2_000;
    let (key, holder) = one_seat_taken(fx).await;
    let long = request("long", 1, MINUTE);
    assert_eq!(
        position(&ask(fx, &key, &long, join(0, 2 * HOUR, MINUTE)).await),
        1
    );
    for part in ["init", "queue", "tickets", "deadlines"] {
        let left = pttl(fx, &key, part).await;
        assert!(left > at_least(2 * HOUR), "{part}: {left} ms");
        assert!(left <= (2 * HOUR + grace).as_millis(), "{part}: {left} ms");
    }
    let brief = request("brief", 1, MINUTE);
    let short = join(0, Duration::from_millis(300), MINUTE);
    assert_eq!(position(&ask(fx, &key, &brief, short).await), 2);
    for part in ["init", "queue", "tickets", "deadlines"] {
        let left = pttl(fx, &key, part).await;
        assert!(left > at_least(2 * HOUR), "{part} cut back: {left} ms");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Nothing has looked at the queue since: the brief ticket is still stored, though dropped.
    let zcard = |part: &'static str| {
        let cmd = redis::cmd("ZCARD").arg(redis_key(&key, part)).clone();
        let probe = fx.probe.clone();
        async move { probe.query::<u32>(&cmd).await }
    };
    assert_eq!((zcard("queue").await, zcard("deadlines").await), (2, 2));
    // A plain acquire refused for the seats still drops it.
    let plain = request("plain", 1, MINUTE);
    assert_eq!(
        fx.ledger.acquire(&key, &plain).await.unwrap(),
        AcquireOutcome::NoSeats
    );
    assert_eq!((zcard("queue").await, zcard("deadlines").await), (1, 1));
    let records: u32 = fx
        .probe
        .query(redis::cmd("HLEN").arg(redis_key(&key, "tickets")))
        .await;
    assert_eq!(records, 2, "one record and the arrival counter");
    fx.ledger.release(&key, holder.seat()).await.unwrap();
    assert_eq!(
        fx.ledger.acquire(&key, &plain).await.unwrap(),
        AcquireOutcome::Limited(SeatLimit::Queued)
    );
    assert!(fx.ledger.leave(&key, long.session_id).await.unwrap());
    for part in QUEUE_PARTS {
        assert!(
            !exists(fx, &key, part).await,
            "{part} left after the last ticket"
        );
    }
    assert!(!fx.ledger.leave(&key, long.session_id).await.unwrap());
}

/// A license rebuilt after Redis lost its marker starts with an empty queue: tickets of the
/// lost state neither wait nor hold anyone up.
pub async fn a_rebuilt_license_starts_with_an_empty_queue(fx: &Fixture) {
    let (key, _holder) = one_seat_taken(fx).await;
    let waiter = request("waiter", 1, MINUTE);
    assert_eq!(
        position(&ask(fx, &key, &waiter, join(0, HOUR, MINUTE)).await),
        1
    );
    let _: u32 = fx
        .probe
        .query(redis::cmd("DEL").arg(redis_key(&key, "init")))
        .await;
    assert_eq!(
        ask(fx, &key, &waiter, poll(MINUTE)).await,
        AcquireOutcome::Rebuild
    );
    assert_eq!(
        fx.ledger.rebuild(&key, &[], &[]).await.unwrap(),
        license_core::RebuildOutcome::Rebuilt
    );
    for part in QUEUE_PARTS {
        assert!(!exists(fx, &key, part).await, "{part} survived the rebuild");
    }
    assert_eq!(
        ask(fx, &key, &waiter, poll(MINUTE)).await,
        AcquireOutcome::TicketGone
    );
    // The holder's seat was not in the (empty) snapshot: the seat is free for anyone.
    assert!(matches!(
        fx.ledger
            .acquire(&key, &request("anyone", 1, MINUTE))
            .await
            .unwrap(),
        AcquireOutcome::Granted { .. }
    ));
}

/// Queue arguments the Rust side never sends (a priority past 1000, an unknown mode, a
/// negative or endless wait) are refused by the script before it writes anything.
pub async fn malformed_queue_arguments_write_nothing(fx: &Fixture) {
    let (key, _holder) = one_seat_taken(fx).await;
    let script = concat!(
        include_str!("../../lua/common.lua"),
        include_str!("../../lua/tally.lua"),
        include_str!("../../lua/tickets.lua"),
        include_str!("../../lua/acquire.lua")
    );
    let parts = [
        "init",
        "seats",
        "holders",
        "borrowed",
        "lingering",
        "holds",
        "counts",
        "tags",
        "queue",
        "tickets",
        "deadlines",
    ];
    let endless = "100000000000000";
    for [priority, mode, wait, poll_within, max_length] in [
        ["1001", "join", "60000", "60000", "10"],
        ["-1", "join", "60000", "60000", "10"],
        ["0.5", "join", "60000", "60000", "10"],
        ["0", "wait", "60000", "60000", "10"],
        ["0", "join", "-1", "60000", "10"],
        ["0", "join", endless, "60000", "10"],
        ["0", "poll", "0", endless, "0"],
        ["0", "join", "60000", "60000", "many"],
    ] {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(parts.len());
        for part in parts {
            cmd.arg(redis_key(&key, part));
        }
        cmd.arg(&[7u8; 16][..])
            .arg(&[9u8; 12][..])
            .arg(1)
            .arg(60_000)
            .arg(600_000)
            .arg("")
            .arg(-1)
            .arg("")
            .arg("")
            .arg("")
            .arg("0")
            .arg(priority)
            .arg(mode)
            .arg(wait)
            .arg(poll_within)
            .arg(max_length)
            .arg("laptop-1");
        let reply = fx.probe.try_query::<redis::Value>(&cmd).await;
        let err = reply.expect_err("malformed arguments are refused");
        assert!(
            err.to_string().contains("acquire"),
            "{mode} {priority}: {err}"
        );
    }
    for part in QUEUE_PARTS {
        assert!(!exists(fx, &key, part).await, "{part} written");
    }
}
