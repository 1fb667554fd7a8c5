//! Two partial indexes on `sessions`, both backends:
//!
//! - `sessions_live_by_acquired_idx (license_id, acquired_at, id) WHERE ended_at IS NULL`:
//!   the admin listing pages a license's live sessions by `(acquired_at, id)` (session ids
//!   carry no order), one bounded index range per page.
//! - `sessions_ended_by_tenant_idx (tenant_id, ended_at) WHERE ended_at IS NOT NULL`: the
//!   reaper deletes a tenant's sessions that ended before the retention, oldest first.
//!
//! No table: the daily usage figures already live apart from sessions (`usage_days`, written
//! at each grant and denial), so deleting old sessions needs nothing rolled up first.
//!
//! The indexes are built inside the migration transaction (`CREATE INDEX`, not
//! `CONCURRENTLY`), which holds writes to `sessions` for as long as the build takes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TenantId,
    LicenseId,
    AcquiredAt,
    EndedAt,
}

// The trait declares `&SchemaManager` with its lifetime elided; the impl must match.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("sessions_live_by_acquired_idx")
                    .table(Sessions::Table)
                    .col(Sessions::LicenseId)
                    .col(Sessions::AcquiredAt)
                    .col(Sessions::Id)
                    .and_where(Expr::col(Sessions::EndedAt).is_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_ended_by_tenant_idx")
                    .table(Sessions::Table)
                    .col(Sessions::TenantId)
                    .col(Sessions::EndedAt)
                    .and_where(Expr::col(Sessions::EndedAt).is_not_null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
