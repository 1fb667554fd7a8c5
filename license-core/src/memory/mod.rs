//! In-memory adapters: the embedded default's seat ledger, and a store for tests and examples.
//! Both are thread-safe and held to the same port contracts as the Redis and SQL adapters.

/// The in-process seat ledger.
mod ledger;
/// The in-memory store's record of queue tickets.
mod queue_tickets;
/// The in-memory store's sessions and usage.
mod sessions;
/// The in-memory store: tenants, licenses, API keys, audit.
mod store;
/// The in-memory store's tenant signing keys.
mod tenant_keys;
/// The in-memory store's webhook endpoints, claims and delivery log.
mod webhooks;

pub use ledger::MemoryLedger;
pub use store::MemoryStore;
