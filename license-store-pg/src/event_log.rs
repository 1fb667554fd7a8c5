//! The seat-event log (`EventLogStore`, ADR 0030): each tenant's entries numbered from 1 and
//! hash-chained, appended under a lock on the tenant's head row.
//!
//! An append runs in one write transaction scoped to the tenant: it makes sure the head row
//! exists (`INSERT … ON CONFLICT DO NOTHING` of `(tenant, 0, GENESIS)`, so two first appends
//! at once create one row and the second waits on the first's), locks it (`SELECT … FOR
//! UPDATE`), numbers and links the entries after it (the core's `LogEntry::link` computes the
//! hashes; the store never hashes), inserts them and moves the head. Appends of one tenant
//! therefore queue on its head row; other tenants' appends do not wait. On SQLite the write
//! transaction holds the file's write lock from `BEGIN IMMEDIATE` (sea-query leaves `FOR
//! UPDATE` out there), which serialises every append the same way, waiting up to the busy
//! timeout rather than failing with "database is locked".
//!
//! The retention (ADR 0034) trims in one write transaction too: the kept days upserted, the
//! cut recorded, the entries up to it deleted.

use async_trait::async_trait;
use chrono::NaiveDate;
use license_core::event_log::{ChainHash, EventLogStore, LogEntry, NewLogEntry};
use license_core::log_retention::{KeptDay, LogCut};
use license_core::{Error, LicenseId, Result, TenantId};
use sea_orm::sea_query::{LockType, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::connect::{Access, SqlStore};
use crate::entities::event_log::chain_hash;
use crate::entities::stored_time;
use crate::entities::{event_log, event_log_cuts, event_log_heads, kept_days};
use crate::errors::{corrupt, db_err};
use crate::licenses::ensure_tenant;

/// Rows per `INSERT`: 7 parameters each stays far below SQLite's (32 766) and PostgreSQL's
/// (65 535) limits on bound parameters.
const INSERT_CHUNK: usize = 500;

const HEAD: &str = "event log head";

/// The tenant's head (last number and hash), `(0, GENESIS)` before the first entry; locked
/// until the transaction ends when `lock` (PostgreSQL; SQLite's write transaction already
/// excludes other writers).
async fn head(db: &impl ConnectionTrait, tenant: TenantId, lock: bool) -> Result<(u64, ChainHash)> {
    let mut query = event_log_heads::Entity::find_by_id(tenant.as_uuid());
    if lock {
        query = query.lock(LockType::Update);
    }
    match query.one(db).await.map_err(db_err)? {
        Some(row) => Ok((
            u64::try_from(row.seq).map_err(|e| corrupt(HEAD, e))?,
            chain_hash(HEAD, &row.hash)?,
        )),
        None => Ok((0, ChainHash::GENESIS)),
    }
}

#[async_trait]
impl EventLogStore for SqlStore {
    async fn append_events(&self, tenant: TenantId, entries: Vec<NewLogEntry>) -> Result<u64> {
        if entries.is_empty() {
            // Nothing to write: a read-only look at the head.
            let txn = self.scoped(tenant, Access::Read).await?;
            ensure_tenant(&txn, tenant).await?;
            let (seq, _) = head(&txn, tenant, false).await?;
            txn.commit().await.map_err(db_err)?;
            return Ok(seq);
        }
        let txn = self.scoped(tenant, Access::Write).await?;
        ensure_tenant(&txn, tenant).await?;
        // Create the head row if absent, then lock it: two first appends at once meet on the
        // primary key (the second waits for the first to commit and inserts nothing), so both
        // lock the same row and one chain is made.
        event_log_heads::Entity::insert(event_log_heads::ActiveModel {
            tenant_id: Set(tenant.as_uuid()),
            seq: Set(0),
            hash: Set(ChainHash::GENESIS.as_bytes().to_vec()),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(&txn)
        .await
        .map_err(db_err)?;
        let (mut seq, mut prev) = head(&txn, tenant, true).await?;

        let mut rows = Vec::with_capacity(entries.len());
        for new in entries {
            seq += 1;
            let entry = LogEntry::link(seq, &prev, new);
            prev = entry.hash;
            rows.push(event_log::ActiveModel::from_entry(tenant.as_uuid(), entry)?);
        }
        let last = i64::try_from(seq)
            .map_err(|_| Error::Internal("the event log's numbers ran out".into()))?;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
            event_log::Entity::insert_many(chunk)
                .exec_without_returning(&txn)
                .await
                .map_err(db_err)?;
        }
        event_log_heads::Entity::update_many()
            .set(event_log_heads::ActiveModel {
                seq: Set(last),
                hash: Set(prev.as_bytes().to_vec()),
                ..Default::default()
            })
            .filter(event_log_heads::Column::TenantId.eq(tenant.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        Ok(seq)
    }

    async fn read_events(&self, tenant: TenantId, after: u64, limit: u32) -> Result<Vec<LogEntry>> {
        // Past the last number a log can hold there is nothing to read.
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        let txn = self.scoped(tenant, Access::Read).await?;
        let rows = event_log::Entity::find()
            .filter(event_log::Column::TenantId.eq(tenant.as_uuid()))
            .filter(event_log::Column::Seq.gt(after))
            .order_by_asc(event_log::Column::Seq)
            .limit(u64::from(limit))
            .all(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        rows.into_iter()
            .map(event_log::Model::into_domain)
            .collect()
    }

    async fn log_cut(&self, tenant: TenantId) -> Result<Option<LogCut>> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let row = event_log_cuts::Entity::find_by_id(tenant.as_uuid())
            .one(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        row.map(cut_from_row).transpose()
    }

    async fn trim_events(
        &self,
        tenant: TenantId,
        previous: Option<u64>,
        cut: &LogCut,
        days: &[KeptDay],
    ) -> Result<u64> {
        let txn = self.scoped(tenant, Access::Write).await?;
        ensure_tenant(&txn, tenant).await?;
        // Trims (and appends) of one tenant queue on its head row: a second replica's trim
        // then finds the cut moved and is refused.
        head(&txn, tenant, true).await?;
        let current = event_log_cuts::Entity::find_by_id(tenant.as_uuid())
            .one(&txn)
            .await
            .map_err(db_err)?
            .map(cut_from_row)
            .transpose()?;
        if current.map(|c| c.seq) != previous {
            return Err(Error::Conflict("the log was trimmed meanwhile".into()));
        }
        let rows = days
            .iter()
            .map(|day| {
                Ok(kept_days::ActiveModel {
                    tenant_id: Set(tenant.as_uuid()),
                    license_id: Set(day.license_id.as_uuid()),
                    day: Set(day.day),
                    figures: Set(serde_json::to_string(&day.figures).map_err(json_error)?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
            kept_days::Entity::insert_many(chunk)
                .on_conflict(
                    OnConflict::columns([
                        kept_days::Column::TenantId,
                        kept_days::Column::LicenseId,
                        kept_days::Column::Day,
                    ])
                    .update_column(kept_days::Column::Figures)
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .map_err(db_err)?;
        }
        let seq = i64::try_from(cut.seq)
            .map_err(|_| Error::Internal("the event log's numbers ran out".into()))?;
        let row = event_log_cuts::ActiveModel {
            tenant_id: Set(tenant.as_uuid()),
            seq: Set(seq),
            hash: Set(cut.hash.as_bytes().to_vec()),
            at: Set(stored_time(cut.at)),
            kept_from: Set(cut.kept_from),
            carry: Set(serde_json::to_string(&cut.carry).map_err(json_error)?),
        };
        event_log_cuts::Entity::insert(row)
            .on_conflict(
                OnConflict::column(event_log_cuts::Column::TenantId)
                    .update_columns([
                        event_log_cuts::Column::Seq,
                        event_log_cuts::Column::Hash,
                        event_log_cuts::Column::At,
                        event_log_cuts::Column::KeptFrom,
                        event_log_cuts::Column::Carry,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(db_err)?;
        // On PostgreSQL the application role may delete only up to the cut just recorded
        // (m0013's policy).
        let deleted = event_log::Entity::delete_many()
            .filter(event_log::Column::TenantId.eq(tenant.as_uuid()))
            .filter(event_log::Column::Seq.lte(seq))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        Ok(deleted.rows_affected)
    }

    async fn kept_days(
        &self,
        tenant: TenantId,
        license: LicenseId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<KeptDay>> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let rows = kept_days::Entity::find()
            .filter(kept_days::Column::TenantId.eq(tenant.as_uuid()))
            .filter(kept_days::Column::LicenseId.eq(license.as_uuid()))
            .filter(kept_days::Column::Day.between(from, to))
            .order_by_asc(kept_days::Column::Day)
            .all(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        rows.into_iter()
            .map(|row| {
                Ok(KeptDay {
                    license_id: LicenseId::from_uuid(row.license_id),
                    day: row.day,
                    figures: serde_json::from_str(&row.figures)
                        .map_err(|e| corrupt(KEPT_DAY, e))?,
                })
            })
            .collect()
    }
}

const CUT: &str = "event log cut";
const KEPT_DAY: &str = "kept day";

/// JSON text of what the store keeps as text.
fn json_error(e: serde_json::Error) -> Error {
    Error::Internal(format!("serializing: {e}"))
}

fn cut_from_row(row: event_log_cuts::Model) -> Result<LogCut> {
    Ok(LogCut {
        seq: u64::try_from(row.seq).map_err(|e| corrupt(CUT, e))?,
        hash: chain_hash(CUT, &row.hash)?,
        at: row.at,
        kept_from: row.kept_from,
        carry: serde_json::from_str(&row.carry).map_err(|e| corrupt(CUT, e))?,
    })
}
