use license_core::{Tenant, TenantId};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;

use super::stored_time;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> Tenant {
        Tenant {
            id: TenantId::from_uuid(self.id),
            name: self.name,
            created_at: self.created_at,
        }
    }
}

impl From<&Tenant> for ActiveModel {
    fn from(t: &Tenant) -> Self {
        ActiveModel {
            id: Set(t.id.as_uuid()),
            name: Set(t.name.clone()),
            created_at: Set(stored_time(t.created_at)),
        }
    }
}
