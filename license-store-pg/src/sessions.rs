//! Sessions and usage (`SessionStore`), including the reaper's batch update and the
//! retention's batch delete.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;

use license_core::{
    AuditEvent, EndReason, Ended, Error, HeartbeatRecord, LicenseId, Page, Resource, Result,
    Session, SessionCursor, SessionEnd, SessionId, SessionSecretHash, SessionStore, TenantId,
    UsageDay, UsagePeak, WriteBehindBatch,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, SqlErr};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};

use crate::audit::insert_audit;
use crate::connect::{Access, SqlStore};
use crate::entities::sessions::{self, Column};
use crate::entities::stored_time;
use crate::errors::db_err;
use crate::licenses::ensure_license;
use crate::session_upkeep::Live;
use crate::{seat_rules, session_upkeep, usage};

/// Most sessions one `expire_due` or `delete_ended_sessions` call marks or deletes.
pub(crate) const MAX_REAP_BATCH: u32 = 10_000;

/// Most renewals in one `UPDATE … FROM (VALUES …)`: three bind parameters each, well under
/// PostgreSQL's 65 535.
const FLUSH_CHUNK: usize = 5_000;

#[async_trait]
impl SessionStore for SqlStore {
    async fn mark_overdraft(&self, tenant: TenantId, id: SessionId) -> Result<()> {
        seat_rules::set_column(self, tenant, id, Column::Overdraft, true.into()).await
    }

    async fn end_linger(&self, tenant: TenantId, id: SessionId, at: DateTime<Utc>) -> Result<()> {
        seat_rules::end_linger(self, tenant, id, at).await
    }

    async fn lingering_sessions(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        seat_rules::lingering(self, tenant, license, now).await
    }

    async fn held_off_sessions(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        seat_rules::held_off(self, tenant, license, now).await
    }

    async fn borrowed_sessions_page(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
        page: Page<SessionCursor>,
    ) -> Result<Vec<Session>> {
        session_upkeep::live_page(self, tenant, license, now, page, Live::Borrowed).await
    }

    async fn overdraft_sessions(
        &self,
        tenant: TenantId,
        license: LicenseId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        seat_rules::overdraft(self, tenant, license, from, to).await
    }

    /// `INSERT` the session, then raise the day's peak: one transaction, no read of the
    /// license. The `(tenant_id, license_id)` foreign key is what refuses another tenant's
    /// license, so its violation here means exactly that.
    async fn insert_session(&self, session: &Session, in_use: u32) -> Result<()> {
        let tenant = session.tenant_id;
        let txn = self.scoped(tenant, Access::Write).await?;
        sessions::Entity::insert(sessions::ActiveModel::from(session))
            .exec_without_returning(&txn)
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                    Error::NotFound(Resource::License)
                }
                _ => db_err(e),
            })?;
        if in_use > 0 {
            let peak = UsagePeak {
                tenant_id: tenant,
                license_id: session.license_id,
                day: session.acquired_at.date_naive(),
                in_use,
                overdraft: 0,
            };
            usage::raise_peak(&txn, &peak).await?;
        }
        txn.commit().await.map_err(db_err)
    }

    async fn get_session(&self, tenant: TenantId, id: SessionId) -> Result<Session> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let row = sessions::Entity::find()
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::Id.eq(id.as_uuid()))
            .one(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        row.ok_or(Error::NotFound(Resource::Session))?.into_domain()
    }

    async fn live_sessions(
        &self,
        tenant: TenantId,
        license: LicenseId,
        after: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let rows = sessions::Entity::find()
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::LicenseId.eq(license.as_uuid()))
            .filter(Column::EndedAt.is_null())
            .filter(Column::ExpiresAt.gt(stored_time(after)))
            // Session ids are random (ADR 0023): oldest first is by start, then id.
            .order_by_asc(Column::AcquiredAt)
            .order_by_asc(Column::Id)
            .all(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        rows.into_iter().map(sessions::Model::into_domain).collect()
    }

    async fn live_sessions_page(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
        page: Page<SessionCursor>,
    ) -> Result<Vec<Session>> {
        session_upkeep::live_page(self, tenant, license, now, page, Live::All).await
    }

    async fn delete_ended_sessions(
        &self,
        tenant: TenantId,
        ended_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64> {
        session_upkeep::delete_ended(self, tenant, ended_before, limit).await
    }

    async fn discard_session(&self, tenant: TenantId, id: SessionId) -> Result<()> {
        let txn = self.scoped(tenant, Access::Write).await?;
        sessions::Entity::delete_many()
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::Id.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)
    }

    /// One transaction for the whole batch, tenant by tenant (row-level security is scoped to
    /// one tenant at a time). On PostgreSQL each tenant's renewals are one statement:
    /// `UPDATE sessions SET … FROM (VALUES …) WHERE … AND ended_at IS NULL AND expires_at < v.exp`;
    /// SQLite, in process, takes one short `UPDATE` per renewal in the same transaction.
    async fn flush_write_behind(&self, batch: &WriteBehindBatch) -> Result<()> {
        let mut tenants: BTreeMap<TenantId, (Vec<&HeartbeatRecord>, Vec<&UsagePeak>)> =
            BTreeMap::new();
        for beat in &batch.heartbeats {
            tenants.entry(beat.tenant_id).or_default().0.push(beat);
        }
        for peak in &batch.peaks {
            tenants.entry(peak.tenant_id).or_default().1.push(peak);
        }
        let Some(first) = tenants.keys().next().copied() else {
            return Ok(());
        };
        let txn = self.scoped(first, Access::Write).await?;
        for (tenant, (beats, peaks)) in &tenants {
            self.rescope(&txn, *tenant).await?;
            for chunk in beats.chunks(FLUSH_CHUNK) {
                renew_many(&txn, self.backend(), *tenant, chunk).await?;
            }
            for peak in peaks {
                usage::raise_peak(&txn, peak).await?;
            }
        }
        txn.commit().await.map_err(db_err)
    }

    async fn end_session(
        &self,
        tenant: TenantId,
        id: SessionId,
        end: &SessionEnd,
        audit: Option<&AuditEvent>,
    ) -> Result<Ended> {
        let txn = self.scoped(tenant, Access::Write).await?;
        // The first end wins: a session that already ended is left as it is, its linger and
        // eviction included.
        let eviction = end.eviction.as_ref();
        let updated = sessions::Entity::update_many()
            .col_expr(Column::EndedAt, Expr::value(stored_time(end.at)))
            .col_expr(Column::EndReason, Expr::value(end.reason.as_str()))
            .col_expr(
                Column::LingerUntil,
                Expr::value(end.linger_until.map(stored_time)),
            )
            .col_expr(
                Column::EvictionReason,
                Expr::value(eviction.map(|e| e.reason.clone())),
            )
            .col_expr(
                Column::HoldUntil,
                Expr::value(eviction.and_then(|e| e.hold_until).map(stored_time)),
            )
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::Id.eq(id.as_uuid()))
            .filter(Column::EndedAt.is_null())
            .exec(&txn)
            .await
            .map_err(db_err)?;
        let row = sessions::Entity::find()
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::Id.eq(id.as_uuid()))
            .one(&txn)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound(Resource::Session))?;
        // Only the call that ended it records the ending: a repeat changes nothing.
        if let Some(event) = audit.filter(|_| updated.rows_affected > 0) {
            insert_audit(&txn, tenant, event).await?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(Ended {
            session: row.into_domain()?,
            by_this_call: updated.rows_affected > 0,
        })
    }

    async fn set_session_secret(
        &self,
        tenant: TenantId,
        id: SessionId,
        hash: &SessionSecretHash,
    ) -> Result<()> {
        let hash = hash.to_hex().into();
        seat_rules::set_column(self, tenant, id, Column::SecretHash, hash).await
    }

    /// Two statements in one transaction:
    /// `SELECT id FROM sessions WHERE tenant_id = $t AND ended_at IS NULL AND expires_at <= $now
    ///  ORDER BY expires_at LIMIT $n FOR UPDATE SKIP LOCKED`, then
    /// `UPDATE sessions SET ended_at = expires_at, end_reason = 'expired'
    ///  WHERE id IN (…those ids…) AND tenant_id = $t AND ended_at IS NULL`.
    ///
    /// On PostgreSQL concurrent reapers lock disjoint batches (`SKIP LOCKED`), and a row ended
    /// meanwhile fails the re-checked `ended_at IS NULL`, so each session is counted once.
    /// SQLite has no row locks (sea-query leaves the clause out) but serialises writers
    /// (`BEGIN IMMEDIATE`), so the same statements are exact there too.
    ///
    /// (A single `UPDATE … WHERE id IN (SELECT … LIMIT $n FOR UPDATE SKIP LOCKED)` is not
    /// bounded on PostgreSQL: the planner may rescan the subquery, which then skips the rows
    /// this statement already updated and returns the next ones.)
    ///
    /// A batch is at most `MAX_REAP_BATCH` (10 000) whatever `limit` says: the ids travel as bind
    /// parameters, which both databases cap.
    async fn expire_due(
        &self,
        tenant: TenantId,
        license: LicenseId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Session>> {
        let limit = limit.min(MAX_REAP_BATCH);
        let txn = self.scoped(tenant, Access::Write).await?;
        let due = session_upkeep::lock_due(
            &txn,
            sessions::Entity::find()
                .filter(Column::TenantId.eq(tenant.as_uuid()))
                .filter(Column::LicenseId.eq(license.as_uuid()))
                .filter(Column::EndedAt.is_null())
                .filter(Column::ExpiresAt.lte(stored_time(before))),
            Column::ExpiresAt,
            limit,
        )
        .await?;
        if due.is_empty() {
            txn.commit().await.map_err(db_err)?;
            return Ok(Vec::new());
        }
        sessions::Entity::update_many()
            .col_expr(Column::EndedAt, Expr::col(Column::ExpiresAt))
            .col_expr(Column::EndReason, Expr::value(EndReason::Expired.as_str()))
            .filter(Column::Id.is_in(due.clone()))
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::EndedAt.is_null())
            .exec(&txn)
            .await
            .map_err(db_err)?;
        // The rows are this transaction's (locked, or SQLite's one writer): all were marked
        // here, and read back as marked for their `expired` events.
        let marked = sessions::Entity::find()
            .filter(Column::Id.is_in(due))
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .order_by_asc(Column::ExpiresAt)
            .all(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        marked.into_iter().map(|row| row.into_domain()).collect()
    }

    async fn record_denial(
        &self,
        tenant: TenantId,
        license: LicenseId,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let txn = self.scoped(tenant, Access::Write).await?;
        ensure_license(&txn, tenant, license).await?;
        usage::add_denial(&txn, tenant, license, at.date_naive()).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn usage(
        &self,
        tenant: TenantId,
        license: LicenseId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<UsageDay>> {
        let txn = self.scoped(tenant, Access::Read).await?;
        ensure_license(&txn, tenant, license).await?;
        let days = usage::days(&txn, tenant, license, from, to).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(days)
    }
}

/// Moves each session's `last_heartbeat_at` and `expires_at` forward to the renewal's, unless
/// the session has ended or already expires later.
async fn renew_many(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    tenant: TenantId,
    beats: &[&HeartbeatRecord],
) -> Result<()> {
    if backend == DbBackend::Postgres {
        let mut values = Vec::with_capacity(beats.len() * 3 + 1);
        values.push(tenant.as_uuid().into());
        let rows: Vec<String> = beats
            .iter()
            .enumerate()
            .map(|(i, beat)| {
                values.push(beat.session_id.as_uuid().into());
                values.push(stored_time(beat.at).into());
                values.push(stored_time(beat.expires_at).into());
                let n = 2 + i * 3;
                format!(
                    "(${}::uuid, ${}::timestamptz, ${}::timestamptz)",
                    n,
                    n + 1,
                    n + 2
                )
            })
            .collect();
        // A record that does not move the expiry still confirms the grant.
        let sql = format!(
            "UPDATE sessions AS s SET \
               last_heartbeat_at = CASE WHEN s.expires_at < v.exp THEN v.at ELSE s.last_heartbeat_at END, \
               expires_at = GREATEST(s.expires_at, v.exp), confirmed = TRUE \
             FROM (VALUES {}) AS v(id, at, exp) \
             WHERE s.tenant_id = $1 AND s.id = v.id AND s.ended_at IS NULL \
               AND (s.expires_at < v.exp OR NOT s.confirmed)",
            rows.join(", ")
        );
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await
            .map_err(db_err)?;
        return Ok(());
    }
    for beat in beats {
        let moved = sessions::Entity::update_many()
            .col_expr(Column::LastHeartbeatAt, Expr::value(stored_time(beat.at)))
            .col_expr(Column::ExpiresAt, Expr::value(stored_time(beat.expires_at)))
            .col_expr(Column::Confirmed, Expr::value(true))
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::Id.eq(beat.session_id.as_uuid()))
            .filter(Column::EndedAt.is_null())
            .filter(Column::ExpiresAt.lt(stored_time(beat.expires_at)))
            .exec(txn)
            .await
            .map_err(db_err)?
            .rows_affected;
        if moved > 0 {
            continue;
        }
        // A record that does not move the expiry still confirms the grant.
        sessions::Entity::update_many()
            .col_expr(Column::Confirmed, Expr::value(true))
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::Id.eq(beat.session_id.as_uuid()))
            .filter(Column::EndedAt.is_null())
            .filter(Column::Confirmed.eq(false))
            .exec(txn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}
