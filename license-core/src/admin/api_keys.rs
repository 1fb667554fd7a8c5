//! Admin use cases for tenant API keys: create (the secret is shown once), list, revoke, and
//! the authentication check every request with a key goes through, which reads the store only
//! for keys not in the cache (see `key_cache`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::AdminService;
use super::key_cache::{Entry, Verdict};
use crate::api_key::{ApiKey, ApiKeySecret, Scope};
use crate::audit::Actor;
use crate::error::{Error, Resource, Result};
use crate::ids::{ApiKeyId, TenantId};
use crate::text;

impl AdminService {
    /// Creates an API key; the returned secret is shown once and never stored.
    pub async fn create_api_key(
        &self,
        tenant: TenantId,
        name: &str,
        scopes: Vec<Scope>,
        actor: &Actor,
    ) -> Result<(ApiKey, ApiKeySecret)> {
        let name = text::parse_name("name", name, ApiKey::MAX_NAME_LEN)?;
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
        self.keys.created(&key, key.created_at);
        self.changed(&audit);
        Ok((key, secret))
    }

    /// The tenant's API keys (never their secrets).
    pub async fn list_api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKey>> {
        self.store.list_api_keys(tenant).await
    }

    /// Revokes an API key. It stops authenticating on this service at once, and on services
    /// sharing the store once their cached record is older than their time-to-live.
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
        let now = self.clock.now();
        self.store.revoke_api_key(tenant, id, now, &audit).await?;
        self.keys.revoked(tenant, id, now);
        self.changed(&audit);
        Ok(())
    }

    /// The key record a presented secret belongs to, if it is valid and has `scope`.
    /// Every failure is `api_key_not_found`, so callers cannot tell which check failed; a key
    /// not in the cache while such lookups are over their limit is `unavailable` (retry).
    ///
    /// A key whose record is cached and fresh costs no store read; its use is written
    /// (`last_used_at`) at most once a minute.
    pub async fn authenticate_api_key(
        &self,
        secret: &ApiKeySecret,
        scope: Scope,
    ) -> Result<ApiKey> {
        let key = self.identify_api_key(secret).await?;
        if !key.allows(scope) {
            return Err(Error::NotFound(Resource::ApiKey));
        }
        Ok(key)
    }

    /// The record of the valid, unrevoked key `secret` is, whatever its scopes: one check for
    /// a caller that tells a key lacking a scope (403) from no key at all (401), so an unknown
    /// key costs at most one store lookup however many scopes are asked about. Fails like
    /// [`authenticate_api_key`](Self::authenticate_api_key).
    pub async fn identify_api_key(&self, secret: &ApiKeySecret) -> Result<ApiKey> {
        let now = self.clock.now();
        let entry = match self.keys.check(secret, now) {
            Verdict::Known(entry) => entry,
            Verdict::Refused => return Err(Error::NotFound(Resource::ApiKey)),
            Verdict::Stale | Verdict::Unknown => self.look_up_api_key(secret, now).await?,
        };
        let key = &entry.key;
        if !key.matches(secret) || key.revoked_at.is_some() {
            return Err(Error::NotFound(Resource::ApiKey));
        }
        if entry.claim_touch(now) {
            self.store.touch_api_key(key.tenant_id, key.id, now).await?;
        }
        Ok(key.clone())
    }

    /// A key the cache cannot answer for: one request per key at a time reads the store; the
    /// others wait and then find its answer in the cache, or the error it met.
    async fn look_up_api_key(
        &self,
        secret: &ApiKeySecret,
        now: DateTime<Utc>,
    ) -> Result<Arc<Entry>> {
        let turn = self.keys.turn(secret);
        let mut failed = turn.lock.lock().await;
        if let Some(e) = failed.as_ref() {
            return Err(same_failure(e));
        }
        let read = match self.keys.check(secret, now) {
            Verdict::Known(entry) => return Ok(entry),
            Verdict::Refused => return Err(Error::NotFound(Resource::ApiKey)),
            Verdict::Stale => self.read_api_key(secret, now).await,
            Verdict::Unknown => {
                self.keys.admit(secret.tenant_id())?;
                self.read_api_key(secret, now).await
            }
        };
        if let Err(e @ (Error::Unavailable { .. } | Error::Internal(_))) = &read {
            *failed = Some(same_failure(e));
        }
        read
    }

    /// Reads the record of `secret`'s prefix from the store and caches what it found.
    async fn read_api_key(&self, secret: &ApiKeySecret, now: DateTime<Utc>) -> Result<Arc<Entry>> {
        let seen = self.keys.lookup_starts();
        match self
            .store
            .find_api_key(secret.tenant_id(), secret.prefix())
            .await
        {
            Ok(key) => Ok(self.keys.found(key, now, seen)),
            Err(Error::NotFound(resource)) => {
                self.keys.not_found(secret, now);
                Err(Error::NotFound(resource))
            }
            Err(e) => Err(e),
        }
    }
}

/// A copy of a store failure, for the requests that waited for the lookup that met it.
fn same_failure(e: &Error) -> Error {
    match e {
        Error::Unavailable { dependency, reason } => Error::Unavailable {
            dependency: *dependency,
            reason: reason.clone(),
        },
        other => Error::Internal(other.to_string()),
    }
}
