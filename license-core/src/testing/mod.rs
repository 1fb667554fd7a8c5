//! Port contracts: generic checks every adapter's tests run against its real backend, so the
//! in-memory, SQLite, PostgreSQL and Redis adapters are held to the same behaviour.
//!
//! Each contract panics with a message naming the broken rule.

/// The event log in the `Store` contract: numbered, linked, concurrent appends.
mod event_log;
/// Session holders, secrets and release audits: part of the `Store` contract.
mod holder;
/// The `SeatLedger` contract.
mod ledger;
/// Queue tickets in the `Store` contract: recorded, listed in order, deleted, reaped.
mod queue_tickets;
/// The quota part of the `Store` contract: usage totals, refusals, no overshoot.
mod quotas;
/// Seat policies and seat keys in the `Store` contract: groups and rules, seat keys and
/// counters.
mod seat_policies;
/// The seat rules' queries in the `Store` contract: lingering, held off, borrowed, overdraft.
mod seat_rule_queries;
/// Seat rules in the `Store` contract: license rules, borrowed, overdraft, lingering and
/// evicted sessions, the overdraft peak.
mod seat_rules;
/// Pages of live sessions, and deleting ended ones, in the `Store` contract.
mod session_pages;
/// The `Store` contract.
mod store;
/// The `TenantKeyStore` part of the `Store` contract.
mod tenant_keys;
/// Webhook endpoints, claims, cursors and deliveries in the `Store` contract.
mod webhooks;

pub use ledger::{LedgerHarness, seat_ledger_contract};
pub use store::store_contract;
