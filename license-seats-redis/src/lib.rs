//! The [`SeatLedger`](license_core::SeatLedger) port on Redis and Redis Cluster.
//!
//! Each license's seats live in one sorted set (member = a 12-byte digest of the machine,
//! score = expiry in ms by the Redis clock), next to a packed hash naming the session that holds
//! each machine's seat and an *initialised* marker, all under the license's `{tenant:license}`
//! hash tag so they share one Cluster slot. A live seat costs under 150 bytes of Redis at a
//! million seats on one license (`lua/common.lua` explains the layout); borrowed and lingering
//! seats, eviction hold-offs, seat-policy counters and the seat queue's tickets add eight keys
//! that stay absent unless used. Every operation is one Lua script (`lua/*.lua`), so it is
//! atomic on a single node and on a cluster alike: never more live seats than the limit,
//! zombies freed at their TTL inside `acquire`, nobody granted a seat that a waiting ticket
//! ahead would take, and a `Rebuild` answer after Redis lost its data until the store's live
//! sessions (and the queue's tickets on record) are restored.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use license_core::{AcquireOutcome, HardwareId, LedgerKey, LicenseId, SeatLedger, SeatRequest};
//! use license_core::{SessionId, TenantId};
//! use license_seats_redis::{RedisLedger, RedisOptions};
//!
//! # async fn example() -> license_core::Result<()> {
//! let options = RedisOptions { timeout: Duration::from_secs(1) };
//! let ledger: Arc<dyn SeatLedger> =
//!     Arc::new(RedisLedger::connect_with("redis://127.0.0.1:6379", options).await?);
//!
//! let key = LedgerKey { tenant_id: TenantId::new(), license_id: LicenseId::new() };
//! let request = SeatRequest {
//!     session_id: SessionId::new(),
//!     hardware_id: HardwareId::parse("laptop-1")?,
//!     limit: 5,
//!     ttl: Duration::from_secs(360),
//!     user: None,
//!     borrow: None,
//!     tally: Default::default(),
//! };
//! match ledger.acquire(&key, &request).await? {
//!     AcquireOutcome::Granted { expires_at, in_use }
//!     | AcquireOutcome::TookBack { expires_at, in_use, .. } => println!("{in_use} in use until {expires_at}"),
//!     AcquireOutcome::AlreadyHeld { session_id, .. } => println!("{session_id} holds it already"),
//!     AcquireOutcome::NoSeats | AcquireOutcome::NoBorrowSeats => println!("every seat is taken"),
//!     AcquireOutcome::Limited(limit) => println!("refused by the policy: {}", limit.as_str()),
//!     AcquireOutcome::Evicted { reason, .. } => println!("held off: {reason}"),
//!     // Only a request that joins or polls the license's queue (`acquire_queued`) gets these.
//!     AcquireOutcome::Queued { position, .. } => println!("waiting, {position} in line"),
//!     AcquireOutcome::QueueFull | AcquireOutcome::TicketGone => println!("not waiting"),
//!     // Only a peek (`QueueMode::Peek`): the ticket's turn has come, nothing was granted.
//!     AcquireOutcome::Turn => println!("poll again to take the seat"),
//!     // Redis lost this license's state: the service rebuilds it from the store, then retries.
//!     AcquireOutcome::Rebuild => { ledger.rebuild(&key, &[], &[]).await?; }
//! }
//! # Ok(()) }
//! ```

/// Session ids and machines in the compact forms the scripts store (raw bytes, a digest).
mod compact;
/// The URL schemes and the connections they name (one node, or a cluster).
mod connection;
/// Every Redis key, with the `{tenant:license}` hash tag, built in one place.
mod keys;
/// `RedisLedger`: the `SeatLedger` implementation, its options and its error mapping.
mod ledger;
/// The Lua scripts, loaded once, and the decoding of their replies.
mod scripts;
/// A seat's policy tally (counters, caps, reserves) in the fixed-width form acquire takes.
mod tally;

pub use ledger::{KEY_GRACE, RedisLedger, RedisOptions};
