//! Admin: webhook endpoints (ADR 0032) — create (the signing secret is shown once), list,
//! show, change, delete, the delivery log, and redelivery from a log number.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use license_core::WebhookId;
use license_core::webhooks::{Delivery, NewWebhook, WebhookChange, WebhookEndpoint};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::error::AdminError;
use super::text::Text;
use crate::auth::TenantAdminAuth;
use crate::state::AppState;

/// Admin routes for webhooks.
#[derive(Debug)]
pub struct WebhooksApi;

/// A webhook endpoint (never its secret).
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookDto {
    /// Its id.
    pub id: Uuid,
    /// Where events are POSTed.
    pub url: String,
    /// The event types sent (empty: every type).
    pub event_types: Vec<String>,
    /// Whether events are sent.
    pub enabled: bool,
    /// What it is for.
    pub description: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The last seat-event log number handled (delivered, or skipped as not subscribed).
    pub cursor: u64,
    /// Consecutive failed deliveries.
    pub attempts: u32,
    /// Since when deliveries have failed without a success.
    pub failing_since: Option<DateTime<Utc>>,
    /// The next attempt after a failure.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why the server disabled it, if it did.
    pub disabled_reason: Option<String>,
}

impl From<WebhookEndpoint> for WebhookDto {
    fn from(e: WebhookEndpoint) -> Self {
        Self {
            id: e.id.as_uuid(),
            url: e.url.as_str().to_owned(),
            event_types: e.event_types.as_slice().to_vec(),
            enabled: e.enabled,
            description: e.description,
            created_at: e.created_at,
            cursor: e.cursor,
            attempts: e.attempts,
            failing_since: e.failing_since,
            next_attempt_at: e.next_attempt_at,
            disabled_reason: e.disabled_reason,
        }
    }
}

/// A new endpoint with its signing secret, shown this once.
#[derive(Object, Debug)]
pub struct CreatedWebhook {
    /// The endpoint.
    #[oai(flatten)]
    pub webhook: WebhookDto,
    /// The signing secret (`whsec_` + base64): verify `webhook-signature` with it
    /// (Standard Webhooks; `docs/webhooks.md`).
    pub secret: String,
}

/// An endpoint with its new signing secret, shown this once.
#[derive(Object, Debug)]
pub struct RotatedWebhook {
    /// The endpoint.
    #[oai(flatten)]
    pub webhook: WebhookDto,
    /// The new signing secret (`whsec_` + base64).
    pub secret: String,
    /// Until when the previous secret signs too (a second signature in `webhook-signature`).
    pub previous_secret_until: Option<DateTime<Utc>>,
}

/// A new endpoint.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// `https://…` (`http://` and private addresses only where the server allows them).
    #[oai(validator(min_length = 1, max_length = 2000))]
    pub url: Text,
    /// Event types to send (`docs/events.md`); empty or left out: every type.
    #[oai(default, validator(max_items = 32))]
    pub event_types: Vec<Text>,
    /// What it is for (up to 200 characters).
    #[oai(default, validator(max_length = 200))]
    pub description: Text,
}

/// Changes to an endpoint; fields left out stay as they are.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    /// A new URL.
    #[oai(validator(min_length = 1, max_length = 2000))]
    pub url: Option<Text>,
    /// New event types (empty: every type).
    #[oai(validator(max_items = 32))]
    pub event_types: Option<Vec<Text>>,
    /// Enable (clears a failure backoff and a disabled reason: sending resumes at once) or
    /// disable.
    pub enabled: Option<bool>,
    /// A new description.
    #[oai(validator(max_length = 200))]
    pub description: Option<Text>,
}

/// Where to send from again.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct RedeliverRequest {
    /// The first seat-event log number to send again (at least 1).
    #[oai(validator(minimum(value = "1")))]
    pub from_seq: u64,
}

/// One delivery attempt.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookDeliveryDto {
    /// Its id.
    pub id: Uuid,
    /// The seat-event log number sent.
    pub seq: u64,
    /// The `webhook-id` header sent (the same at every retry of this entry).
    pub webhook_id: String,
    /// When.
    pub attempted_at: DateTime<Utc>,
    /// The receiver's status, if it answered.
    pub status_code: Option<u16>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// Whether the receiver took it (2xx).
    pub ok: bool,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

impl From<Delivery> for WebhookDeliveryDto {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id.as_uuid(),
            seq: d.seq,
            webhook_id: d.webhook_id,
            attempted_at: d.attempted_at,
            status_code: d.status_code,
            error: d.error,
            ok: d.ok,
            duration_ms: d.duration_ms,
        }
    }
}

/// The tenant's endpoints.
#[derive(Object, Debug)]
pub struct WebhookList {
    /// Oldest first.
    pub items: Vec<WebhookDto>,
}

/// An endpoint's delivery log.
#[derive(Object, Debug)]
pub struct WebhookDeliveryList {
    /// Newest first.
    pub items: Vec<WebhookDeliveryDto>,
}

/// A created endpoint.
#[derive(ApiResponse, Debug)]
pub enum WebhookCreated {
    /// The endpoint and its signing secret, shown once.
    #[oai(status = 201)]
    Created(Json<CreatedWebhook>),
}

/// A rotated secret.
#[derive(ApiResponse, Debug)]
pub enum WebhookRotated {
    /// The endpoint and its new signing secret, shown once.
    #[oai(status = 200)]
    Ok(Json<RotatedWebhook>),
}

/// The endpoints.
#[derive(ApiResponse, Debug)]
pub enum WebhookListOk {
    /// The tenant's endpoints.
    #[oai(status = 200)]
    Ok(Json<WebhookList>),
}

/// One endpoint.
#[derive(ApiResponse, Debug)]
pub enum WebhookOk {
    /// The endpoint as it now is.
    #[oai(status = 200)]
    Ok(Json<WebhookDto>),
}

/// The delivery log.
#[derive(ApiResponse, Debug)]
pub enum WebhookDeliveriesOk {
    /// The latest attempts.
    #[oai(status = 200)]
    Ok(Json<WebhookDeliveryList>),
}

/// Done, nothing to show.
#[derive(ApiResponse, Debug)]
pub enum WebhookDone {
    /// Done.
    #[oai(status = 204)]
    Done,
}

fn texts(list: &[Text]) -> Vec<String> {
    list.iter().map(|t| t.0.clone()).collect()
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// Create a webhook endpoint
    ///
    /// Seat events from now on are POSTed to `url`, signed the Standard Webhooks way with the
    /// secret in this response (shown once). No history is sent; `redeliver` sends from an
    /// earlier log number.
    #[oai(path = "/webhooks", method = "post", operation_id = "create_webhook")]
    async fn create(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        body: Json<CreateWebhookRequest>,
    ) -> Result<WebhookCreated, AdminError> {
        let tenant = auth.0.tenant()?;
        let new = NewWebhook {
            url: body.url.0.clone(),
            event_types: texts(&body.event_types),
            description: body.description.0.clone(),
        };
        let endpoint = state.webhooks.create(tenant, new, &auth.0.actor()).await?;
        let secret = endpoint.secret.expose();
        Ok(WebhookCreated::Created(Json(CreatedWebhook {
            webhook: endpoint.into(),
            secret,
        })))
    }

    /// Rotate a webhook endpoint's signing secret
    ///
    /// A new secret, in this response (shown once). For the next 24 hours deliveries carry
    /// two signatures in `webhook-signature`, one by the new secret and one by the old, so the
    /// receiver verifies with either and can switch whenever it likes; then only the new one
    /// signs. Audited.
    #[oai(
        path = "/webhooks/:webhook_id/rotate-secret",
        method = "post",
        operation_id = "rotate_webhook_secret"
    )]
    async fn rotate_secret(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        webhook_id: Path<Uuid>,
    ) -> Result<WebhookRotated, AdminError> {
        let tenant = auth.0.tenant()?;
        let endpoint = state
            .webhooks
            .rotate_secret(tenant, WebhookId::from_uuid(webhook_id.0), &auth.0.actor())
            .await?;
        let secret = endpoint.secret.expose();
        let previous_secret_until = endpoint.previous_secret_until;
        Ok(WebhookRotated::Ok(Json(RotatedWebhook {
            webhook: endpoint.into(),
            secret,
            previous_secret_until,
        })))
    }

    /// List webhook endpoints
    #[oai(path = "/webhooks", method = "get", operation_id = "list_webhooks")]
    async fn list(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
    ) -> Result<WebhookListOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let items = state.webhooks.list(tenant).await?;
        Ok(WebhookListOk::Ok(Json(WebhookList {
            items: items.into_iter().map(WebhookDto::from).collect(),
        })))
    }

    /// Show a webhook endpoint
    #[oai(
        path = "/webhooks/:webhook_id",
        method = "get",
        operation_id = "get_webhook"
    )]
    async fn get(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        webhook_id: Path<Uuid>,
    ) -> Result<WebhookOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let endpoint = state
            .webhooks
            .get(tenant, WebhookId::from_uuid(webhook_id.0))
            .await?;
        Ok(WebhookOk::Ok(Json(endpoint.into())))
    }

    /// Change a webhook endpoint
    #[oai(
        path = "/webhooks/:webhook_id",
        method = "patch",
        operation_id = "update_webhook"
    )]
    async fn update(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        webhook_id: Path<Uuid>,
        body: Json<UpdateWebhookRequest>,
    ) -> Result<WebhookOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let change = WebhookChange {
            url: body.url.as_ref().map(|t| t.0.clone()),
            event_types: body.event_types.as_deref().map(texts),
            enabled: body.enabled,
            description: body.description.as_ref().map(|t| t.0.clone()),
        };
        let endpoint = state
            .webhooks
            .update(
                tenant,
                WebhookId::from_uuid(webhook_id.0),
                change,
                &auth.0.actor(),
            )
            .await?;
        Ok(WebhookOk::Ok(Json(endpoint.into())))
    }

    /// Delete a webhook endpoint
    ///
    /// Its delivery log goes with it.
    #[oai(
        path = "/webhooks/:webhook_id",
        method = "delete",
        operation_id = "delete_webhook"
    )]
    async fn delete(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        webhook_id: Path<Uuid>,
    ) -> Result<WebhookDone, AdminError> {
        let tenant = auth.0.tenant()?;
        state
            .webhooks
            .delete(tenant, WebhookId::from_uuid(webhook_id.0), &auth.0.actor())
            .await?;
        Ok(WebhookDone::Done)
    }

    /// List a webhook endpoint's deliveries
    ///
    /// Every attempt, newest first: the log number, the `webhook-id`, the receiver's status
    /// or the error.
    #[oai(
        path = "/webhooks/:webhook_id/deliveries",
        method = "get",
        operation_id = "list_webhook_deliveries"
    )]
    async fn deliveries(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        webhook_id: Path<Uuid>,
        /// How many at most (1–1000, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
    ) -> Result<WebhookDeliveriesOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let items = state
            .webhooks
            .deliveries(
                tenant,
                WebhookId::from_uuid(webhook_id.0),
                limit.0.unwrap_or(50),
            )
            .await?;
        Ok(WebhookDeliveriesOk::Ok(Json(WebhookDeliveryList {
            items: items.into_iter().map(WebhookDeliveryDto::from).collect(),
        })))
    }

    /// Send again from a log number
    ///
    /// Moves the endpoint's cursor so that seat-event log entries from `from_seq` on are sent
    /// again (with their original `webhook-id`s, so receivers can tell), clears its backoff
    /// and enables it. Audited.
    #[oai(
        path = "/webhooks/:webhook_id/redeliver",
        method = "post",
        operation_id = "redeliver_webhook"
    )]
    async fn redeliver(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        webhook_id: Path<Uuid>,
        body: Json<RedeliverRequest>,
    ) -> Result<WebhookDone, AdminError> {
        let tenant = auth.0.tenant()?;
        state
            .webhooks
            .redeliver(
                tenant,
                WebhookId::from_uuid(webhook_id.0),
                body.from_seq,
                &auth.0.actor(),
            )
            .await?;
        Ok(WebhookDone::Done)
    }
}
