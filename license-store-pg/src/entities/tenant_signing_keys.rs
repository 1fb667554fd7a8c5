use license_core::{PublicJwk, TenantId, TenantKey};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;

use super::{count, stored_time};
use crate::errors::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub generation: i64,
    /// Also inside `public_jwk`; a column of its own for the unique index.
    pub kid: String,
    /// The `PublicJwk` as JSON text.
    pub public_jwk: String,
    pub certificate: String,
    pub wrapped_private_key: Vec<u8>,
    pub wrapped_by: String,
    pub created_at: DateTimeUtc,
    pub activates_at: DateTimeUtc,
    pub retires_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> license_core::Result<TenantKey> {
        const WHAT: &str = "tenant signing key";
        let public_jwk: PublicJwk =
            serde_json::from_str(&self.public_jwk).map_err(|e| corrupt(WHAT, e))?;
        if public_jwk.kid != self.kid {
            return Err(corrupt(WHAT, "kid column differs from the JWK's kid"));
        }
        Ok(TenantKey {
            tenant_id: TenantId::from_uuid(self.tenant_id),
            generation: count(WHAT, self.generation)?,
            public_jwk,
            certificate: self.certificate,
            wrapped_private_key: self.wrapped_private_key,
            wrapped_by: self.wrapped_by,
            created_at: self.created_at,
            activates_at: self.activates_at,
            retires_at: self.retires_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        })
    }
}

impl TryFrom<&TenantKey> for ActiveModel {
    type Error = license_core::Error;

    /// Fails only if the JWK does not serialise (it always does: strings and an enum).
    fn try_from(k: &TenantKey) -> license_core::Result<Self> {
        let public_jwk = serde_json::to_string(&k.public_jwk).map_err(|e| {
            tracing::error!(error = %e, "store: public JWK did not serialise");
            license_core::Error::Internal("the public key did not serialise".into())
        })?;
        Ok(ActiveModel {
            tenant_id: Set(k.tenant_id.as_uuid()),
            generation: Set(i64::from(k.generation)),
            kid: Set(k.kid().to_owned()),
            public_jwk: Set(public_jwk),
            certificate: Set(k.certificate.clone()),
            wrapped_private_key: Set(k.wrapped_private_key.clone()),
            wrapped_by: Set(k.wrapped_by.clone()),
            created_at: Set(stored_time(k.created_at)),
            activates_at: Set(stored_time(k.activates_at)),
            retires_at: Set(stored_time(k.retires_at)),
            expires_at: Set(stored_time(k.expires_at)),
            revoked_at: Set(k.revoked_at.map(stored_time)),
        })
    }
}
