//! Licenses cached per replica for a bounded time.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use crate::error::Result;
use crate::events::{EventSink, SeatEvent, SeatEventKind};
use crate::ids::{LicenseId, TenantId};
use crate::license::{License, LicenseKey};
use crate::store::LicenseStore;

/// Most licenses one replica keeps.
const CAPACITY: u64 = 100_000;

/// Licenses by id and by key, each entry kept at most the configured time. An admin change
/// made through this replica drops the entry at once (the cache is an [`EventSink`] for
/// `admin_change` events).
pub struct PolicyCache {
    /// Zero: every lookup goes to the store.
    enabled: bool,
    by_id: Cache<(TenantId, LicenseId), Arc<License>>,
    /// A license's key never changes, so this map needs no invalidation.
    by_key: Cache<(TenantId, LicenseKey), LicenseId>,
}

impl std::fmt::Debug for PolicyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyCache")
            .field("licenses", &self.by_id.entry_count())
            .finish()
    }
}

impl PolicyCache {
    /// A cache whose entries live at most `ttl` (zero: no caching).
    pub fn new(ttl: Duration) -> Self {
        Self {
            enabled: !ttl.is_zero(),
            by_id: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build(),
            by_key: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The license by id, from the cache or `store`.
    pub(crate) async fn by_id(
        &self,
        store: &dyn LicenseStore,
        tenant: TenantId,
        id: LicenseId,
    ) -> Result<Arc<License>> {
        if !self.enabled {
            return Ok(Arc::new(store.get_license(tenant, id).await?));
        }
        if let Some(license) = self.by_id.get(&(tenant, id)) {
            return Ok(license);
        }
        let license = Arc::new(store.get_license(tenant, id).await?);
        self.by_id.insert((tenant, id), license.clone());
        Ok(license)
    }

    /// The license by the key clients present, from the cache or `store`. Unknown keys are not
    /// cached (the cache holds real licenses only).
    pub(crate) async fn by_key(
        &self,
        store: &dyn LicenseStore,
        tenant: TenantId,
        key: &LicenseKey,
    ) -> Result<Arc<License>> {
        if !self.enabled {
            return Ok(Arc::new(store.find_license_by_key(tenant, key).await?));
        }
        let cache_key = (tenant, key.clone());
        if let Some(id) = self.by_key.get(&cache_key)
            && let Some(license) = self.by_id.get(&(tenant, id))
        {
            return Ok(license);
        }
        let license = Arc::new(store.find_license_by_key(tenant, key).await?);
        self.by_key.insert(cache_key, license.id);
        self.by_id.insert((tenant, license.id), license.clone());
        Ok(license)
    }

    /// Forgets a license (it changed).
    pub fn invalidate(&self, tenant: TenantId, id: LicenseId) {
        self.by_id.invalidate(&(tenant, id));
    }
}

impl EventSink for PolicyCache {
    fn emit(&self, event: &SeatEvent) {
        if let SeatEventKind::AdminChange { target, .. } = &event.kind
            && let Some(id) = target.strip_prefix("license:")
            && let Ok(id) = id.parse::<uuid::Uuid>()
        {
            self.invalidate(event.tenant_id, LicenseId::from_uuid(id));
        }
    }
}
