use license_core::{ApiKey, ApiKeyId, Scope, TenantId};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;

use super::{stored_time, string_list};
use crate::errors::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub hash: String,
    pub scopes: Json,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> license_core::Result<ApiKey> {
        const WHAT: &str = "api key";
        let scopes = string_list(WHAT, self.scopes)?
            .iter()
            .map(|s| Scope::parse(s))
            .collect::<Result<_, _>>()
            .map_err(|e| corrupt(WHAT, e))?;
        Ok(ApiKey {
            id: ApiKeyId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            name: self.name,
            prefix: self.prefix,
            hash: self.hash,
            scopes,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            revoked_at: self.revoked_at,
        })
    }
}

impl From<&ApiKey> for ActiveModel {
    fn from(k: &ApiKey) -> Self {
        let scopes: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
        ActiveModel {
            id: Set(k.id.as_uuid()),
            tenant_id: Set(k.tenant_id.as_uuid()),
            name: Set(k.name.clone()),
            prefix: Set(k.prefix.clone()),
            hash: Set(k.hash.clone()),
            scopes: Set(serde_json::json!(scopes)),
            created_at: Set(stored_time(k.created_at)),
            last_used_at: Set(k.last_used_at.map(stored_time)),
            revoked_at: Set(k.revoked_at.map(stored_time)),
        }
    }
}
