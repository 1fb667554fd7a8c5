//! The floating-license domain: seats, sessions, lease tokens, the ports adapters implement,
//! and the use cases. No network, no database, no runtime.
//!
//! A vendor (tenant) sells a [`License`] with a number of seats. An application calls
//! [`LicenseService::acquire`] when it starts, [`LicenseService::heartbeat`] while it runs and
//! [`LicenseService::release`] when it exits; each grant returns a lease token signed by the
//! tenant's own key, which the application verifies offline with [`TokenVerifier`] — pinned to
//! the root key that certifies every tenant key.
//!
//! ```
//! use std::sync::Arc;
//! use license_core::{memory, *};
//!
//! # futures::executor::block_on(async {
//! let clock = Arc::new(SystemClock);
//! let store = Arc::new(memory::MemoryStore::default());
//! let ledger = Arc::new(memory::MemoryLedger::new(clock.clone()));
//! let root = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA)?);
//! let service = LicenseService::new(store.clone(), ledger, root.clone(), clock, "acme");
//!
//! let admin = AdminService::new(store, Arc::new(SystemClock));
//! let tenant = admin.create_tenant("Acme CAD", &Actor::Operator).await?;
//! let license = admin
//!     .create_license(tenant.id, NewLicense::new("CAD Pro", SeatCount::new(1)?), &Actor::Operator)
//!     .await?;
//!
//! // The embedding application itself is the caller here (a server names the credential's
//! // identity, and only that caller may renew or release the session).
//! let app = Caller::new(Actor::System);
//! let hw = HardwareId::parse("laptop-1")?;
//! let lease = service.acquire(tenant.id, &app.actor, &license.key, &hw, None).await?;
//! // The application pins the root and checks the tenant's published keys against it.
//! let published = service.tenant_jwks(tenant.id).await?;
//! let root_keys = Jwks { keys: vec![root.public_jwk()] };
//! let now = chrono::Utc::now();
//! let verifier = TokenVerifier::pinned(&root_keys, &published, "acme", tenant.id, now)?;
//! assert_eq!(verifier.verify(&lease.token, now)?.sub, lease.session.id);
//!
//! // One seat: a second machine is refused until the first releases.
//! let other = HardwareId::parse("laptop-2")?;
//! let refused = service.acquire(tenant.id, &app.actor, &license.key, &other, None).await;
//! assert_eq!(refused.unwrap_err().code(), "no_seats_available");
//! service.release(tenant.id, lease.session.id, &app).await?;
//! assert!(service.acquire(tenant.id, &app.actor, &license.key, &other, None).await.is_ok());
//! # Ok::<(), Error>(()) }).unwrap();
//! ```

#![warn(missing_docs)]

/// Acquire: take a seat, or get back the one this machine holds.
pub mod acquire;
/// Validated admin commands: creating tenants, licenses and API keys, with their audit events.
pub mod admin;
/// Tenant API keys: generation, parsing and hashing of secrets.
pub mod api_key;
/// Audit events: who changed what, when.
pub mod audit;
/// Borrow and return: a seat taken offline for a period.
pub mod borrow;
/// The `Clock` port, the system clock and a manual clock for tests.
pub mod clock;
/// The error type, its stable codes, and the kinds each use case declares.
pub mod error;
/// Signed checkpoints of the seat-event log: the tenant key vouches for an entry's hash.
pub mod event_checkpoint;
/// The seat-event log: append-only, numbered, hash-chained per tenant (ADR 0030).
pub mod event_log;
/// The event port: `SeatEvent`, sinks, and a bounded queue for slow consumers.
pub mod events;
/// Evict: an administrator ends a session and may hold its machine and person off.
pub mod evict;
/// Flushing the write-behind: renewals and peaks to the store, in one batch.
pub mod flush;
/// Heartbeat: renew a seat (no store call when it succeeds, one ledger call, one signature).
pub mod heartbeat;
/// Who may touch a session: its holder (the credential that acquired it) and its secret.
pub mod holder;
pub mod hot_path;
/// Typed UUID identifiers.
pub mod ids;
/// Compact JWS: signing through the `Signer` port, checking with the key's pinned algorithm.
mod jws;
/// How guessable a chosen license key is: `LicenseKey::estimated_bits` and `ensure_strong`.
mod key_strength;
/// Keys: the JWKS clients verify lease tokens with, retired keys included.
pub mod keys;
/// Lease policies: TTL and heartbeat interval.
pub mod lease_policy;
/// Who a seat is for: per machine, per user or per process; host names and process ids.
pub mod leasing;
/// Licenses, license keys, seat counts and statuses.
pub mod license;
/// A signer holding its key in memory (Ed25519, RSA, P-256 on aws-lc-rs).
pub mod local_signer;
/// Retention of the seat-event log: old ranges cut at a checkpoint, daily figures kept.
pub mod log_retention;
/// In-memory adapters: the embedded default's ledger and the test store.
pub mod memory;
/// Overdraft as billable overage: marked grants, seat-minutes per day, the daily cap.
pub mod overdraft;
/// Keyset pagination: pages of licenses by id, of sessions by `(acquired_at, id)`.
pub mod page;
/// The store's record of the seat queue's tickets, for a rebuild of the queue.
pub mod queue_tickets;
/// Per-tenant quotas on licenses, API keys and seats, and the rule that applies them.
pub mod quota;
/// Randomness from the OS.
mod random;
/// Readiness: whether the store, the ledger and the signer answer.
pub mod readiness;
/// Reap: mark sessions past their expiry as expired in the store, and delete sessions that
/// ended longer ago than the retention.
pub mod reap;
/// Rebuilding a ledger that lost its state, the retry every ledger call goes through, and
/// the live seat count.
pub mod rebuild;
/// Release: end a session and free its seat.
pub mod release;
/// The `SeatLedger` port.
pub mod seat_ledger;
/// Seat policies: groups, reserve / max / include / exclude, and the tally the ledger checks.
pub mod seat_policy;
/// The seat queue as the ledger sees it (ADR 0029).
pub mod seat_queue;
/// Seat rules: borrowing, linger, minimum hold, overdraft cap, leasing strategy.
pub mod seat_rules;
/// Seat usage: a license's live seats against its limit, read for gauges (never rebuilds).
pub mod seat_usage;
/// `LicenseService`: the ports the seat use cases share, and the steps they share.
pub mod service;
/// Sessions, hardware ids, user e-mails.
pub mod session;
/// The `Signer` port, JWK and JWKS.
pub mod signer;
/// The durable-store ports.
pub mod store;
/// Tenants.
pub mod tenant;
/// Tenant signing keys: per-tenant lease keys certified by the root, their rotation and
/// their protection at rest.
pub mod tenant_keys;
/// Port contract tests every adapter runs (feature `testing`).
#[cfg(feature = "testing")]
pub mod testing;
/// Text people read: no control, bidirectional or invisible formatting characters.
pub mod text;
/// Lease tokens: claims, issuing and offline verification.
pub mod token;
/// Usage figures.
pub mod usage;
/// Usage reports from the seat-event log: peaks, seat time, denials, waits; by user, machine,
/// group.
pub mod usage_report;
/// Signed daily usage statements: a day's figures, signed with the tenant's key.
pub mod usage_statement;
/// Validate: check a lease token and that its session still holds its seat.
pub mod validate;
/// Waiting for a seat in a license's queue (ADR 0029).
pub mod wait;
/// Webhooks: endpoints, signing, backoff and the store port, delivered from the event log
/// (ADR 0032).
pub mod webhooks;

pub use acquire::Applicant;
pub use admin::{
    AdminService, CredentialCacheConfig, CredentialCacheStats, LicenseChange, NewLicense,
};
pub use api_key::{ApiKey, ApiKeySecret, Scope};
pub use audit::{Actor, AuditEvent};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Dependency, Error, ErrorKind, InactiveReason, Resource, Result};
pub use events::{EventSink, SeatEvent, SeatEventKind};
pub use holder::{Caller, SessionSecret, SessionSecretHash};
pub use ids::{
    ApiKeyId, AuditEventId, LicenseId, SessionId, TenantId, WebhookDeliveryId, WebhookId,
};
pub use leasing::{HostName, LeasingStrategy, ProcessId};
pub use license::{Entitlement, LeasePolicy, License, LicenseKey, LicenseStatus, SeatCount};
pub use local_signer::LocalSigner;
pub use page::SessionCursor;
pub use queue_tickets::{QueueTicket, QueueTicketStore};
pub use quota::{Quota, TenantQuotas, TenantUsage};
pub use readiness::Readiness;
pub use reap::ReapOutcome;
pub use seat_ledger::{
    AcquireOutcome, Hold, HoldOff, LedgerKey, LiveCount, RebuildOutcome, RenewOutcome, SeatKind,
    SeatLedger, SeatRef, SeatRequest, UserRef,
};
pub use seat_policy::{
    Admission, Cap, Counter, Member, PolicyRule, Requester, Reserve, SeatGroup, SeatLimit,
    SeatPolicy, SeatTally, Target, parse_options,
};
pub use seat_queue::{MAX_PRIORITY, QueueMode, QueueRequest, Waiter};
pub use seat_rules::{SeatRules, SeatRulesChange};
pub use seat_usage::SeatUsage;
pub use service::{Lease, LicenseService, ServiceStats};
pub use session::{EndReason, Eviction, HardwareId, LiveSeat, Session, SessionEnd, UserEmail};
pub use signer::{Jwks, PublicJwk, Signer, SigningAlgorithm};
pub use store::{
    ApiKeyStore, AuditLog, Ended, HeartbeatRecord, HeartbeatVerdict, LicenseStore, Page,
    SessionStore, Store, TenantKeyStore, UsagePeak, WriteBehindBatch,
};
pub use tenant::Tenant;
pub use tenant_keys::{
    KeyWrapper, LocalKeyWrapper, TenantJwks, TenantKey, TenantKeyConfig, TenantKeys,
};
pub use token::{LeaseClaims, TokenError, TokenVerifier};
pub use usage::UsageDay;
pub use wait::{Acquired, QueuePlace, SeatWait};
