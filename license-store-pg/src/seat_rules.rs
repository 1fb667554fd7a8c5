//! The sessions the seat rules ask about (ADR 0025): marking an overdraft grant, the lingering
//! seats and hold-offs a ledger rebuild restores, and the overdraft sessions the daily minutes
//! are counted from. Each query runs on its partial index from m0006.

use chrono::{DateTime, Utc};
use license_core::{Error, LicenseId, Resource, Result, Session, SessionId, TenantId};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Select};

use crate::connect::{Access, SqlStore};
use crate::entities::sessions::{self, Column};
use crate::entities::stored_time;
use crate::errors::db_err;

/// `UPDATE sessions SET overdraft = true WHERE tenant_id = $t AND id = $id`; `NotFound` when
/// no row is the tenant's.
pub(crate) async fn mark_overdraft(
    store: &SqlStore,
    tenant: TenantId,
    id: SessionId,
) -> Result<()> {
    let txn = store.scoped(tenant, Access::Write).await?;
    let updated = sessions::Entity::update_many()
        .col_expr(Column::Overdraft, Expr::value(true))
        .filter(Column::TenantId.eq(tenant.as_uuid()))
        .filter(Column::Id.eq(id.as_uuid()))
        .exec(&txn)
        .await
        .map_err(db_err)?;
    if updated.rows_affected == 0 {
        return Err(Error::NotFound(Resource::Session));
    }
    txn.commit().await.map_err(db_err)
}

/// `… WHERE linger_until IS NOT NULL AND linger_until > $now AND ended_at IS NOT NULL`, on
/// `sessions_lingering_idx`.
pub(crate) async fn lingering(
    store: &SqlStore,
    tenant: TenantId,
    license: LicenseId,
    now: DateTime<Utc>,
) -> Result<Vec<Session>> {
    let query = of_license(tenant, license)
        .filter(Column::LingerUntil.is_not_null())
        .filter(Column::LingerUntil.gt(stored_time(now)))
        .filter(Column::EndedAt.is_not_null());
    all(store, tenant, query).await
}

/// `… WHERE hold_until IS NOT NULL AND hold_until > $now AND ended_at IS NOT NULL`, on
/// `sessions_held_off_idx`.
pub(crate) async fn held_off(
    store: &SqlStore,
    tenant: TenantId,
    license: LicenseId,
    now: DateTime<Utc>,
) -> Result<Vec<Session>> {
    let query = of_license(tenant, license)
        .filter(Column::HoldUntil.is_not_null())
        .filter(Column::HoldUntil.gt(stored_time(now)))
        .filter(Column::EndedAt.is_not_null());
    all(store, tenant, query).await
}

/// `… WHERE overdraft AND acquired_at < $to AND COALESCE(ended_at, expires_at) > $from`, on
/// `sessions_overdraft_idx`: the overdraft sessions that held their seat at some time in
/// `[from, to)`.
pub(crate) async fn overdraft(
    store: &SqlStore,
    tenant: TenantId,
    license: LicenseId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Session>> {
    let held_until = Func::coalesce([
        Expr::col((sessions::Entity, Column::EndedAt)),
        Expr::col((sessions::Entity, Column::ExpiresAt)),
    ]);
    let query = of_license(tenant, license)
        // The bare column, not `= $1`: a bound value would not match the partial index's
        // predicate in PostgreSQL's generic plans.
        .filter(Expr::col((sessions::Entity, Column::Overdraft)))
        .filter(Column::AcquiredAt.lt(stored_time(to)))
        .filter(Expr::expr(held_until).gt(stored_time(from)));
    all(store, tenant, query).await
}

/// The license's sessions, tenant first (every index above leads with both).
fn of_license(tenant: TenantId, license: LicenseId) -> Select<sessions::Entity> {
    sessions::Entity::find()
        .filter(Column::TenantId.eq(tenant.as_uuid()))
        .filter(Column::LicenseId.eq(license.as_uuid()))
}

/// Every row `query` selects, oldest acquired first (then by id, as the memory store orders).
async fn all(
    store: &SqlStore,
    tenant: TenantId,
    query: Select<sessions::Entity>,
) -> Result<Vec<Session>> {
    let txn = store.scoped(tenant, Access::Read).await?;
    let rows = query
        .order_by_asc(Column::AcquiredAt)
        .order_by_asc(Column::Id)
        .all(&txn)
        .await
        .map_err(db_err)?;
    txn.commit().await.map_err(db_err)?;
    rows.into_iter().map(sessions::Model::into_domain).collect()
}
