//! Port contracts: generic checks every adapter's tests run against its real backend, so the
//! in-memory, SQLite, PostgreSQL and Redis adapters are held to the same behaviour.
//!
//! Each contract panics with a message naming the broken rule.

/// Session holders, secrets and release audits: part of the `Store` contract.
mod holder;
/// The `SeatLedger` contract.
mod ledger;
/// The `Store` contract.
mod store;
/// The `TenantKeyStore` part of the `Store` contract.
mod tenant_keys;

pub use ledger::{LedgerHarness, seat_ledger_contract};
pub use store::store_contract;
