//! A client library for applications that hold a floating-license seat: acquire, heartbeat,
//! release, validate, borrow and return over the server's HTTP API (reqwest with rustls),
//! retried with backoff and jitter on outages; a [`SeatGuard`] that holds a seat for you;
//! offline verification of lease tokens pinned to the tenant's (and the root's) key set; and
//! errors that say what the application should do; waiting in a license's queue for a seat
//! ([`Client::wait_for_seat`], [`SeatGuard::acquire_waiting`]). Async, with a [`blocking`]
//! facade (which the C ABI, `license-client-c`, is built on).
//!
//! ```no_run
//! use license_client::{AcquireRequest, Client, GuardOptions, SeatGuard, SeatState};
//!
//! # async fn demo() -> Result<(), license_client::Error> {
//! let client = Client::new("https://licenses.example.com", "lk_…client key…")?;
//! let request = AcquireRequest::new("CADPRO-7QX2M-9KD4P-VTH8W", "workstation-7");
//! let guard = SeatGuard::acquire(client, request, GuardOptions::default()).await?;
//! let mut state = guard.subscribe();
//! // … work; the guard heartbeats in the background …
//! if let SeatState::Lost(why) = &*state.borrow_and_update() {
//!     eprintln!("licence lost: {why}");
//! }
//! guard.release().await?;
//! # Ok(()) }
//! ```

/// The JSON of the client routes.
pub mod api;
/// The blocking facade: the client and the guard on a runtime of their own.
pub mod blocking;
/// The async HTTP client with retries.
mod client;
/// The typed error and the decoding of error answers.
mod error;
/// The seat guard: heartbeats, grace period, re-acquire, eviction, release on drop.
mod guard;
/// Waiting for a seat in a license's queue: join, poll, leave.
mod queue;
/// The retry policy: exponential backoff with full jitter.
mod retry;
/// Offline verification of lease tokens.
mod verify;

pub use api::{
    AcquireRequest, Acquired, BorrowRequest, Lease, QueuePlace, Released, Renewed, Returned,
    Validated,
};
pub use client::{Client, ClientBuilder, Result, parse_base_url};
pub use error::{Error, transport_cause};
pub use guard::{GuardOptions, SeatGuard, SeatState};
/// The claims of a verified lease token (from license-core).
pub use license_core::LeaseClaims;
pub use queue::MAX_WAIT;
pub use retry::RetryPolicy;
pub use verify::{DEFAULT_ISSUER, Verifier};
