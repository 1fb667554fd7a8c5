//! The seat queue's tickets (`QueueTicketStore`, ADR 0029): one row per waiting client,
//! upserted at its join, deleted when its wait ends, read in queue order by a rebuild.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use license_core::{
    Error, LicenseId, QueueTicket, QueueTicketStore, Resource, Result, SessionId, TenantId,
};
use sea_orm::sea_query::{LockBehavior, LockType, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr};

use crate::connect::{Access, SqlStore};
use crate::entities::queue_tickets::{self, Column};
use crate::entities::stored_time;
use crate::errors::db_err;
use crate::sessions::MAX_REAP_BATCH;

#[async_trait]
impl QueueTicketStore for SqlStore {
    async fn record_ticket(&self, ticket: &QueueTicket) -> Result<()> {
        let row = queue_tickets::ActiveModel::of(ticket)?;
        let txn = self.scoped(ticket.tenant_id, Access::Write).await?;
        // The license must be the tenant's: the foreign key proves it exists, this its owner
        // (on PostgreSQL row security would hide another tenant's license from the check).
        crate::licenses::ensure_license(&txn, ticket.tenant_id, ticket.license_id).await?;
        let on_conflict = OnConflict::column(Column::Id)
            .update_columns([
                Column::Seat,
                Column::Priority,
                Column::Arrival,
                Column::JoinedAt,
                Column::WaitUntil,
                Column::Tally,
            ])
            .to_owned();
        queue_tickets::Entity::insert(row)
            .on_conflict(on_conflict)
            .exec_without_returning(&txn)
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                    Error::NotFound(Resource::License)
                }
                _ => db_err(e),
            })?;
        txn.commit().await.map_err(db_err)
    }

    async fn delete_ticket(&self, tenant: TenantId, ticket: SessionId) -> Result<bool> {
        let txn = self.scoped(tenant, Access::Write).await?;
        let deleted = queue_tickets::Entity::delete_many()
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::Id.eq(ticket.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        Ok(deleted.rows_affected > 0)
    }

    async fn live_tickets(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueueTicket>> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let rows = queue_tickets::Entity::find()
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::LicenseId.eq(license.as_uuid()))
            .filter(Column::WaitUntil.gt(stored_time(now)))
            .order_by_desc(Column::Priority)
            .order_by_asc(Column::Arrival)
            .order_by_asc(Column::JoinedAt)
            .order_by_asc(Column::Id)
            .all(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        rows.into_iter()
            .map(queue_tickets::Model::into_domain)
            .collect()
    }

    async fn delete_expired_tickets(
        &self,
        tenant: TenantId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64> {
        let limit = std::cmp::min(limit, MAX_REAP_BATCH);
        let txn = self.scoped(tenant, Access::Write).await?;
        // Locked and skipped when locked: concurrent reapers delete disjoint batches.
        let due: Vec<sea_orm::prelude::Uuid> = queue_tickets::Entity::find()
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::WaitUntil.lte(stored_time(before)))
            .select_only()
            .column(Column::Id)
            .order_by_asc(Column::WaitUntil)
            .limit(u64::from(limit))
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .into_tuple()
            .all(&txn)
            .await
            .map_err(db_err)?;
        if due.is_empty() {
            txn.commit().await.map_err(db_err)?;
            return Ok(0);
        }
        let deleted = queue_tickets::Entity::delete_many()
            .filter(Column::Id.is_in(due))
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        Ok(deleted.rows_affected)
    }
}
