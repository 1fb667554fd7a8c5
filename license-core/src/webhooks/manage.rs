//! Managing endpoints: create (the secret is shown once), list, show, change, delete, the
//! delivery log and redelivery. Each change is audited and becomes an `admin_change` event.

use std::sync::Arc;

use serde_json::json;

use crate::audit::{Actor, AuditEvent};
use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{EventSink, EventSinks, SeatEvent};
use crate::ids::{TenantId, WebhookId};
use crate::store::Store;
use crate::webhooks::{
    Delivery, EventTypes, UrlPolicy, WebhookEndpoint, WebhookSecret, WebhookUrl, parse_description,
};

/// How long a rotated-out secret keeps signing next to the new one.
pub const SECRET_OVERLAP: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// What the webhook use cases can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::InvalidInput,
    ErrorKind::NotFound,
    ErrorKind::Conflict,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// A new endpoint, as asked for.
#[derive(Clone, Debug, Default)]
pub struct NewWebhook {
    /// Where to POST.
    pub url: String,
    /// Which event types (empty: all).
    pub event_types: Vec<String>,
    /// What it is for.
    pub description: String,
}

/// Changes to an endpoint; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct WebhookChange {
    /// A new URL.
    pub url: Option<String>,
    /// New event types (empty: all).
    pub event_types: Option<Vec<String>>,
    /// Enable (which also clears a failure backoff and a disabled reason) or disable.
    pub enabled: Option<bool>,
    /// A new description.
    pub description: Option<String>,
}

/// The webhook use cases.
#[derive(Debug)]
pub struct WebhookService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    events: Arc<dyn EventSink>,
    urls: UrlPolicy,
}

impl WebhookService {
    /// Builds the service; URLs are held to `urls`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, urls: UrlPolicy) -> Self {
        Self {
            store,
            clock,
            events: Arc::new(EventSinks::none()),
            urls,
        }
    }

    /// Sends an `admin_change` event for every audited change to `sink`.
    pub fn with_events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.events = sink;
        self
    }

    fn audit(
        &self,
        tenant: TenantId,
        actor: &Actor,
        action: &str,
        id: WebhookId,
        details: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent::new(
            tenant,
            actor.clone(),
            action,
            format!("webhook:{id}"),
            self.clock.now(),
            details,
        )
    }

    /// Creates an endpoint; its secret is in the returned record (shown to the caller once).
    /// Its cursor starts at the tenant's log head: only events from now on are sent.
    pub async fn create(
        &self,
        tenant: TenantId,
        new: NewWebhook,
        actor: &Actor,
    ) -> Result<WebhookEndpoint> {
        let endpoint = WebhookEndpoint::new(
            tenant,
            WebhookUrl::parse(&new.url, self.urls)?,
            EventTypes::parse(&new.event_types)?,
            WebhookSecret::generate()?,
            &new.description,
            self.clock.now(),
        )?;
        let audit = self.audit(
            tenant,
            actor,
            "webhook.create",
            endpoint.id,
            json!({"url": endpoint.url, "event_types": endpoint.event_types}),
        );
        let stored = self.store.create_webhook(&endpoint, &audit).await?;
        self.events.emit(&SeatEvent::admin_change(&audit));
        Ok(stored)
    }

    /// The tenant's endpoints, oldest first.
    pub async fn list(&self, tenant: TenantId) -> Result<Vec<WebhookEndpoint>> {
        self.store.list_webhooks(tenant).await
    }

    /// One endpoint.
    pub async fn get(&self, tenant: TenantId, id: WebhookId) -> Result<WebhookEndpoint> {
        self.store.get_webhook(tenant, id).await
    }

    /// Changes an endpoint and returns it as it now is.
    pub async fn update(
        &self,
        tenant: TenantId,
        id: WebhookId,
        change: WebhookChange,
        actor: &Actor,
    ) -> Result<WebhookEndpoint> {
        let mut endpoint = self.store.get_webhook(tenant, id).await?;
        if let Some(url) = &change.url {
            endpoint.url = WebhookUrl::parse(url, self.urls)?;
        }
        if let Some(types) = &change.event_types {
            endpoint.event_types = EventTypes::parse(types)?;
        }
        if let Some(description) = &change.description {
            endpoint.description = parse_description(description)?;
        }
        if let Some(enabled) = change.enabled {
            if enabled && !endpoint.enabled {
                // Enabled by hand: a fresh start, sent at once.
                endpoint.attempts = 0;
                endpoint.failing_since = None;
                endpoint.next_attempt_at = None;
                endpoint.disabled_reason = None;
            }
            endpoint.enabled = enabled;
        }
        let audit = self.audit(
            tenant,
            actor,
            "webhook.update",
            id,
            json!({
                "url": change.url.as_ref().map(|_| endpoint.url.as_str()),
                "event_types": change.event_types.as_ref().map(|_| &endpoint.event_types),
                "enabled": change.enabled,
                "description": change.description.as_ref().map(|_| &endpoint.description),
            }),
        );
        // The state (enabled, backoff) is written only when the change names it: the
        // dispatcher may have recorded a failure or a disabling since `endpoint` was read.
        let with_state = change.enabled.is_some();
        self.store
            .update_webhook(&endpoint, with_state, &audit)
            .await?;
        if !with_state {
            endpoint = self.store.get_webhook(tenant, id).await?;
        }
        self.events.emit(&SeatEvent::admin_change(&audit));
        Ok(endpoint)
    }

    /// Deletes an endpoint and its delivery log.
    pub async fn delete(&self, tenant: TenantId, id: WebhookId, actor: &Actor) -> Result<()> {
        let audit = self.audit(tenant, actor, "webhook.delete", id, json!({}));
        self.store.delete_webhook(tenant, id, &audit).await?;
        self.events.emit(&SeatEvent::admin_change(&audit));
        Ok(())
    }

    /// The endpoint's latest deliveries, newest first (`limit` 1–1000).
    pub async fn deliveries(
        &self,
        tenant: TenantId,
        id: WebhookId,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        if !(1..=1_000).contains(&limit) {
            return Err(Error::invalid("limit", "must be between 1 and 1000"));
        }
        self.store.list_webhook_deliveries(tenant, id, limit).await
    }

    /// Gives the endpoint a new signing secret (in the returned record, shown to the caller
    /// once). The old one keeps signing alongside for [`SECRET_OVERLAP`]: deliveries carry
    /// both signatures meanwhile, so the receiver can switch whenever it likes.
    pub async fn rotate_secret(
        &self,
        tenant: TenantId,
        id: WebhookId,
        actor: &Actor,
    ) -> Result<WebhookEndpoint> {
        let now = self.clock.now();
        let until = now + SECRET_OVERLAP;
        let audit = self.audit(
            tenant,
            actor,
            "webhook.rotate_secret",
            id,
            json!({"previous_secret_until": until}),
        );
        let secret = WebhookSecret::generate()?;
        let rotated = self
            .store
            .rotate_webhook_secret(tenant, id, &secret, until, &audit)
            .await?;
        self.events.emit(&SeatEvent::admin_change(&audit));
        Ok(rotated)
    }

    /// Sends the tenant's log again from entry `from_seq` (at least 1) to this endpoint,
    /// clearing its backoff and enabling it. Receivers see the same `webhook-id`s again.
    pub async fn redeliver(
        &self,
        tenant: TenantId,
        id: WebhookId,
        from_seq: u64,
        actor: &Actor,
    ) -> Result<()> {
        if from_seq == 0 {
            return Err(Error::invalid("from_seq", "must be at least 1"));
        }
        let audit = self.audit(
            tenant,
            actor,
            "webhook.redeliver",
            id,
            json!({"from_seq": from_seq}),
        );
        self.store
            .redeliver_webhook(tenant, id, from_seq, &audit)
            .await?;
        self.events.emit(&SeatEvent::admin_change(&audit));
        Ok(())
    }
}
