//! Webhooks (ADR 0032): `webhook_endpoints`, each with its cursor in the tenant's event log,
//! its backoff and its dispatcher claim, and `webhook_deliveries`, the delivery log.
//!
//! On PostgreSQL both tables are tenant-owned (RLS enabled and forced, the `tenant_isolation`
//! policy on `app.tenant_id` as in m0002). Claiming due endpoints must look across tenants,
//! so, as m0003 does for key changes, the migration adds the narrowest opening it can: a
//! `SELECT` and an `UPDATE` policy on `webhook_endpoints`, and a `SELECT` policy on
//! `event_log_heads`, true only while `app.webhook_claim` is `on`, and one function,
//! `webhook_claim_due(claimer, at, lease_until, max_rows)`, that turns the setting on, claims
//! (`FOR UPDATE SKIP LOCKED`, so concurrent replicas never claim one endpoint twice) and
//! puts the setting back. The store never sets `app.webhook_claim` itself.
//!
//! SQLite has no row security: there the tables and indexes are all this migration creates.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    TenantId,
    Url,
    EventTypes,
    Secret,
    Enabled,
    Description,
    CreatedAt,
    CursorSeq,
    Attempts,
    FailingSince,
    NextAttemptAt,
    DisabledReason,
    ClaimedBy,
    ClaimUntil,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    EndpointId,
    TenantId,
    Seq,
    WebhookId,
    AttemptedAt,
    StatusCode,
    Error,
    Ok,
    DurationMs,
}

/// As in m0002: the tenant named by the transaction, or NULL when unset.
const CURRENT_TENANT: &str = "NULLIF(current_setting('app.tenant_id', true), '')::uuid";
/// True only inside `webhook_claim_due`.
const CLAIMING: &str = "current_setting('app.webhook_claim', true) = 'on'";

/// RLS, the claim policies and the claim function (PostgreSQL only; see the module docs).
fn postgres_row_security() -> String {
    format!(
        "
ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_endpoints
    USING (tenant_id = {CURRENT_TENANT})
    WITH CHECK (tenant_id = {CURRENT_TENANT});
CREATE POLICY webhook_claim_read ON webhook_endpoints FOR SELECT USING ({CLAIMING});
CREATE POLICY webhook_claim_write ON webhook_endpoints FOR UPDATE
    USING ({CLAIMING}) WITH CHECK ({CLAIMING});
CREATE POLICY webhook_claim_read ON event_log_heads FOR SELECT USING ({CLAIMING});
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries
    USING (tenant_id = {CURRENT_TENANT})
    WITH CHECK (tenant_id = {CURRENT_TENANT});
CREATE FUNCTION webhook_claim_due(
    p_claimer text, p_at timestamptz, p_until timestamptz, p_max integer)
    RETURNS SETOF webhook_endpoints
    LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $fn$
DECLARE
    previous text := current_setting('app.webhook_claim', true);
BEGIN
    PERFORM set_config('app.webhook_claim', 'on', true);
    RETURN QUERY
        UPDATE webhook_endpoints AS e
        SET claimed_by = p_claimer, claim_until = p_until
        WHERE e.id IN (
            SELECT w.id FROM webhook_endpoints AS w
            JOIN event_log_heads AS h ON h.tenant_id = w.tenant_id
            WHERE w.enabled AND h.seq > w.cursor_seq
              AND (w.next_attempt_at IS NULL OR w.next_attempt_at <= p_at)
              AND (w.claim_until IS NULL OR w.claim_until <= p_at)
            ORDER BY w.next_attempt_at NULLS FIRST, w.id
            LIMIT p_max
            FOR UPDATE OF w SKIP LOCKED)
        RETURNING e.*;
    PERFORM set_config('app.webhook_claim', COALESCE(previous, ''), true);
END
$fn$;
"
    )
}

fn optional_time(col: WebhookEndpoints) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

// The trait declares `&SchemaManager` with its lifetime elided; the impl must match.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use WebhookDeliveries as D;
        use WebhookEndpoints as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(ColumnDef::new(E::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(E::TenantId).uuid().not_null())
                    .col(ColumnDef::new(E::Url).text().not_null())
                    .col(ColumnDef::new(E::EventTypes).json_binary().not_null())
                    .col(ColumnDef::new(E::Secret).text().not_null())
                    .col(ColumnDef::new(E::Enabled).boolean().not_null())
                    .col(ColumnDef::new(E::Description).text().not_null())
                    .col(
                        ColumnDef::new(E::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // The domain's `u64` log number.
                    .col(ColumnDef::new(E::CursorSeq).big_integer().not_null())
                    .col(ColumnDef::new(E::Attempts).big_integer().not_null())
                    .col(optional_time(E::FailingSince))
                    .col(optional_time(E::NextAttemptAt))
                    .col(ColumnDef::new(E::DisabledReason).text().null())
                    .col(ColumnDef::new(E::ClaimedBy).text().null())
                    .col(optional_time(E::ClaimUntil))
                    .foreign_key(
                        ForeignKey::create()
                            .name("webhook_endpoints_tenant_fk")
                            .from_tbl(E::Table)
                            .from_col(E::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_endpoints_tenant_id_idx")
                    .table(E::Table)
                    .col(E::TenantId)
                    .col(E::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(ColumnDef::new(D::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(D::EndpointId).uuid().not_null())
                    .col(ColumnDef::new(D::TenantId).uuid().not_null())
                    .col(ColumnDef::new(D::Seq).big_integer().not_null())
                    .col(ColumnDef::new(D::WebhookId).text().not_null())
                    .col(
                        ColumnDef::new(D::AttemptedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(D::StatusCode).integer().null())
                    .col(ColumnDef::new(D::Error).text().null())
                    .col(ColumnDef::new(D::Ok).boolean().not_null())
                    .col(ColumnDef::new(D::DurationMs).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("webhook_deliveries_endpoint_fk")
                            .from_tbl(D::Table)
                            .from_col(D::EndpointId)
                            .to(E::Table, E::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("webhook_deliveries_tenant_fk")
                            .from_tbl(D::Table)
                            .from_col(D::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // An endpoint's delivery log, newest first.
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_endpoint_at_idx")
                    .table(D::Table)
                    .col(D::EndpointId)
                    .col(D::AttemptedAt)
                    .to_owned(),
            )
            .await?;

        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(&postgres_row_security())
                .await?;
        }
        Ok(())
    }
}
