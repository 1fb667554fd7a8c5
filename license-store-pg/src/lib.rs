//! The durable store of the license server on sea-orm: PostgreSQL in production, SQLite for
//! the embedded default, through one code path.
//!
//! [`SqlStore`] implements every store port of `license-core` (`LicenseStore`,
//! `SessionStore`, `ApiKeyStore`, `AuditLog`, `TenantKeyStore`, `EventLogStore`, `WebhookStore`, `QueueTicketStore`, `Store`).
//! Every query names the tenant; on PostgreSQL, Row-Level Security policies keyed on a
//! per-transaction setting back that up. Database errors become core errors: a unique violation is `Conflict`, a lost
//! connection or a timeout is `Unavailable` — never SQL text or credentials. See
//! `docs/adr/0006-sql-store.md` for the design.
//!
//! ```no_run
//! use std::sync::Arc;
//! use license_core::{Actor, AdminService, Store, SystemClock};
//! use license_store_pg::SqlStore;
//!
//! # async fn run() -> license_core::Result<()> {
//! let store = SqlStore::connect("sqlite://license.db?mode=rwc").await?;
//! // or: SqlStore::connect("postgres://license@db.internal/license").await?
//! store.migrate().await?;
//! store.ping().await?;
//!
//! let admin = AdminService::new(Arc::new(store), Arc::new(SystemClock));
//! let tenant = admin.create_tenant("Acme CAD", &Actor::Operator).await?;
//! # let _ = tenant;
//! # Ok(()) }
//! ```

/// Tenant API keys (`ApiKeyStore`).
mod api_keys;
/// The audit log (`AuditLog`) and the in-transaction audit writer.
mod audit;
/// `SqlStore`: connecting, migrating, tenant-scoped transactions.
mod connect;
/// sea-orm entities and their conversions to domain types.
mod entities;
/// Database errors to core errors (`db_err`).
mod errors;
/// The seat-event log (`EventLogStore`): hash-chained appends under the tenant's head row.
mod event_log;
/// Tenants and licenses (`LicenseStore`).
mod licenses;
/// The schema migrations.
mod migrations;
/// The seat queue's tickets (`QueueTicketStore`).
mod queue_tickets;
/// The per-tenant lock and usage counts that quota checks run under.
mod quotas;
/// Overdraft marks, lingering and held-off sessions, overdraft sessions of a period.
mod seat_rules;
/// A license's live (or live borrowed) sessions in pages; deleting sessions past the retention.
mod session_upkeep;
/// Sessions, the reaper and retention (`SessionStore`).
mod sessions;
/// Readiness (`Store::ping`).
mod store;
/// Tenant signing keys (`TenantKeyStore`).
mod tenant_keys;
/// Daily usage upserts and queries.
mod usage;
/// Webhook endpoints, claims and the delivery log (`WebhookStore`).
mod webhooks;

pub use connect::SqlStore;
