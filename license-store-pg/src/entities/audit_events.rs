use license_core::{AuditEvent, AuditEventId, TenantId};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;

use super::{actor_columns, actor_from_columns, stored_time};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// `operator`, `api_key`, `user` or `system`.
    pub actor_kind: String,
    /// The API key id or the user's subject; `None` for the operator and the system.
    pub actor_id: Option<String>,
    pub action: String,
    pub target: String,
    pub at: DateTimeUtc,
    pub details: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> license_core::Result<AuditEvent> {
        const WHAT: &str = "audit event";
        let actor = actor_from_columns(WHAT, &self.actor_kind, self.actor_id)?;
        Ok(AuditEvent {
            id: AuditEventId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            actor,
            action: self.action,
            target: self.target,
            at: self.at,
            details: self.details,
        })
    }
}

impl From<&AuditEvent> for ActiveModel {
    fn from(e: &AuditEvent) -> Self {
        let (kind, id) = actor_columns(&e.actor);
        ActiveModel {
            id: Set(e.id.as_uuid()),
            tenant_id: Set(e.tenant_id.as_uuid()),
            actor_kind: Set(kind.to_owned()),
            actor_id: Set(id),
            action: Set(e.action.clone()),
            target: Set(e.target.clone()),
            at: Set(stored_time(e.at)),
            details: Set(e.details.clone()),
        }
    }
}
