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
/// The seat queue's license rules: the longest wait and the queue's length.
mod m0009_seat_queue;
/// The seat-event log: each tenant's hash-chained entries and its head, with (PostgreSQL) row
/// security.
mod m0010_event_log;
/// Webhook endpoints and their delivery log, with (PostgreSQL) row security and the claim
/// function.
mod m0011_webhooks;
/// The seat queue's tickets, with (PostgreSQL) row security.
mod m0012_queue_tickets;
/// The seat-event log's retention: each tenant's cut and the figures kept per license and
/// day, with (PostgreSQL) row security and the log's trim policy.
mod m0013_event_log_retention;
/// Webhook secret rotation: the previous secret and until when it signs.
mod m0014_webhook_secret_rotation;

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
            Box::new(m0009_seat_queue::Migration),
            Box::new(m0010_event_log::Migration),
            Box::new(m0011_webhooks::Migration),
            Box::new(m0012_queue_tickets::Migration),
            Box::new(m0013_event_log_retention::Migration),
            Box::new(m0014_webhook_secret_rotation::Migration),
        ]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::DateTime;
    use license_core::event_log::{ChainHash, EventLogStore, NewLogEntry, verify_chain};
    use license_core::{
        Actor, AuditEvent, LeasePolicy, License, LicenseId, LicenseKey, LicenseStatus,
        LicenseStore, SeatCount, SeatPolicy, SeatRules, Tenant,
    };
    use sea_orm::ActiveValue::NotSet;
    use sea_orm::{ConnectionTrait, EntityTrait, Statement};
    use sea_orm_migration::MigratorTrait;

    use super::Migrator;
    use crate::SqlStore;
    use crate::entities::licenses;

    /// A database left at m0008 with a license in it upgrades, and the license reads back
    /// without a queue: m0009's columns take their defaults on existing rows.
    #[tokio::test]
    async fn a_license_from_before_the_queue_columns_has_no_queue() {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        Migrator::up(&store.db, Some(8)).await.unwrap();

        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let tenant = Tenant::new("Before the queue", at).unwrap();
        let audit = AuditEvent::new(
            tenant.id,
            Actor::Operator,
            "tenant.create",
            "test".to_owned(),
            at,
            serde_json::json!({}),
        );
        store.create_tenant(&tenant, &audit).await.unwrap();
        let license = License {
            id: LicenseId::new(),
            tenant_id: tenant.id,
            key: LicenseKey::parse("OLD-KEY-0009").unwrap(),
            product: "CAD".into(),
            seats: SeatCount::new(2).unwrap(),
            overdraft: 0,
            status: LicenseStatus::Active,
            expires_at: None,
            lease: LeasePolicy::default(),
            entitlements: vec![],
            require_session_secret: false,
            rules: SeatRules::default(),
            policy: SeatPolicy::default(),
            created_at: at,
            updated_at: at,
        };
        // The row as m0008 knew it: without the queue's columns.
        let old_row = licenses::ActiveModel {
            max_wait_seconds: NotSet,
            max_queue_length: NotSet,
            ..licenses::ActiveModel::try_from(&license).unwrap()
        };
        licenses::Entity::insert(old_row)
            .exec_without_returning(&store.db)
            .await
            .unwrap();

        store.migrate().await.unwrap();

        let applied = store
            .db
            .query_one_raw(Statement::from_string(
                store.db.get_database_backend(),
                "SELECT count(*) AS n FROM seaql_migrations",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        assert_eq!(
            applied,
            i64::try_from(Migrator::migrations().len()).unwrap()
        );
        let read = store.get_license(tenant.id, license.id).await.unwrap();
        assert_eq!(
            (read.rules.max_wait_seconds, read.rules.max_queue_length),
            (0, None)
        );
        assert_eq!(read, license);
    }

    /// A tenant from before m0010 has no head row: after the upgrade its first append starts
    /// the chain at 1 from the genesis, and an empty append reads 0.
    #[tokio::test]
    async fn a_tenant_from_before_the_event_log_starts_its_chain_at_one() {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        Migrator::up(&store.db, Some(9)).await.unwrap();
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let tenant = Tenant::new("Before the log", at).unwrap();
        let audit = AuditEvent::new(
            tenant.id,
            Actor::Operator,
            "tenant.create",
            "test".to_owned(),
            at,
            serde_json::json!({}),
        );
        store.create_tenant(&tenant, &audit).await.unwrap();

        store.migrate().await.unwrap();

        assert_eq!(store.append_events(tenant.id, vec![]).await.unwrap(), 0);
        let new = NewLogEntry {
            at,
            replica: "r1".into(),
            body: r#"{"type":"granted"}"#.into(),
        };
        assert_eq!(store.append_events(tenant.id, vec![new]).await.unwrap(), 1);
        let log = store.read_events(tenant.id, 0, 10).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].prev_hash, ChainHash::GENESIS);
        assert_eq!(verify_chain(&log, None), Ok(()));
    }

    /// A tenant whose log has entries from before m0011: after the upgrade, a new endpoint
    /// starts at that log's head (no history is sent) and is claimed once more is appended.
    #[tokio::test]
    async fn a_webhook_made_after_the_upgrade_starts_at_the_log_head() {
        use license_core::webhooks::{
            EventTypes, UrlPolicy, WebhookClaim, WebhookEndpoint, WebhookSecret, WebhookStore,
            WebhookUrl,
        };
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        Migrator::up(&store.db, Some(10)).await.unwrap();
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let tenant = Tenant::new("Before webhooks", at).unwrap();
        let audit = AuditEvent::new(
            tenant.id,
            Actor::Operator,
            "tenant.create",
            "test".to_owned(),
            at,
            serde_json::json!({}),
        );
        store.create_tenant(&tenant, &audit).await.unwrap();
        let new = || NewLogEntry {
            at,
            replica: "r1".into(),
            body: r#"{"type":"granted"}"#.into(),
        };
        store
            .append_events(tenant.id, vec![new(), new()])
            .await
            .unwrap();

        store.migrate().await.unwrap();

        let endpoint = WebhookEndpoint::new(
            tenant.id,
            WebhookUrl::parse("https://hooks.example.com/", UrlPolicy::default()).unwrap(),
            EventTypes::all(),
            WebhookSecret::generate().unwrap(),
            "",
            at,
        )
        .unwrap();
        let audit = AuditEvent::new(
            tenant.id,
            Actor::Operator,
            "webhook.create",
            "test".to_owned(),
            at,
            serde_json::json!({}),
        );
        let created = store.create_webhook(&endpoint, &audit).await.unwrap();
        assert_eq!(created.cursor, 2);
        let claim = WebhookClaim {
            by: "r1".into(),
            now: at,
            until: at + chrono::TimeDelta::seconds(30),
        };
        assert!(
            store
                .claim_due_webhooks(&claim, 10)
                .await
                .unwrap()
                .is_empty()
        );
        store.append_events(tenant.id, vec![new()]).await.unwrap();
        assert_eq!(store.claim_due_webhooks(&claim, 10).await.unwrap().len(), 1);
    }
    /// A license from before m0012 gets a queue record after the upgrade: its tickets are
    /// recorded, read back in order and deleted.
    #[tokio::test]
    async fn a_license_from_before_queue_tickets_records_them_after_the_upgrade() {
        use license_core::{HardwareId, QueueTicket, QueueTicketStore, SeatTally, SessionId};
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        Migrator::up(&store.db, Some(11)).await.unwrap();
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let tenant = Tenant::new("Before queue tickets", at).unwrap();
        let audit = |action: &str| {
            AuditEvent::new(
                tenant.id,
                Actor::Operator,
                action,
                "test".to_owned(),
                at,
                serde_json::json!({}),
            )
        };
        store
            .create_tenant(&tenant, &audit("tenant.create"))
            .await
            .unwrap();
        let license = License {
            id: LicenseId::new(),
            tenant_id: tenant.id,
            key: LicenseKey::parse("OLD-KEY-0011").unwrap(),
            product: "CAD".into(),
            seats: SeatCount::new(2).unwrap(),
            overdraft: 0,
            status: LicenseStatus::Active,
            expires_at: None,
            lease: LeasePolicy::default(),
            entitlements: vec![],
            require_session_secret: false,
            rules: SeatRules::default(),
            policy: SeatPolicy::default(),
            created_at: at,
            updated_at: at,
        };
        store
            .create_license(
                &license,
                &license_core::TenantQuotas::UNLIMITED,
                &audit("license.create"),
            )
            .await
            .unwrap();

        store.migrate().await.unwrap();

        let ticket = |arrival| QueueTicket {
            tenant_id: tenant.id,
            license_id: license.id,
            ticket: SessionId::new(),
            seat: HardwareId::parse("pc-1").unwrap(),
            priority: 0,
            arrival,
            joined_at: at,
            wait_until: at + chrono::TimeDelta::minutes(10),
            tally: SeatTally::default(),
        };
        let (second, first) = (ticket(2), ticket(1));
        store.record_ticket(&second).await.unwrap();
        store.record_ticket(&first).await.unwrap();
        let live = store.live_tickets(tenant.id, license.id, at).await.unwrap();
        assert_eq!(live, vec![first.clone(), second]);
        assert!(store.delete_ticket(tenant.id, first.ticket).await.unwrap());
    }
}
