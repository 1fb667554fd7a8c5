use license_core::webhooks::Delivery;
use license_core::{TenantId, WebhookDeliveryId, WebhookId};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;

use super::stored_time;
use super::webhook_endpoints::{seq, stored_seq};
use crate::errors::corrupt;

const WHAT: &str = "webhook delivery";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub tenant_id: Uuid,
    pub seq: i64,
    /// The `webhook-id` sent.
    pub webhook_id: String,
    pub attempted_at: DateTimeUtc,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub ok: bool,
    pub duration_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> license_core::Result<Delivery> {
        Ok(Delivery {
            id: WebhookDeliveryId::from_uuid(self.id),
            endpoint_id: WebhookId::from_uuid(self.endpoint_id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            seq: seq(self.seq)?,
            webhook_id: self.webhook_id,
            attempted_at: self.attempted_at,
            status_code: self
                .status_code
                .map(u16::try_from)
                .transpose()
                .map_err(|e| corrupt(WHAT, e))?,
            error: self.error,
            ok: self.ok,
            duration_ms: u64::try_from(self.duration_ms).map_err(|e| corrupt(WHAT, e))?,
        })
    }
}

impl ActiveModel {
    pub(crate) fn from_domain(d: &Delivery) -> license_core::Result<Self> {
        Ok(ActiveModel {
            id: Set(d.id.as_uuid()),
            endpoint_id: Set(d.endpoint_id.as_uuid()),
            tenant_id: Set(d.tenant_id.as_uuid()),
            seq: Set(stored_seq(d.seq)?),
            webhook_id: Set(d.webhook_id.clone()),
            attempted_at: Set(stored_time(d.attempted_at)),
            status_code: Set(d.status_code.map(i32::from)),
            error: Set(d.error.clone()),
            ok: Set(d.ok),
            duration_ms: Set(i64::try_from(d.duration_ms).unwrap_or(i64::MAX)),
        })
    }
}
