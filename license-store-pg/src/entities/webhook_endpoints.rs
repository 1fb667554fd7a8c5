use license_core::webhooks::{EventTypes, WebhookEndpoint, WebhookSecret, WebhookUrl};
use license_core::{TenantId, WebhookId};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;

use super::{count, stored_time, string_list};
use crate::errors::corrupt;

const WHAT: &str = "webhook endpoint";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub url: String,
    /// JSON array of event types (empty: all).
    pub event_types: Json,
    /// `whsec_…`: the server signs with it, so it is kept (ADR 0032).
    pub secret: String,
    /// The secret before the last rotation, signing alongside until `previous_secret_until`
    /// (m0014).
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTimeUtc>,
    pub enabled: bool,
    pub description: String,
    pub created_at: DateTimeUtc,
    /// The last log number handled (the domain's `u64`).
    pub cursor_seq: i64,
    pub attempts: i64,
    pub failing_since: Option<DateTimeUtc>,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub disabled_reason: Option<String>,
    pub claimed_by: Option<String>,
    pub claim_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> license_core::Result<WebhookEndpoint> {
        let types = string_list(WHAT, self.event_types)?;
        Ok(WebhookEndpoint {
            id: WebhookId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            url: WebhookUrl::from_stored(self.url),
            event_types: EventTypes::parse(&types).map_err(|e| corrupt(WHAT, e))?,
            secret: WebhookSecret::parse(&self.secret).map_err(|e| corrupt(WHAT, e))?,
            previous_secret: self
                .previous_secret
                .as_deref()
                .map(WebhookSecret::parse)
                .transpose()
                .map_err(|e| corrupt(WHAT, e))?,
            previous_secret_until: self.previous_secret_until,
            enabled: self.enabled,
            description: self.description,
            created_at: self.created_at,
            cursor: seq(self.cursor_seq)?,
            attempts: count(WHAT, self.attempts)?,
            failing_since: self.failing_since,
            next_attempt_at: self.next_attempt_at,
            disabled_reason: self.disabled_reason,
            claimed_by: self.claimed_by,
            claim_until: self.claim_until,
        })
    }
}

/// A stored log number back to the domain's `u64`.
pub(crate) fn seq(n: i64) -> license_core::Result<u64> {
    u64::try_from(n).map_err(|e| corrupt(WHAT, e))
}

/// A log number as stored.
pub(crate) fn stored_seq(n: u64) -> license_core::Result<i64> {
    i64::try_from(n).map_err(|_| license_core::Error::invalid("from_seq", "is too large"))
}

impl ActiveModel {
    /// Every column of `e`, its cursor as given.
    pub(crate) fn from_domain(e: &WebhookEndpoint) -> license_core::Result<Self> {
        Ok(ActiveModel {
            id: Set(e.id.as_uuid()),
            tenant_id: Set(e.tenant_id.as_uuid()),
            url: Set(e.url.as_str().to_owned()),
            event_types: Set(serde_json::json!(e.event_types.as_slice())),
            secret: Set(e.secret.expose()),
            previous_secret: Set(e.previous_secret.as_ref().map(WebhookSecret::expose)),
            previous_secret_until: Set(e.previous_secret_until.map(stored_time)),
            enabled: Set(e.enabled),
            description: Set(e.description.clone()),
            created_at: Set(stored_time(e.created_at)),
            cursor_seq: Set(stored_seq(e.cursor)?),
            attempts: Set(i64::from(e.attempts)),
            failing_since: Set(e.failing_since.map(stored_time)),
            next_attempt_at: Set(e.next_attempt_at.map(stored_time)),
            disabled_reason: Set(e.disabled_reason.clone()),
            claimed_by: Set(e.claimed_by.clone()),
            claim_until: Set(e.claim_until.map(stored_time)),
        })
    }
}
