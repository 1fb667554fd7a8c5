//! The Lua scripts (one per operation, in `lua/`) and the decoding of their replies into the
//! port's outcome types.
//!
//! Each script is `lua/common.lua` (the layout's shared helpers), the helper files it uses
//! (`tally.lua`: a seat's policy tally and its check; `tickets.lua`: the seat queue's tickets),
//! then the operation's file, hashed once ([`LazyLock`]) and run with `EVALSHA`; `Script::invoke_async` loads it
//! with `SCRIPT LOAD` when the server answers `NOSCRIPT` (after a restart, say).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use license_core::{
    AcquireOutcome, Error, HardwareId, LiveCount, RebuildOutcome, RenewOutcome, Result, Waiter,
};
use redis::{Script, Value};

use crate::{compact, tally};

/// `lua/common.lua` then `lua/<part>.lua` for each part named, the operation's own file last.
macro_rules! script {
    ($($part:literal),+) => {
        LazyLock::new(|| {
            Script::new(concat!(
                include_str!("../lua/common.lua"),
                $(include_str!(concat!("../lua/", $part, ".lua"))),+
            ))
        })
    };
}

/// `lua/acquire.lua` (with the tally's and the queue's helpers).
pub(crate) static ACQUIRE: LazyLock<Script> = script!("tally", "tickets", "acquire");
/// `lua/leave.lua` (with the queue's helpers).
pub(crate) static LEAVE: LazyLock<Script> = script!("tickets", "leave");
/// `lua/queue.lua` (with the queue's helpers).
pub(crate) static QUEUE: LazyLock<Script> = script!("tickets", "queue");
/// `lua/renew.lua`.
pub(crate) static RENEW: LazyLock<Script> = script!("renew");
/// `lua/release.lua`.
pub(crate) static RELEASE: LazyLock<Script> = script!("release");
/// `lua/live_count.lua`.
pub(crate) static LIVE_COUNT: LazyLock<Script> = script!("live_count");
/// `lua/rebuild.lua` (with the tally's and the queue's helpers: it restores tickets).
pub(crate) static REBUILD: LazyLock<Script> = script!("tally", "tickets", "rebuild");
/// `lua/evict.lua`.
pub(crate) static EVICT: LazyLock<Script> = script!("evict");
/// `lua/linger.lua`.
pub(crate) static LINGER: LazyLock<Script> = script!("linger");

/// Decodes `acquire.lua`'s reply.
pub(crate) fn acquire_outcome(reply: &Value) -> Result<AcquireOutcome> {
    let (status, rest) = split(reply, "acquire")?;
    Ok(match (status.as_str(), rest) {
        ("REBUILD", []) => AcquireOutcome::Rebuild,
        ("NO_SEATS", []) => AcquireOutcome::NoSeats,
        ("NO_BORROW_SEATS", []) => AcquireOutcome::NoBorrowSeats,
        ("LIMITED", [limit]) => AcquireOutcome::Limited(
            tally::limit_named(&text(limit, "acquire")?)
                .ok_or_else(|| unexpected("acquire", reply))?,
        ),
        ("EVICTED", [until, reason]) => AcquireOutcome::Evicted {
            until: time(until, "acquire")?,
            reason: text(reason, "acquire")?,
        },
        ("GRANTED", [expires, in_use]) => AcquireOutcome::Granted {
            expires_at: time(expires, "acquire")?,
            in_use: u32::try_from(int(in_use, "acquire")?)
                .map_err(|_| unexpected("acquire", reply))?,
        },
        ("TOOK_BACK", [expires, in_use, Value::BulkString(lingering)]) => {
            AcquireOutcome::TookBack {
                expires_at: time(expires, "acquire")?,
                in_use: u32::try_from(int(in_use, "acquire")?)
                    .map_err(|_| unexpected("acquire", reply))?,
                lingering: compact::session_from(lingering)
                    .ok_or_else(|| unexpected("acquire", reply))?,
            }
        }
        ("HELD", [Value::BulkString(session), expires]) => AcquireOutcome::AlreadyHeld {
            session_id: compact::session_from(session)
                .ok_or_else(|| unexpected("acquire", reply))?,
            expires_at: time(expires, "acquire")?,
        },
        ("QUEUED", [position, wait_until, arrival]) => AcquireOutcome::Queued {
            position: u32::try_from(int(position, "acquire")?)
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| unexpected("acquire", reply))?,
            wait_until: time(wait_until, "acquire")?,
            arrival: u64::try_from(int(arrival, "acquire")?)
                .map_err(|_| unexpected("acquire", reply))?,
        },
        ("TURN", []) => AcquireOutcome::Turn,
        ("QUEUE_FULL", []) => AcquireOutcome::QueueFull,
        ("TICKET_GONE", []) => AcquireOutcome::TicketGone,
        _ => return Err(unexpected("acquire", reply)),
    })
}

/// Decodes `renew.lua`'s reply.
pub(crate) fn renew_outcome(reply: &Value) -> Result<RenewOutcome> {
    let (status, rest) = split(reply, "renew")?;
    Ok(match (status.as_str(), rest) {
        ("REBUILD", []) => RenewOutcome::Rebuild,
        ("EXPIRED", []) => RenewOutcome::Expired,
        ("RENEWED", [expires]) => RenewOutcome::Renewed {
            expires_at: time(expires, "renew")?,
        },
        _ => return Err(unexpected("renew", reply)),
    })
}

/// Decodes `live_count.lua`'s reply.
pub(crate) fn live_count(reply: &Value) -> Result<LiveCount> {
    let (status, rest) = split(reply, "live_count")?;
    Ok(match (status.as_str(), rest) {
        ("REBUILD", []) => LiveCount::Rebuild,
        ("COUNT", [n]) => LiveCount::Count(
            u32::try_from(int(n, "live_count")?).map_err(|_| unexpected("live_count", reply))?,
        ),
        _ => return Err(unexpected("live_count", reply)),
    })
}

/// Decodes `rebuild.lua`'s reply: the outcome, and how many seats, parties held off and
/// tickets were restored.
pub(crate) fn rebuild_outcome(reply: &Value) -> Result<(RebuildOutcome, i64, i64, i64)> {
    let (status, rest) = split(reply, "rebuild")?;
    Ok(match (status.as_str(), rest) {
        ("ALREADY_INITIALISED", []) => (RebuildOutcome::AlreadyInitialised, 0, 0, 0),
        ("REBUILT", [seats, holds, tickets]) => (
            RebuildOutcome::Rebuilt,
            int(seats, "rebuild")?,
            int(holds, "rebuild")?,
            int(tickets, "rebuild")?,
        ),
        _ => return Err(unexpected("rebuild", reply)),
    })
}

/// Decodes `release.lua`'s reply: whether a seat was freed.
pub(crate) fn released(reply: &Value) -> Result<bool> {
    flag(reply, "release")
}

/// Decodes `leave.lua`'s reply: whether a ticket waited.
pub(crate) fn left(reply: &Value) -> Result<bool> {
    flag(reply, "leave")
}

/// Decodes `queue.lua`'s reply: the waiting tickets, first in line first.
pub(crate) fn waiters(reply: &Value) -> Result<Vec<Waiter>> {
    let (status, rest) = split(reply, "queue")?;
    if status != "WAITERS" || rest.len() % 5 != 0 {
        return Err(unexpected("queue", reply));
    }
    rest.chunks_exact(5)
        .map(|w| match w {
            [
                Value::BulkString(ticket),
                priority,
                wait_until,
                poll_by,
                seat_key,
            ] => Ok(Waiter {
                ticket: compact::session_from(ticket).ok_or_else(|| unexpected("queue", reply))?,
                priority: u32::try_from(int(priority, "queue")?)
                    .map_err(|_| unexpected("queue", reply))?,
                wait_until: time(wait_until, "queue")?,
                poll_by: time(poll_by, "queue")?,
                hardware_id: HardwareId::parse_seat_key(&text(seat_key, "queue")?)
                    .map_err(|_| unexpected("queue", reply))?,
            }),
            _ => Err(unexpected("queue", reply)),
        })
        .collect()
}

/// Decodes `linger.lua`'s reply: whether the seat lingers now.
pub(crate) fn lingered(reply: &Value) -> Result<bool> {
    flag(reply, "linger")
}

/// What `evict.lua` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Evicted {
    /// The marker was missing: nothing written (a rebuild restores hold-offs from the store).
    Rebuild,
    /// Done; `freed`: the session's seat was freed (it may have been gone already).
    Done { freed: bool, until: DateTime<Utc> },
}

/// Decodes `evict.lua`'s reply.
pub(crate) fn evicted(reply: &Value) -> Result<Evicted> {
    let (status, rest) = split(reply, "evict")?;
    Ok(match (status.as_str(), rest) {
        ("REBUILD", []) => Evicted::Rebuild,
        ("EVICTED", [freed, until]) => Evicted::Done {
            freed: flag(freed, "evict")?,
            until: time(until, "evict")?,
        },
        _ => return Err(unexpected("evict", reply)),
    })
}

fn flag(reply: &Value, script: &str) -> Result<bool> {
    match int(reply, script)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(unexpected(script, reply)),
    }
}

/// A reply `{status, ...}` as its status and the rest.
fn split<'a>(reply: &'a Value, script: &str) -> Result<(String, &'a [Value])> {
    match reply {
        Value::Array(items) => match items.split_first() {
            Some((status, rest)) => Ok((text(status, script)?, rest)),
            None => Err(unexpected(script, reply)),
        },
        _ => Err(unexpected(script, reply)),
    }
}

fn text(value: &Value, script: &str) -> Result<String> {
    match value {
        Value::BulkString(bytes) => {
            String::from_utf8(bytes.clone()).map_err(|_| unexpected(script, value))
        }
        Value::SimpleString(s) => Ok(s.clone()),
        _ => Err(unexpected(script, value)),
    }
}

fn int(value: &Value, script: &str) -> Result<i64> {
    match value {
        Value::Int(n) => Ok(*n),
        _ => Err(unexpected(script, value)),
    }
}

/// A time in ms since the epoch, by the Redis clock.
fn time(value: &Value, script: &str) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(int(value, script)?).ok_or_else(|| unexpected(script, value))
}

/// A reply the script cannot give: a bug, not an outage.
fn unexpected(script: &str, value: &Value) -> Error {
    Error::Internal(format!(
        "unexpected reply from the {script} script: {value:?}"
    ))
}

#[cfg(test)]
mod tests {
    use license_core::SessionId;

    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn decodes_every_acquire_reply() {
        let at = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let granted = Value::Array(vec![
            bulk("GRANTED"),
            Value::Int(1_700_000_000_123),
            Value::Int(3),
        ]);
        assert_eq!(
            acquire_outcome(&granted).unwrap(),
            AcquireOutcome::Granted {
                expires_at: at,
                in_use: 3
            }
        );
        let id = SessionId::new();
        let held = Value::Array(vec![
            bulk("HELD"),
            Value::BulkString(compact::session(id).to_vec()),
            Value::Int(1_700_000_000_123),
        ]);
        assert_eq!(
            acquire_outcome(&held).unwrap(),
            AcquireOutcome::AlreadyHeld {
                session_id: id,
                expires_at: at
            }
        );
        assert_eq!(
            acquire_outcome(&Value::Array(vec![
                bulk("TOOK_BACK"),
                Value::Int(1_700_000_000_123),
                Value::Int(2),
                Value::BulkString(compact::session(id).to_vec()),
            ]))
            .unwrap(),
            AcquireOutcome::TookBack {
                expires_at: at,
                in_use: 2,
                lingering: id
            }
        );
        assert_eq!(
            acquire_outcome(&Value::Array(vec![bulk("NO_SEATS")])).unwrap(),
            AcquireOutcome::NoSeats
        );
        assert_eq!(
            acquire_outcome(&Value::Array(vec![bulk("REBUILD")])).unwrap(),
            AcquireOutcome::Rebuild
        );
        assert_eq!(
            acquire_outcome(&Value::Array(vec![bulk("NO_BORROW_SEATS")])).unwrap(),
            AcquireOutcome::NoBorrowSeats
        );
        assert_eq!(
            acquire_outcome(&Value::Array(vec![bulk("LIMITED"), bulk("group_max")])).unwrap(),
            AcquireOutcome::Limited(license_core::SeatLimit::GroupMax)
        );
        assert_eq!(
            acquire_outcome(&Value::Array(vec![
                bulk("LIMITED"),
                bulk("reserved_for_others")
            ]))
            .unwrap(),
            AcquireOutcome::Limited(license_core::SeatLimit::ReservedForOthers)
        );
        let evicted = Value::Array(vec![
            bulk("EVICTED"),
            Value::Int(1_700_000_000_123),
            bulk("licence audit: close the app"),
        ]);
        assert_eq!(
            acquire_outcome(&evicted).unwrap(),
            AcquireOutcome::Evicted {
                until: at,
                reason: "licence audit: close the app".into()
            }
        );
    }

    #[test]
    fn decodes_the_queue_replies() {
        let at = DateTime::from_timestamp_millis(1_700_000_600_000).unwrap();
        let queued = Value::Array(vec![
            bulk("QUEUED"),
            Value::Int(3),
            Value::Int(1_700_000_600_000),
            Value::Int(42),
        ]);
        assert_eq!(
            acquire_outcome(&queued).unwrap(),
            AcquireOutcome::Queued {
                position: 3,
                wait_until: at,
                arrival: 42
            }
        );
        assert_eq!(
            acquire_outcome(&Value::Array(vec![bulk("TURN")])).unwrap(),
            AcquireOutcome::Turn
        );
        assert_eq!(
            acquire_outcome(&Value::Array(vec![bulk("QUEUE_FULL")])).unwrap(),
            AcquireOutcome::QueueFull
        );
        assert_eq!(
            acquire_outcome(&Value::Array(vec![bulk("TICKET_GONE")])).unwrap(),
            AcquireOutcome::TicketGone
        );
        assert_eq!(
            acquire_outcome(&Value::Array(vec![bulk("LIMITED"), bulk("queued")])).unwrap(),
            AcquireOutcome::Limited(license_core::SeatLimit::Queued)
        );
        assert!(left(&Value::Int(1)).unwrap());
        assert!(!left(&Value::Int(0)).unwrap());
    }

    #[test]
    fn decodes_the_waiters() {
        let (a, b) = (SessionId::new(), SessionId::new());
        let reply = Value::Array(vec![
            bulk("WAITERS"),
            Value::BulkString(compact::session(a).to_vec()),
            Value::Int(5),
            Value::Int(1_700_000_600_000),
            Value::Int(1_700_000_015_000),
            bulk("laptop-1"),
            Value::BulkString(compact::session(b).to_vec()),
            Value::Int(0),
            Value::Int(1_700_000_700_000),
            Value::Int(1_700_000_016_000),
            bulk("#user email:ada@example.com"),
        ]);
        let listed = waiters(&reply).unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|w| (w.ticket, w.priority, w.hardware_id.as_str()))
                .collect::<Vec<_>>(),
            [(a, 5, "laptop-1"), (b, 0, "#user email:ada@example.com")]
        );
        assert_eq!(
            listed[0].wait_until,
            DateTime::from_timestamp_millis(1_700_000_600_000).unwrap()
        );
        assert_eq!(
            listed[1].poll_by,
            DateTime::from_timestamp_millis(1_700_000_016_000).unwrap()
        );
        assert!(
            waiters(&Value::Array(vec![bulk("WAITERS")]))
                .unwrap()
                .is_empty()
        );
        for bad in [
            Value::Array(vec![bulk("WAITERS"), bulk("half")]),
            Value::Array(vec![
                bulk("WAITERS"),
                bulk("not 16 bytes"),
                Value::Int(0),
                Value::Int(1),
                Value::Int(1),
                bulk("m"),
            ]),
            Value::Array(vec![
                bulk("WAITERS"),
                Value::BulkString(compact::session(a).to_vec()),
                Value::Int(0),
                Value::Int(1),
                Value::Int(1),
                bulk("two words"),
            ]),
            Value::Array(vec![bulk("QUEUED")]),
        ] {
            assert_eq!(waiters(&bad).unwrap_err().code(), "internal", "{bad:?}");
        }
    }

    #[test]
    fn a_malformed_queue_reply_is_an_internal_error() {
        for reply in [
            Value::Array(vec![bulk("QUEUED")]),
            Value::Array(vec![bulk("QUEUED"), Value::Int(1)]),
            // Position 1 is the next in line: there is no position 0.
            Value::Array(vec![bulk("QUEUED"), Value::Int(0), Value::Int(1)]),
            Value::Array(vec![bulk("QUEUED"), Value::Int(-2), Value::Int(1)]),
            Value::Array(vec![bulk("QUEUED"), bulk("first"), Value::Int(1)]),
            Value::Array(vec![bulk("QUEUE_FULL"), Value::Int(1)]),
            Value::Array(vec![bulk("TICKET_GONE"), bulk("why")]),
        ] {
            let err = acquire_outcome(&reply).unwrap_err();
            assert_eq!(err.code(), "internal", "{reply:?}");
        }
        assert_eq!(left(&Value::Int(2)).unwrap_err().code(), "internal");
        assert_eq!(left(&Value::Nil).unwrap_err().code(), "internal");
    }

    #[test]
    fn a_malformed_reply_is_an_internal_error() {
        for reply in [
            Value::Nil,
            Value::Array(vec![]),
            Value::Array(vec![bulk("GRANTED")]),
            Value::Array(vec![bulk("GRANTED"), Value::Int(1), Value::Int(-1)]),
            Value::Array(vec![bulk("HELD"), bulk("not 16 bytes"), Value::Int(1)]),
            // A session id as text is the old layout's: never taken for raw bytes.
            Value::Array(vec![
                bulk("HELD"),
                bulk(&SessionId::new().to_string()),
                Value::Int(1),
            ]),
            Value::Array(vec![bulk("SOMETHING_NEW")]),
            Value::Array(vec![bulk("EVICTED"), Value::Int(1)]),
            Value::Array(vec![bulk("EVICTED"), bulk("soon"), bulk("reason")]),
            Value::Array(vec![bulk("NO_BORROW_SEATS"), Value::Int(1)]),
            Value::Array(vec![bulk("LIMITED")]),
            Value::Array(vec![bulk("LIMITED"), bulk("seats")]),
            Value::Array(vec![bulk("LIMITED"), bulk("galaxy_max")]),
        ] {
            let err = acquire_outcome(&reply).unwrap_err();
            assert_eq!(err.code(), "internal", "{reply:?}");
        }
        assert_eq!(released(&Value::Int(2)).unwrap_err().code(), "internal");
        assert_eq!(lingered(&Value::Int(-1)).unwrap_err().code(), "internal");
        let half = Value::Array(vec![bulk("EVICTED"), Value::Int(1)]);
        assert_eq!(evicted(&half).unwrap_err().code(), "internal");
        let old_rebuild = Value::Array(vec![bulk("REBUILT"), Value::Int(2)]);
        assert_eq!(
            rebuild_outcome(&old_rebuild).unwrap_err().code(),
            "internal"
        );
    }

    #[test]
    fn decodes_renew_count_rebuild_release_and_linger() {
        assert_eq!(
            renew_outcome(&Value::Array(vec![bulk("EXPIRED")])).unwrap(),
            RenewOutcome::Expired
        );
        assert_eq!(
            live_count(&Value::Array(vec![bulk("COUNT"), Value::Int(7)])).unwrap(),
            LiveCount::Count(7)
        );
        let rebuilt = Value::Array(vec![
            bulk("REBUILT"),
            Value::Int(2),
            Value::Int(1),
            Value::Int(3),
        ]);
        assert_eq!(
            rebuild_outcome(&rebuilt).unwrap(),
            (RebuildOutcome::Rebuilt, 2, 1, 3)
        );
        assert!(released(&Value::Int(1)).unwrap());
        assert!(!lingered(&Value::Int(0)).unwrap());
    }

    #[test]
    fn decodes_evict() {
        let at = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let done = Value::Array(vec![
            bulk("EVICTED"),
            Value::Int(1),
            Value::Int(1_700_000_000_123),
        ]);
        assert_eq!(
            evicted(&done).unwrap(),
            Evicted::Done {
                freed: true,
                until: at
            }
        );
        assert_eq!(
            evicted(&Value::Array(vec![bulk("REBUILD")])).unwrap(),
            Evicted::Rebuild
        );
    }

    #[test]
    fn every_script_documents_its_keys_argv_and_replies() {
        let common = include_str!("../lua/common.lua");
        for helpers in [
            common,
            include_str!("../lua/tally.lua"),
            include_str!("../lua/tickets.lua"),
        ] {
            assert!(helpers.starts_with("-- "), "a helper file says what it is");
            // Keys come from KEYS only: a key built in Lua breaks Cluster routing.
            assert!(!helpers.contains("'lic:"), "a helper file builds no key");
            assert!(
                !helpers.contains("KEYS["),
                "a helper file is given its keys"
            );
        }
        for source in [
            include_str!("../lua/acquire.lua"),
            include_str!("../lua/renew.lua"),
            include_str!("../lua/release.lua"),
            include_str!("../lua/live_count.lua"),
            include_str!("../lua/rebuild.lua"),
            include_str!("../lua/evict.lua"),
            include_str!("../lua/linger.lua"),
            include_str!("../lua/leave.lua"),
            include_str!("../lua/queue.lua"),
        ] {
            assert!(source.starts_with("-- "), "opens with a comment");
            assert!(source.contains("-- KEYS[1]"), "lists its KEYS");
            assert!(source.contains("ARGV"), "lists its ARGV");
            assert!(source.contains("-- Replies"), "lists its replies");
            // Keys come from KEYS only: a key built in Lua breaks Cluster routing.
            assert!(!source.contains("'lic:"), "builds no key");
        }
    }
}
