//! The admin and upkeep side of sessions: a license's live (or live borrowed) sessions page by
//! page, and the retention's batch delete of sessions that ended long ago.

use chrono::{DateTime, Utc};
use license_core::{LicenseId, Page, Result, Session, SessionCursor, TenantId};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

use crate::connect::{Access, SqlStore};
use crate::entities::sessions::{self, Column};
use crate::entities::stored_time;
use crate::errors::db_err;
use crate::sessions::MAX_REAP_BATCH;

/// The ids of at most `limit` sessions `query` selects, oldest by `order` first, locked for
/// this transaction; rows another replica's batch holds are skipped (`FOR UPDATE SKIP
/// LOCKED`), so two replicas' reapers never wait on, or handle, the same session.
pub(crate) async fn lock_due(
    txn: &DatabaseTransaction,
    query: Select<sessions::Entity>,
    order: Column,
    limit: u32,
) -> Result<Vec<Uuid>> {
    query
        .select_only()
        .column(Column::Id)
        .order_by_asc(order)
        .limit(u64::from(limit))
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .into_tuple()
        .all(txn)
        .await
        .map_err(db_err)
}

/// Which of a license's live sessions a page lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Live {
    /// Every live session, on `sessions_live_by_acquired_idx` (m0004).
    All,
    /// Borrowed ones only (`AND borrowed`), on `sessions_live_borrowed_idx` (m0006).
    Borrowed,
}

/// `… WHERE ended_at IS NULL AND expires_at > $now AND (acquired_at, id) > ($at, $id)
/// ORDER BY acquired_at, id LIMIT $n`, on the partial index of `which`.
pub(crate) async fn live_page(
    store: &SqlStore,
    tenant: TenantId,
    license: LicenseId,
    now: DateTime<Utc>,
    page: Page<SessionCursor>,
    which: Live,
) -> Result<Vec<Session>> {
    let txn = store.scoped(tenant, Access::Read).await?;
    let rows = live_page_query(tenant, license, now, page, which)
        .all(&txn)
        .await
        .map_err(db_err)?;
    txn.commit().await.map_err(db_err)?;
    rows.into_iter().map(sessions::Model::into_domain).collect()
}

/// The query of [`live_page`].
pub(crate) fn live_page_query(
    tenant: TenantId,
    license: LicenseId,
    now: DateTime<Utc>,
    page: Page<SessionCursor>,
    which: Live,
) -> Select<sessions::Entity> {
    let mut query = sessions::Entity::find()
        .filter(Column::TenantId.eq(tenant.as_uuid()))
        .filter(Column::LicenseId.eq(license.as_uuid()))
        .filter(Column::EndedAt.is_null())
        .filter(Column::ExpiresAt.gt(stored_time(now)));
    if which == Live::Borrowed {
        // The bare column, not `= $1`: a bound value would not match the partial index's
        // predicate in PostgreSQL's generic plans.
        query = query.filter(Expr::col((sessions::Entity, Column::Borrowed)));
    }
    if let Some(after) = page.after {
        query = query.filter(
            Expr::tuple([
                Expr::col((sessions::Entity, Column::AcquiredAt)),
                Expr::col((sessions::Entity, Column::Id)),
            ])
            .gt(Expr::tuple([
                Expr::val(stored_time(after.acquired_at)),
                Expr::val(after.id.as_uuid()),
            ])),
        );
    }
    query
        .order_by_asc(Column::AcquiredAt)
        .order_by_asc(Column::Id)
        .limit(u64::from(page.limit))
}

/// Like `expire_due`, two statements in one transaction:
/// `SELECT id … WHERE tenant_id = $t AND ended_at < $before ORDER BY ended_at LIMIT $n
///  FOR UPDATE SKIP LOCKED`, then `DELETE … WHERE id IN (…) AND tenant_id = $t`; concurrent
/// callers take disjoint batches, and a row deleted meanwhile no longer matches. On the
/// partial index `sessions_ended_by_tenant_idx` (m0004). At most `MAX_REAP_BATCH`.
pub(crate) async fn delete_ended(
    store: &SqlStore,
    tenant: TenantId,
    ended_before: DateTime<Utc>,
    limit: u32,
) -> Result<u64> {
    let limit = std::cmp::min(limit, MAX_REAP_BATCH);
    let txn = store.scoped(tenant, Access::Write).await?;
    let due = lock_due(
        &txn,
        sessions::Entity::find()
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::EndedAt.is_not_null())
            .filter(Column::EndedAt.lt(stored_time(ended_before))),
        Column::EndedAt,
        limit,
    )
    .await?;
    if due.is_empty() {
        txn.commit().await.map_err(db_err)?;
        return Ok(0);
    }
    let deleted = sessions::Entity::delete_many()
        .filter(Column::Id.is_in(due))
        .filter(Column::TenantId.eq(tenant.as_uuid()))
        .exec(&txn)
        .await
        .map_err(db_err)?;
    txn.commit().await.map_err(db_err)?;
    Ok(deleted.rows_affected)
}
