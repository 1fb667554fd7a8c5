//! Webhooks (ADR 0032): a tenant's seat events POSTed to its endpoints, signed the Standard
//! Webhooks way, delivered from the seat-event log (ADR 0030).
//!
//! The log is the durable outbox: each endpoint keeps a cursor (the last log number it
//! handled) in the store, and a dispatcher on every replica claims endpoints that are due,
//! sends the entries after their cursor in order and moves the cursor past each one the
//! receiver took. A failure leaves the cursor where it is (head-of-line per endpoint) and
//! backs off; a claim has a lease, so an endpoint whose replica died is taken over when it
//! expires. A message's `webhook-id` is fixed per entry (`msg_<tenant>_<seq>`), so a receiver
//! deduplicates what a retry or a takeover sends again: delivery is at least once.
//!
//! ```
//! use license_core::webhooks::{RetryPolicy, WebhookSecret, sign};
//! let secret = WebhookSecret::generate().unwrap();
//! let header = sign(&secret, "msg_1", 1_700_000_000, r#"{"type":"granted"}"#);
//! assert!(header.starts_with("v1,"));
//! assert_eq!(RetryPolicy::default().backoff(1, 0.0).as_secs(), 5);
//! ```

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::AuditEvent;
use crate::error::Result;
use crate::ids::{TenantId, WebhookId};

/// The addresses a delivery may not reach by default (SSRF guard).
mod address;
/// What is sent: messages, signatures, backoff, delivery records.
mod delivery;
/// Endpoints: URL, event types, secret, the stored record.
mod endpoint;
/// The use cases: managing endpoints, the delivery log, redelivery.
mod manage;

pub use address::is_forbidden;
pub use delivery::{Delivery, RetryPolicy, WebhookMessage, message_id, sign};
pub use endpoint::{
    EVENT_TYPES, EventTypes, UrlPolicy, WebhookEndpoint, WebhookSecret, WebhookUrl,
    parse_description,
};
pub use manage::{ERRORS, NewWebhook, SECRET_OVERLAP, WebhookChange, WebhookService};

/// Most entries a dispatcher reads per endpoint per claim.
pub const BATCH: u32 = 100;

/// A replica's claim on due endpoints: who, at what time, until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookClaim {
    /// The replica (`events.replica`).
    pub by: String,
    /// Now: endpoints whose backoff and previous claim ended by then are due.
    pub now: DateTime<Utc>,
    /// The claim's end (now + the lease).
    pub until: DateTime<Utc>,
}

/// A failed attempt, as the dispatcher decided its consequences.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryFailure {
    /// The delivery row (not ok).
    pub delivery: Delivery,
    /// When to try again.
    pub next_attempt_at: DateTime<Utc>,
    /// Set when the endpoint has failed for too long: it is disabled with this reason.
    pub disabled_reason: Option<String>,
}

/// Where endpoints, their cursors and claims, and the delivery log are kept. Every method but
/// [`claim_due_webhooks`](Self::claim_due_webhooks) is scoped to one tenant; another
/// tenant's endpoint answers `NotFound(Webhook)`.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint with its cursor at the tenant's current log head (read in the
    /// same transaction, so no history is sent) and `audit`; returns it as stored.
    /// `NotFound(Tenant)` when the tenant does not exist.
    async fn create_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        audit: &AuditEvent,
    ) -> Result<WebhookEndpoint>;

    /// One endpoint.
    async fn get_webhook(&self, tenant: TenantId, id: WebhookId) -> Result<WebhookEndpoint>;

    /// The tenant's endpoints, oldest first.
    async fn list_webhooks(&self, tenant: TenantId) -> Result<Vec<WebhookEndpoint>>;

    /// Replaces an endpoint's settings (url, event types, description) and, with
    /// `with_state`, its state too (enabled, disabled reason, attempts, failing since, next
    /// attempt), with `audit`. The cursor, secret and claim are left alone. Without
    /// `with_state` a change made from a stale read cannot undo what the dispatcher recorded
    /// meanwhile (a failure's backoff, a disabling).
    async fn update_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        with_state: bool,
        audit: &AuditEvent,
    ) -> Result<()>;

    /// Deletes an endpoint and its delivery log, with `audit`.
    async fn delete_webhook(
        &self,
        tenant: TenantId,
        id: WebhookId,
        audit: &AuditEvent,
    ) -> Result<()>;

    /// Claims, across tenants, up to `limit` endpoints that are enabled, have entries after
    /// their cursor, are past their backoff (`next_attempt_at <= now`) and are not claimed (or
    /// their claim expired by `now`): `claimed_by` and `claim_until` are set atomically, so
    /// replicas claiming at once never get the same endpoint. Returns them as claimed.
    async fn claim_due_webhooks(
        &self,
        claim: &WebhookClaim,
        limit: u32,
    ) -> Result<Vec<WebhookEndpoint>>;

    /// Moves the cursor to `cursor` (never back: a lower value leaves it), clears the
    /// failure state (attempts, failing since, next attempt), and records `delivery` when one
    /// was made, in one transaction. `Conflict` unless `claimer` holds the claim.
    async fn record_webhook_progress(
        &self,
        tenant: TenantId,
        id: WebhookId,
        claimer: &str,
        cursor: u64,
        delivery: Option<&Delivery>,
    ) -> Result<()>;

    /// Records a failed delivery: attempts + 1, failing since set if unset, the next attempt,
    /// and disabled (with the reason) when `failure.disabled_reason` is set. The cursor stays.
    /// `Conflict` unless `claimer` holds the claim.
    async fn record_webhook_failure(
        &self,
        tenant: TenantId,
        id: WebhookId,
        claimer: &str,
        failure: &DeliveryFailure,
    ) -> Result<()>;

    /// Ends `claimer`'s claim (nothing when another replica holds it now).
    async fn release_webhook_claim(
        &self,
        tenant: TenantId,
        id: WebhookId,
        claimer: &str,
    ) -> Result<()>;

    /// The endpoint's most recent deliveries, newest first, at most `limit`.
    async fn list_webhook_deliveries(
        &self,
        tenant: TenantId,
        id: WebhookId,
        limit: u32,
    ) -> Result<Vec<Delivery>>;

    /// Makes `secret` the endpoint's signing secret and the one it replaces its previous
    /// secret, signing alongside until `previous_until`, with `audit`; returns the endpoint.
    /// `NotFound(Webhook)` when it is not the tenant's.
    async fn rotate_webhook_secret(
        &self,
        tenant: TenantId,
        id: WebhookId,
        secret: &WebhookSecret,
        previous_until: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<WebhookEndpoint>;

    /// Deletes at most `limit` of the endpoint's delivery records attempted before `before`,
    /// oldest first (the delivery log's retention); returns how many.
    async fn prune_webhook_deliveries(
        &self,
        tenant: TenantId,
        id: WebhookId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64>;

    /// Sends again from log number `from_seq`: the cursor becomes `from_seq − 1` (back or
    /// forward), the failure state is cleared and the endpoint enabled, with `audit`.
    async fn redeliver_webhook(
        &self,
        tenant: TenantId,
        id: WebhookId,
        from_seq: u64,
        audit: &AuditEvent,
    ) -> Result<()>;
}
