//! Webhook endpoints, claims and the delivery log (`WebhookStore`, ADR 0032).
//!
//! Every call but the claim runs in a transaction scoped to the endpoint's tenant. Progress
//! and failures lock the endpoint's row (`FOR UPDATE` on PostgreSQL; SQLite's write
//! transaction excludes other writers) and check that the caller still holds the claim, so a
//! replica whose claim expired and was taken over cannot move the cursor under the new one.
//!
//! Claiming looks across tenants. On PostgreSQL it is one call to `webhook_claim_due` (m0011),
//! which claims with `FOR UPDATE SKIP LOCKED` behind its own row-security opening; on SQLite
//! the write transaction (`BEGIN IMMEDIATE`) makes the read-then-claim atomic.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use license_core::webhooks::{
    Delivery, DeliveryFailure, WebhookClaim, WebhookEndpoint, WebhookSecret, WebhookStore,
};
use license_core::{AuditEvent, Error, Resource, Result, TenantId, WebhookId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, LockType};
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use crate::audit::insert_audit;
use crate::connect::{Access, SqlStore};
use crate::entities::webhook_endpoints::{self, Column as E, seq, stored_seq};
use crate::entities::{event_log_heads, stored_time, webhook_deliveries};
use crate::errors::db_err;
use crate::licenses::ensure_tenant;

/// The tenant's endpoint `id`, locked for the rest of the transaction on PostgreSQL.
async fn locked(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    id: WebhookId,
) -> Result<webhook_endpoints::Model> {
    webhook_endpoints::Entity::find_by_id(id.as_uuid())
        .filter(E::TenantId.eq(tenant.as_uuid()))
        .lock(LockType::Update)
        .one(txn)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound(Resource::Webhook))
}

/// [`locked`], if `claimer` holds its claim.
async fn claimed(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    id: WebhookId,
    claimer: &str,
) -> Result<webhook_endpoints::Model> {
    let row = locked(txn, tenant, id).await?;
    if row.claimed_by.as_deref() != Some(claimer) {
        return Err(Error::Conflict(
            "the webhook is not claimed by this replica".into(),
        ));
    }
    Ok(row)
}

fn filter(tenant: TenantId, id: WebhookId) -> Condition {
    Condition::all()
        .add(E::Id.eq(id.as_uuid()))
        .add(E::TenantId.eq(tenant.as_uuid()))
}

/// Applies `change` to the tenant's endpoint; `NotFound(Webhook)` when it matches no row.
async fn update(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    id: WebhookId,
    change: webhook_endpoints::ActiveModel,
) -> Result<()> {
    let res = webhook_endpoints::Entity::update_many()
        .set(change)
        .filter(filter(tenant, id))
        .exec(txn)
        .await
        .map_err(db_err)?;
    if res.rows_affected == 0 {
        return Err(Error::NotFound(Resource::Webhook));
    }
    Ok(())
}

impl SqlStore {
    /// SQLite's claim: due endpoints of every tenant, read and claimed in one write
    /// transaction.
    async fn claim_due_sqlite(
        &self,
        claim: &WebhookClaim,
        limit: u32,
    ) -> Result<Vec<webhook_endpoints::Model>> {
        let at = stored_time(claim.now);
        let txn = self.begin_write().await?;
        let candidates = webhook_endpoints::Entity::find()
            .filter(E::Enabled.eq(true))
            .filter(
                Condition::any()
                    .add(E::NextAttemptAt.is_null())
                    .add(E::NextAttemptAt.lte(at)),
            )
            .filter(
                Condition::any()
                    .add(E::ClaimUntil.is_null())
                    .add(E::ClaimUntil.lte(at)),
            )
            .order_by_asc(E::NextAttemptAt)
            .order_by_asc(E::Id)
            .all(&txn)
            .await
            .map_err(db_err)?;
        let tenants: Vec<_> = candidates.iter().map(|e| e.tenant_id).collect();
        let heads: HashMap<_, _> = event_log_heads::Entity::find()
            .filter(event_log_heads::Column::TenantId.is_in(tenants))
            .all(&txn)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|h| (h.tenant_id, h.seq))
            .collect();
        let mut out = Vec::new();
        for mut row in candidates {
            if out.len() >= limit as usize {
                break;
            }
            if heads
                .get(&row.tenant_id)
                .is_none_or(|h| *h <= row.cursor_seq)
            {
                continue;
            }
            webhook_endpoints::Entity::update_many()
                .col_expr(E::ClaimedBy, Expr::value(claim.by.clone()))
                .col_expr(E::ClaimUntil, Expr::value(stored_time(claim.until)))
                .filter(E::Id.eq(row.id))
                .exec(&txn)
                .await
                .map_err(db_err)?;
            row.claimed_by = Some(claim.by.clone());
            row.claim_until = Some(stored_time(claim.until));
            out.push(row);
        }
        txn.commit().await.map_err(db_err)?;
        Ok(out)
    }
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn create_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        audit: &AuditEvent,
    ) -> Result<WebhookEndpoint> {
        let tenant = endpoint.tenant_id;
        let txn = self.scoped(tenant, Access::Write).await?;
        ensure_tenant(&txn, tenant).await?;
        // The head as committed now: entries appended after this transaction are delivered.
        let head = event_log_heads::Entity::find_by_id(tenant.as_uuid())
            .one(&txn)
            .await
            .map_err(db_err)?
            .map_or(Ok(0), |h| seq(h.seq))?;
        let stored = WebhookEndpoint {
            cursor: head,
            claimed_by: None,
            claim_until: None,
            ..endpoint.clone()
        };
        webhook_endpoints::Entity::insert(webhook_endpoints::ActiveModel::from_domain(&stored)?)
            .exec_without_returning(&txn)
            .await
            .map_err(db_err)?;
        insert_audit(&txn, tenant, audit).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(stored)
    }

    async fn get_webhook(&self, tenant: TenantId, id: WebhookId) -> Result<WebhookEndpoint> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let row = webhook_endpoints::Entity::find()
            .filter(filter(tenant, id))
            .one(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        row.ok_or(Error::NotFound(Resource::Webhook))?.into_domain()
    }

    async fn list_webhooks(&self, tenant: TenantId) -> Result<Vec<WebhookEndpoint>> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let rows = webhook_endpoints::Entity::find()
            .filter(E::TenantId.eq(tenant.as_uuid()))
            .order_by_asc(E::CreatedAt)
            .order_by_asc(E::Id)
            .all(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        rows.into_iter()
            .map(webhook_endpoints::Model::into_domain)
            .collect()
    }

    async fn update_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        with_state: bool,
        audit: &AuditEvent,
    ) -> Result<()> {
        let tenant = endpoint.tenant_id;
        let txn = self.scoped(tenant, Access::Write).await?;
        let full = webhook_endpoints::ActiveModel::from_domain(endpoint)?;
        let mut change = webhook_endpoints::ActiveModel {
            url: full.url,
            event_types: full.event_types,
            description: full.description,
            ..Default::default()
        };
        if with_state {
            change.enabled = full.enabled;
            change.disabled_reason = full.disabled_reason;
            change.attempts = full.attempts;
            change.failing_since = full.failing_since;
            change.next_attempt_at = full.next_attempt_at;
        }
        update(&txn, tenant, endpoint.id, change).await?;
        insert_audit(&txn, tenant, audit).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn delete_webhook(
        &self,
        tenant: TenantId,
        id: WebhookId,
        audit: &AuditEvent,
    ) -> Result<()> {
        let txn = self.scoped(tenant, Access::Write).await?;
        locked(&txn, tenant, id).await?;
        webhook_deliveries::Entity::delete_many()
            .filter(webhook_deliveries::Column::EndpointId.eq(id.as_uuid()))
            .filter(webhook_deliveries::Column::TenantId.eq(tenant.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        webhook_endpoints::Entity::delete_many()
            .filter(filter(tenant, id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        insert_audit(&txn, tenant, audit).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn claim_due_webhooks(
        &self,
        claim: &WebhookClaim,
        limit: u32,
    ) -> Result<Vec<WebhookEndpoint>> {
        let rows = if self.backend() == DbBackend::Postgres {
            let max = i32::try_from(limit).unwrap_or(i32::MAX);
            webhook_endpoints::Entity::find()
                .from_raw_sql(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT * FROM webhook_claim_due($1, $2, $3, $4)",
                    [
                        claim.by.clone().into(),
                        stored_time(claim.now).into(),
                        stored_time(claim.until).into(),
                        max.into(),
                    ],
                ))
                .all(&self.db)
                .await
                .map_err(db_err)?
        } else {
            self.claim_due_sqlite(claim, limit).await?
        };
        rows.into_iter()
            .map(webhook_endpoints::Model::into_domain)
            .collect()
    }

    async fn record_webhook_progress(
        &self,
        tenant: TenantId,
        id: WebhookId,
        claimer: &str,
        cursor: u64,
        delivery: Option<&Delivery>,
    ) -> Result<()> {
        let txn = self.scoped(tenant, Access::Write).await?;
        let row = claimed(&txn, tenant, id, claimer).await?;
        let change = webhook_endpoints::ActiveModel {
            // Never back: a stale or repeated report leaves a later cursor alone.
            cursor_seq: Set(row.cursor_seq.max(stored_seq(cursor)?)),
            attempts: Set(0),
            failing_since: Set(None),
            next_attempt_at: Set(None),
            ..Default::default()
        };
        update(&txn, tenant, id, change).await?;
        if let Some(d) = delivery {
            webhook_deliveries::Entity::insert(webhook_deliveries::ActiveModel::from_domain(d)?)
                .exec_without_returning(&txn)
                .await
                .map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)
    }

    async fn record_webhook_failure(
        &self,
        tenant: TenantId,
        id: WebhookId,
        claimer: &str,
        failure: &DeliveryFailure,
    ) -> Result<()> {
        let txn = self.scoped(tenant, Access::Write).await?;
        let row = claimed(&txn, tenant, id, claimer).await?;
        let mut change = webhook_endpoints::ActiveModel {
            attempts: Set(row.attempts.saturating_add(1)),
            failing_since: Set(Some(
                row.failing_since
                    .unwrap_or(stored_time(failure.delivery.attempted_at)),
            )),
            next_attempt_at: Set(Some(stored_time(failure.next_attempt_at))),
            ..Default::default()
        };
        if let Some(reason) = &failure.disabled_reason {
            change.enabled = Set(false);
            change.disabled_reason = Set(Some(reason.clone()));
        }
        update(&txn, tenant, id, change).await?;
        webhook_deliveries::Entity::insert(webhook_deliveries::ActiveModel::from_domain(
            &failure.delivery,
        )?)
        .exec_without_returning(&txn)
        .await
        .map_err(db_err)?;
        txn.commit().await.map_err(db_err)
    }

    async fn release_webhook_claim(
        &self,
        tenant: TenantId,
        id: WebhookId,
        claimer: &str,
    ) -> Result<()> {
        let txn = self.scoped(tenant, Access::Write).await?;
        let row = locked(&txn, tenant, id).await?;
        if row.claimed_by.as_deref() == Some(claimer) {
            let change = webhook_endpoints::ActiveModel {
                claimed_by: Set(None),
                claim_until: Set(None),
                ..Default::default()
            };
            update(&txn, tenant, id, change).await?;
        }
        txn.commit().await.map_err(db_err)
    }

    async fn rotate_webhook_secret(
        &self,
        tenant: TenantId,
        id: WebhookId,
        secret: &WebhookSecret,
        previous_until: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<WebhookEndpoint> {
        let txn = self.scoped(tenant, Access::Write).await?;
        // Locked: two rotations at once each replace the secret the other left.
        let current = locked(&txn, tenant, id).await?;
        let change = webhook_endpoints::ActiveModel {
            secret: Set(secret.expose()),
            previous_secret: Set(Some(current.secret)),
            previous_secret_until: Set(Some(stored_time(previous_until))),
            ..Default::default()
        };
        update(&txn, tenant, id, change).await?;
        insert_audit(&txn, tenant, audit).await?;
        let rotated = locked(&txn, tenant, id).await?.into_domain()?;
        txn.commit().await.map_err(db_err)?;
        Ok(rotated)
    }

    async fn prune_webhook_deliveries(
        &self,
        tenant: TenantId,
        id: WebhookId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64> {
        use webhook_deliveries::Column as D;
        let txn = self.scoped(tenant, Access::Write).await?;
        // The oldest `limit` by the endpoint's (endpoint, attempted_at) index, then by id.
        let oldest = webhook_deliveries::Entity::find()
            .select_only()
            .column(D::Id)
            .filter(D::EndpointId.eq(id.as_uuid()))
            .filter(D::TenantId.eq(tenant.as_uuid()))
            .filter(D::AttemptedAt.lt(stored_time(before)))
            .order_by_asc(D::AttemptedAt)
            .limit(u64::from(limit))
            .into_tuple::<uuid::Uuid>()
            .all(&txn)
            .await
            .map_err(db_err)?;
        if oldest.is_empty() {
            txn.commit().await.map_err(db_err)?;
            return Ok(0);
        }
        let deleted = webhook_deliveries::Entity::delete_many()
            .filter(D::TenantId.eq(tenant.as_uuid()))
            .filter(D::Id.is_in(oldest))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        Ok(deleted.rows_affected)
    }

    async fn list_webhook_deliveries(
        &self,
        tenant: TenantId,
        id: WebhookId,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let found = webhook_endpoints::Entity::find()
            .filter(filter(tenant, id))
            .one(&txn)
            .await
            .map_err(db_err)?;
        if found.is_none() {
            return Err(Error::NotFound(Resource::Webhook));
        }
        let rows = webhook_deliveries::Entity::find()
            .filter(webhook_deliveries::Column::EndpointId.eq(id.as_uuid()))
            .filter(webhook_deliveries::Column::TenantId.eq(tenant.as_uuid()))
            .order_by_desc(webhook_deliveries::Column::AttemptedAt)
            .order_by_desc(webhook_deliveries::Column::Id)
            .limit(u64::from(limit))
            .all(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        rows.into_iter()
            .map(webhook_deliveries::Model::into_domain)
            .collect()
    }

    async fn redeliver_webhook(
        &self,
        tenant: TenantId,
        id: WebhookId,
        from_seq: u64,
        audit: &AuditEvent,
    ) -> Result<()> {
        let txn = self.scoped(tenant, Access::Write).await?;
        let change = webhook_endpoints::ActiveModel {
            cursor_seq: Set(stored_seq(from_seq.saturating_sub(1))?),
            attempts: Set(0),
            failing_since: Set(None),
            next_attempt_at: Set(None),
            enabled: Set(true),
            disabled_reason: Set(None),
            ..Default::default()
        };
        update(&txn, tenant, id, change).await?;
        insert_audit(&txn, tenant, audit).await?;
        txn.commit().await.map_err(db_err)
    }
}
