//! The schema's history: one file per migration, never edited once released. Each migration
//! names its tables and columns itself (frozen `Iden` enums), so later entity changes cannot
//! rewrite history.

use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// Tables, keys and indexes (both backends).
mod m0001_create_tables;
/// Row-Level Security policies (PostgreSQL only).
mod m0002_row_level_security;
/// Tenant signing keys, their indexes and (PostgreSQL) row security.
mod m0003_tenant_signing_keys;
/// Indexes for paging live sessions and deleting ended ones.
mod m0004_session_pages_and_retention;
/// Session holders and secrets, and the license setting that asks for secrets.
mod m0005_session_holders;
/// Seat rules: borrowed, overdraft, lingering and evicted sessions, the licenses' rules, the
/// overdraft peak, and their partial indexes.
mod m0006_seat_rules;
/// Seat policies and leasing strategies: the licenses' strategy, process cap and policy, and
/// each session's seat key and counters.
mod m0007_seat_policies;
/// Whether each session's grant is on record (the write-behind confirms it).
mod m0008_confirmed_grants;

/// Every migration, oldest first.
#[derive(Debug)]
pub(crate) struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_create_tables::Migration),
            Box::new(m0002_row_level_security::Migration),
            Box::new(m0003_tenant_signing_keys::Migration),
            Box::new(m0004_session_pages_and_retention::Migration),
            Box::new(m0005_session_holders::Migration),
            Box::new(m0006_seat_rules::Migration),
            Box::new(m0007_seat_policies::Migration),
            Box::new(m0008_confirmed_grants::Migration),
        ]
    }
}
