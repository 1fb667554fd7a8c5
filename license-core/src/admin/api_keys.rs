//! Admin use cases for tenant API keys: create (the secret is shown once), list, revoke, and
//! the authentication check every request with a key goes through.

use serde_json::json;

use super::AdminService;
use crate::api_key::{ApiKey, ApiKeySecret, Scope};
use crate::audit::Actor;
use crate::error::{Error, Resource, Result};
use crate::ids::{ApiKeyId, TenantId};

impl AdminService {
    /// Creates an API key; the returned secret is shown once and never stored.
    pub async fn create_api_key(
        &self,
        tenant: TenantId,
        name: &str,
        scopes: Vec<Scope>,
        actor: &Actor,
    ) -> Result<(ApiKey, ApiKeySecret)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
            return Err(Error::invalid(
                "name",
                "must be 1 to 128 printable characters",
            ));
        }
        if scopes.is_empty() {
            return Err(Error::invalid("scopes", "name at least one scope"));
        }
        let mut scopes = scopes;
        scopes.sort_unstable();
        scopes.dedup();
        let secret = ApiKeySecret::generate(tenant)?;
        let key = ApiKey {
            id: ApiKeyId::new(),
            tenant_id: tenant,
            name: name.to_owned(),
            prefix: secret.prefix().to_owned(),
            hash: secret.hash(),
            scopes,
            created_at: self.clock.now(),
            last_used_at: None,
            revoked_at: None,
        };
        let audit = self.event(
            tenant,
            actor,
            "api_key.create",
            format!("api_key:{}", key.id),
            json!({ "name": key.name, "scopes": key.scopes }),
        );
        self.store.create_api_key(&key, &audit).await?;
        self.changed(&audit);
        Ok((key, secret))
    }

    /// The tenant's API keys (never their secrets).
    pub async fn list_api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKey>> {
        self.store.list_api_keys(tenant).await
    }

    /// Revokes an API key.
    pub async fn revoke_api_key(
        &self,
        tenant: TenantId,
        id: ApiKeyId,
        actor: &Actor,
    ) -> Result<()> {
        let audit = self.event(
            tenant,
            actor,
            "api_key.revoke",
            format!("api_key:{id}"),
            json!({}),
        );
        self.store
            .revoke_api_key(tenant, id, self.clock.now(), &audit)
            .await?;
        self.changed(&audit);
        Ok(())
    }

    /// The key record a presented secret belongs to, if it is valid and has `scope`.
    /// Every failure is `api_key_not_found`, so callers cannot tell which check failed.
    pub async fn authenticate_api_key(
        &self,
        secret: &ApiKeySecret,
        scope: Scope,
    ) -> Result<ApiKey> {
        let tenant = secret.tenant_id();
        let key = self.store.find_api_key(tenant, secret.prefix()).await?;
        if !key.matches(secret) || !key.allows(scope) {
            return Err(Error::NotFound(Resource::ApiKey));
        }
        let now = self.clock.now();
        // Record use at most once a minute: no write on every request.
        if key
            .last_used_at
            .is_none_or(|t| now - t > chrono::TimeDelta::minutes(1))
        {
            self.store.touch_api_key(tenant, key.id, now).await?;
        }
        Ok(key)
    }
}
