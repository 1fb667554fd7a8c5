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

/// `UPDATE sessions SET <column> = $value WHERE tenant_id = $t AND id = $id`; `NotFound` when
/// no row is the tenant's (marking an overdraft grant, replacing a session secret).
pub(crate) async fn set_column(
    store: &SqlStore,
    tenant: TenantId,
    id: SessionId,
    column: Column,
    value: sea_orm::Value,
) -> Result<()> {
    let txn = store.scoped(tenant, Access::Write).await?;
    let updated = sessions::Entity::update_many()
        .col_expr(column, Expr::value(value))
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

/// `UPDATE sessions SET linger_until = $at WHERE tenant_id = $t AND id = $id AND
/// linger_until > $at`; `NotFound` when no row of that id is the tenant's.
pub(crate) async fn end_linger(
    store: &SqlStore,
    tenant: TenantId,
    id: SessionId,
    at: DateTime<Utc>,
) -> Result<()> {
    let txn = store.scoped(tenant, Access::Write).await?;
    sessions::Entity::update_many()
        .col_expr(Column::LingerUntil, Expr::value(stored_time(at)))
        .filter(Column::TenantId.eq(tenant.as_uuid()))
        .filter(Column::Id.eq(id.as_uuid()))
        .filter(Column::LingerUntil.gt(stored_time(at)))
        .exec(&txn)
        .await
        .map_err(db_err)?;
    let exists = sessions::Entity::find()
        .filter(Column::TenantId.eq(tenant.as_uuid()))
        .filter(Column::Id.eq(id.as_uuid()))
        .one(&txn)
        .await
        .map_err(db_err)?
        .is_some();
    txn.commit().await.map_err(db_err)?;
    if exists {
        Ok(())
    } else {
        Err(Error::NotFound(Resource::Session))
    }
}

/// The license's lingering seats at `now`.
pub(crate) async fn lingering(
    store: &SqlStore,
    tenant: TenantId,
    license: LicenseId,
    now: DateTime<Utc>,
) -> Result<Vec<Session>> {
    all(store, tenant, lingering_query(tenant, license, now)).await
}

/// The license's hold-offs in force at `now`.
pub(crate) async fn held_off(
    store: &SqlStore,
    tenant: TenantId,
    license: LicenseId,
    now: DateTime<Utc>,
) -> Result<Vec<Session>> {
    all(store, tenant, held_off_query(tenant, license, now)).await
}

/// The license's overdraft sessions that held their seat at some time in `[from, to)`.
pub(crate) async fn overdraft(
    store: &SqlStore,
    tenant: TenantId,
    license: LicenseId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Session>> {
    all(store, tenant, overdraft_query(tenant, license, from, to)).await
}

/// `… WHERE linger_until IS NOT NULL AND linger_until > $now AND ended_at IS NOT NULL`, on
/// `sessions_lingering_idx`.
fn lingering_query(
    tenant: TenantId,
    license: LicenseId,
    now: DateTime<Utc>,
) -> Select<sessions::Entity> {
    of_license(tenant, license)
        .filter(Column::LingerUntil.is_not_null())
        .filter(Column::LingerUntil.gt(stored_time(now)))
        .filter(Column::EndedAt.is_not_null())
}

/// `… WHERE hold_until IS NOT NULL AND hold_until > $now AND ended_at IS NOT NULL`, on
/// `sessions_held_off_idx`.
fn held_off_query(
    tenant: TenantId,
    license: LicenseId,
    now: DateTime<Utc>,
) -> Select<sessions::Entity> {
    of_license(tenant, license)
        .filter(Column::HoldUntil.is_not_null())
        .filter(Column::HoldUntil.gt(stored_time(now)))
        .filter(Column::EndedAt.is_not_null())
}

/// `… WHERE overdraft AND acquired_at < $to AND COALESCE(ended_at, expires_at) > $from`, on
/// `sessions_overdraft_idx`.
fn overdraft_query(
    tenant: TenantId,
    license: LicenseId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Select<sessions::Entity> {
    let held_until = Func::coalesce([
        Expr::col((sessions::Entity, Column::EndedAt)),
        Expr::col((sessions::Entity, Column::ExpiresAt)),
    ]);
    of_license(tenant, license)
        // The bare column, not `= $1`: a bound value would not match the partial index's
        // predicate in PostgreSQL's generic plans.
        .filter(Expr::col((sessions::Entity, Column::Overdraft)))
        .filter(Column::AcquiredAt.lt(stored_time(to)))
        .filter(Expr::expr(held_until).gt(stored_time(from)))
}

/// The license's sessions (tenant first: every index above leads with both), oldest acquired
/// first, then by id (as the memory store orders them).
fn of_license(tenant: TenantId, license: LicenseId) -> Select<sessions::Entity> {
    sessions::Entity::find()
        .filter(Column::TenantId.eq(tenant.as_uuid()))
        .filter(Column::LicenseId.eq(license.as_uuid()))
        .order_by_asc(Column::AcquiredAt)
        .order_by_asc(Column::Id)
}

/// Every row `query` selects.
async fn all(
    store: &SqlStore,
    tenant: TenantId,
    query: Select<sessions::Entity>,
) -> Result<Vec<Session>> {
    let txn = store.scoped(tenant, Access::Read).await?;
    let rows = query.all(&txn).await.map_err(db_err)?;
    txn.commit().await.map_err(db_err)?;
    rows.into_iter().map(sessions::Model::into_domain).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::TimeDelta;
    use license_core::{Page, SessionCursor};
    use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement, TransactionTrait};

    use super::*;
    use crate::session_upkeep::{Live, live_page_query};

    /// Each seat-rule query with the partial index it must run on.
    fn queries() -> Vec<(Select<sessions::Entity>, &'static str)> {
        let (tenant, license, now) = (TenantId::new(), LicenseId::new(), Utc::now());
        let cursor = SessionCursor {
            acquired_at: now,
            id: SessionId::new(),
        };
        vec![
            (
                lingering_query(tenant, license, now),
                "sessions_lingering_idx",
            ),
            (
                held_off_query(tenant, license, now),
                "sessions_held_off_idx",
            ),
            (
                overdraft_query(tenant, license, now - TimeDelta::days(1), now),
                "sessions_overdraft_idx",
            ),
            (
                live_page_query(
                    tenant,
                    license,
                    now,
                    Page::new(Some(cursor), 50),
                    Live::Borrowed,
                ),
                "sessions_live_borrowed_idx",
            ),
        ]
    }

    /// The plan of `query` on `store`: PostgreSQL's `EXPLAIN` (with sequential scans priced
    /// out, so an index that can serve the query is chosen even on an empty table), SQLite's
    /// `EXPLAIN QUERY PLAN`.
    async fn plan(store: &SqlStore, query: &Select<sessions::Entity>) -> String {
        let backend = store.backend();
        let built = query.build(backend);
        let txn = store.db.begin().await.unwrap();
        let explain = if backend == DbBackend::Postgres {
            txn.execute_unprepared("SET LOCAL enable_seqscan = off")
                .await
                .unwrap();
            "EXPLAIN"
        } else {
            "EXPLAIN QUERY PLAN"
        };
        let rows = txn
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                format!("{explain} {}", built.sql),
                built.values.map(|v| v.0).unwrap_or_default(),
            ))
            .await
            .unwrap();
        txn.rollback().await.unwrap();
        let column = if backend == DbBackend::Postgres {
            "QUERY PLAN"
        } else {
            "detail"
        };
        rows.iter()
            .map(|row| row.try_get::<String>("", column).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn assert_on_partial_indexes(store: &SqlStore) {
        for (query, index) in queries() {
            let plan = plan(store, &query).await;
            assert!(plan.contains(index), "{index} not used:\n{plan}");
        }
    }

    #[tokio::test]
    async fn seat_rule_queries_run_on_their_partial_indexes_on_sqlite() {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        assert_on_partial_indexes(&store).await;
    }

    #[tokio::test]
    async fn seat_rule_queries_run_on_their_partial_indexes_on_postgres() {
        let server = license_testkit::postgres::PostgresServer::start();
        let store = SqlStore::connect(&server.create_database("plans"))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        assert_on_partial_indexes(&store).await;
    }
}
