//! Quota checks inside a write's transaction: the per-tenant lock that serialises the changes
//! a quota limits, and the tenant's usage counted under it.
//!
//! The lock is the tenant's row in `tenants`, taken `FOR NO KEY UPDATE` on PostgreSQL: two
//! creates of one tenant queue on it, so the second counts what the first wrote, while the
//! foreign-key checks of other writes (`FOR KEY SHARE`, audit events and API keys refer to
//! `tenants`) are not blocked. SQLite needs no row lock: a write transaction holds the file's
//! write lock from `BEGIN IMMEDIATE` (sea-query leaves the clause out there).

use license_core::{Result, TenantId, TenantUsage};
use sea_orm::sea_query::{Expr, Func, LockType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

use crate::entities::{api_keys, licenses, tenants};
use crate::errors::{corrupt, db_err};

/// Locks the tenant's row until the transaction ends; `false` when the tenant does not exist.
pub(crate) async fn lock_tenant(db: &impl ConnectionTrait, tenant: TenantId) -> Result<bool> {
    let found: Option<sea_orm::prelude::Uuid> = tenants::Entity::find_by_id(tenant.as_uuid())
        .select_only()
        .column(tenants::Column::Id)
        .lock(LockType::NoKeyUpdate)
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err)?;
    Ok(found.is_some())
}

/// What the tenant holds, in the figures its quotas limit: two aggregate queries.
pub(crate) async fn usage(db: &impl ConnectionTrait, tenant: TenantId) -> Result<TenantUsage> {
    // SUM of BIGINT is NUMERIC on PostgreSQL: cast back so both backends answer an integer.
    let seats = Expr::cust(
        "CAST(COALESCE(SUM(CASE WHEN status <> 'revoked' THEN seats + overdraft ELSE 0 END), 0) AS BIGINT)",
    );
    let (count, seats): (i64, i64) = licenses::Entity::find()
        .select_only()
        .column_as(
            Expr::from(Func::count(Expr::col(licenses::Column::Id))),
            "licenses",
        )
        .column_as(seats, "seats")
        .filter(licenses::Column::TenantId.eq(tenant.as_uuid()))
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err)?
        .unwrap_or((0, 0));
    let keys = api_keys::Entity::find()
        .filter(api_keys::Column::TenantId.eq(tenant.as_uuid()))
        .filter(api_keys::Column::RevokedAt.is_null())
        .count(db)
        .await
        .map_err(db_err)?;
    Ok(TenantUsage {
        licenses: u64::try_from(count).map_err(|e| corrupt("license count", e))?,
        api_keys: keys,
        seats: u64::try_from(seats).map_err(|e| corrupt("seat total", e))?,
    })
}
