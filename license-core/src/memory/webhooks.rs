use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::store::{Data, MemoryStore};
use crate::audit::AuditEvent;
use crate::error::{Error, Resource, Result};
use crate::ids::{TenantId, WebhookId};
use crate::webhooks::{Delivery, DeliveryFailure, WebhookClaim, WebhookEndpoint, WebhookStore};

fn endpoint_mut(data: &mut Data, tenant: TenantId, id: WebhookId) -> Result<&mut WebhookEndpoint> {
    data.webhooks
        .get_mut(&id)
        .filter(|e| e.tenant_id == tenant)
        .ok_or(Error::NotFound(Resource::Webhook))
}

/// The endpoint, if `claimer` holds its claim.
fn claimed_mut<'a>(
    data: &'a mut Data,
    tenant: TenantId,
    id: WebhookId,
    claimer: &str,
) -> Result<&'a mut WebhookEndpoint> {
    let endpoint = endpoint_mut(data, tenant, id)?;
    if endpoint.claimed_by.as_deref() != Some(claimer) {
        return Err(Error::Conflict(
            "the webhook is not claimed by this replica".into(),
        ));
    }
    Ok(endpoint)
}

fn head(data: &Data, tenant: TenantId) -> u64 {
    data.event_log_head(tenant).0
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn create_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        audit: &AuditEvent,
    ) -> Result<WebhookEndpoint> {
        let mut data = self.lock()?;
        if !data.tenants.contains_key(&endpoint.tenant_id) {
            return Err(Error::NotFound(Resource::Tenant));
        }
        if data.webhooks.contains_key(&endpoint.id) {
            return Err(Error::Conflict("a webhook with this id exists".into()));
        }
        let stored = WebhookEndpoint {
            cursor: head(&data, endpoint.tenant_id),
            claimed_by: None,
            claim_until: None,
            ..endpoint.clone()
        };
        data.webhooks.insert(stored.id, stored.clone());
        data.audit.push(audit.clone());
        Ok(stored)
    }

    async fn get_webhook(&self, tenant: TenantId, id: WebhookId) -> Result<WebhookEndpoint> {
        let mut data = self.lock()?;
        endpoint_mut(&mut data, tenant, id).map(|e| e.clone())
    }

    async fn list_webhooks(&self, tenant: TenantId) -> Result<Vec<WebhookEndpoint>> {
        // Ids are time-ordered: the map's order is creation order.
        Ok(self
            .lock()?
            .webhooks
            .values()
            .filter(|e| e.tenant_id == tenant)
            .cloned()
            .collect())
    }

    async fn update_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        with_state: bool,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut data = self.lock()?;
        let stored = endpoint_mut(&mut data, endpoint.tenant_id, endpoint.id)?;
        stored.url = endpoint.url.clone();
        stored.event_types = endpoint.event_types.clone();
        stored.description = endpoint.description.clone();
        if with_state {
            stored.enabled = endpoint.enabled;
            stored.disabled_reason = endpoint.disabled_reason.clone();
            stored.attempts = endpoint.attempts;
            stored.failing_since = endpoint.failing_since;
            stored.next_attempt_at = endpoint.next_attempt_at;
        }
        data.audit.push(audit.clone());
        Ok(())
    }

    async fn delete_webhook(
        &self,
        tenant: TenantId,
        id: WebhookId,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut data = self.lock()?;
        endpoint_mut(&mut data, tenant, id)?;
        data.webhooks.remove(&id);
        data.deliveries.retain(|d| d.endpoint_id != id);
        data.audit.push(audit.clone());
        Ok(())
    }

    async fn claim_due_webhooks(
        &self,
        claim: &WebhookClaim,
        limit: u32,
    ) -> Result<Vec<WebhookEndpoint>> {
        let mut data = self.lock()?;
        let due: Vec<WebhookId> = data
            .webhooks
            .values()
            .filter(|e| {
                e.enabled
                    && e.cursor < head(&data, e.tenant_id)
                    && e.next_attempt_at.is_none_or(|t| t <= claim.now)
                    && e.claim_until.is_none_or(|t| t <= claim.now)
            })
            .map(|e| e.id)
            .take(limit as usize)
            .collect();
        let mut claimed = Vec::with_capacity(due.len());
        for id in due {
            if let Some(e) = data.webhooks.get_mut(&id) {
                e.claimed_by = Some(claim.by.clone());
                e.claim_until = Some(claim.until);
                claimed.push(e.clone());
            }
        }
        Ok(claimed)
    }

    async fn record_webhook_progress(
        &self,
        tenant: TenantId,
        id: WebhookId,
        claimer: &str,
        cursor: u64,
        delivery: Option<&Delivery>,
    ) -> Result<()> {
        let mut data = self.lock()?;
        let endpoint = claimed_mut(&mut data, tenant, id, claimer)?;
        endpoint.cursor = endpoint.cursor.max(cursor);
        endpoint.attempts = 0;
        endpoint.failing_since = None;
        endpoint.next_attempt_at = None;
        if let Some(d) = delivery {
            data.deliveries.push(d.clone());
        }
        Ok(())
    }

    async fn record_webhook_failure(
        &self,
        tenant: TenantId,
        id: WebhookId,
        claimer: &str,
        failure: &DeliveryFailure,
    ) -> Result<()> {
        let mut data = self.lock()?;
        let endpoint = claimed_mut(&mut data, tenant, id, claimer)?;
        endpoint.attempts = endpoint.attempts.saturating_add(1);
        endpoint.failing_since = endpoint
            .failing_since
            .or(Some(failure.delivery.attempted_at));
        endpoint.next_attempt_at = Some(failure.next_attempt_at);
        if let Some(reason) = &failure.disabled_reason {
            endpoint.enabled = false;
            endpoint.disabled_reason = Some(reason.clone());
        }
        data.deliveries.push(failure.delivery.clone());
        Ok(())
    }

    async fn release_webhook_claim(
        &self,
        tenant: TenantId,
        id: WebhookId,
        claimer: &str,
    ) -> Result<()> {
        let mut data = self.lock()?;
        let endpoint = endpoint_mut(&mut data, tenant, id)?;
        if endpoint.claimed_by.as_deref() == Some(claimer) {
            endpoint.claimed_by = None;
            endpoint.claim_until = None;
        }
        Ok(())
    }

    async fn rotate_webhook_secret(
        &self,
        tenant: TenantId,
        id: WebhookId,
        secret: &crate::webhooks::WebhookSecret,
        previous_until: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<WebhookEndpoint> {
        let mut data = self.lock()?;
        let endpoint = endpoint_mut(&mut data, tenant, id)?;
        let previous = std::mem::replace(&mut endpoint.secret, secret.clone());
        endpoint.previous_secret = Some(previous);
        endpoint.previous_secret_until = Some(previous_until);
        let rotated = endpoint.clone();
        data.audit.push(audit.clone());
        Ok(rotated)
    }

    async fn prune_webhook_deliveries(
        &self,
        tenant: TenantId,
        id: WebhookId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64> {
        let mut data = self.lock()?;
        let mut due: Vec<(DateTime<Utc>, crate::ids::WebhookDeliveryId)> = data
            .deliveries
            .iter()
            .filter(|d| d.tenant_id == tenant && d.endpoint_id == id && d.attempted_at < before)
            .map(|d| (d.attempted_at, d.id))
            .collect();
        due.sort();
        due.truncate(limit as usize);
        let gone: std::collections::HashSet<_> = due.into_iter().map(|(_, id)| id).collect();
        data.deliveries.retain(|d| !gone.contains(&d.id));
        Ok(gone.len() as u64)
    }

    async fn list_webhook_deliveries(
        &self,
        tenant: TenantId,
        id: WebhookId,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        let mut data = self.lock()?;
        endpoint_mut(&mut data, tenant, id)?;
        let mut rows: Vec<Delivery> = data
            .deliveries
            .iter()
            .filter(|d| d.endpoint_id == id)
            .cloned()
            .collect();
        rows.sort_by_key(|d| std::cmp::Reverse((d.attempted_at, d.id)));
        rows.truncate(limit as usize);
        Ok(rows)
    }

    async fn redeliver_webhook(
        &self,
        tenant: TenantId,
        id: WebhookId,
        from_seq: u64,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut data = self.lock()?;
        let endpoint = endpoint_mut(&mut data, tenant, id)?;
        endpoint.cursor = from_seq.saturating_sub(1);
        endpoint.attempts = 0;
        endpoint.failing_since = None;
        endpoint.next_attempt_at = None;
        endpoint.enabled = true;
        endpoint.disabled_reason = None;
        data.audit.push(audit.clone());
        Ok(())
    }
}
