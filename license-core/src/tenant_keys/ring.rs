//! [`TenantKeys`]: a replica's keys for the tenants it signs for. The hot path reads memory
//! only: a lease is signed with the tenant's current key, unwrapped once per replica. The
//! store is read, and the root and the wrapper called, only when a tenant is first seen, when
//! a key is made, and when another replica made or revoked one
//! ([`maintain`](crate::tenant_keys::maintain)).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::certificate::certify;
use super::published::TenantJwks;
use super::record::TenantKey;
use super::timeline::{CLOCK_SKEW, TenantKeyConfig, delta};
use super::wrap::{KeyWrapper, LocalKeyWrapper};
use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::error::{Dependency, Error, Resource, Result};
use crate::ids::TenantId;
use crate::local_signer::LocalSigner;
use crate::signer::{Jwks, Signer};
use crate::store::Store;

/// Counters the server exports as metrics.
#[derive(Debug, Default)]
pub struct TenantKeyStats {
    /// Tenant keys this replica made (each one root signature and one wrap).
    pub created: AtomicU64,
    /// Keys this replica unwrapped (each one wrapper call: KMS `decrypt` in production).
    pub unwrapped: AtomicU64,
    /// Successors this replica failed to make when due (the root or the store failed).
    pub rotation_failures: AtomicU64,
}

/// One tenant's keys as this replica holds them.
#[derive(Debug)]
pub(super) struct Ring {
    /// Unexpired keys, by generation.
    pub(super) keys: Vec<TenantKey>,
    /// Private halves of the keys that sign now or next, by `kid`.
    pub(super) signers: HashMap<String, Arc<LocalSigner>>,
    /// Whether this replica signs for the tenant (else the ring only serves its JWKS).
    pub(super) signs: bool,
    /// When this replica last signed for the tenant (Unix seconds): a tenant idle for a
    /// rotation is no longer rotated here, so idle tenants cost the root nothing.
    pub(super) last_used: AtomicI64,
}

/// Whether `key` signs at `now`: unrevoked and active, allowing for [`CLOCK_SKEW`].
fn signs_at(key: &TenantKey, now: DateTime<Utc>) -> bool {
    !key.is_revoked() && key.activates_at <= now + delta(CLOCK_SKEW)
}

impl Ring {
    /// The newest unrevoked key active at `now` whose certificate covers `expires`, if its
    /// private half is here.
    fn signer(&self, now: DateTime<Utc>, expires: DateTime<Utc>) -> Option<Arc<LocalSigner>> {
        self.keys
            .iter()
            .rev()
            .filter(|k| signs_at(k, now) && expires <= k.expires_at)
            .find_map(|k| self.signers.get(k.kid()).cloned())
    }

    /// The key signing at `now`: the newest unrevoked active one (its certificate may have
    /// expired, if the root could not certify a successor).
    pub(super) fn current(&self, now: DateTime<Utc>) -> Option<&TenantKey> {
        self.keys.iter().rev().find(|k| signs_at(k, now))
    }

    /// The newest unrevoked key, active or not.
    pub(super) fn newest(&self) -> Option<&TenantKey> {
        self.keys.iter().rev().find(|k| !k.is_revoked())
    }

    /// The ring without private halves: it only serves the tenant's key set.
    pub(super) fn demoted(&self) -> Ring {
        Ring {
            keys: self.keys.clone(),
            signers: HashMap::new(),
            signs: false,
            last_used: AtomicI64::new(self.last_used.load(Ordering::Relaxed)),
        }
    }

    pub(super) fn next_generation(&self) -> u32 {
        self.keys.iter().map(|k| k.generation).max().unwrap_or(0) + 1
    }

    fn published(&self, tenant: TenantId, now: DateTime<Utc>) -> TenantJwks {
        let live = self
            .keys
            .iter()
            .filter(|k| !k.is_revoked() && k.expires_at > now);
        let (keys, certificates) = live
            .map(|k| (k.public_jwk.clone(), k.certificate.clone()))
            .unzip();
        TenantJwks {
            tenant_id: tenant,
            keys,
            certificates,
        }
    }
}

/// Every tenant's signing keys, as one replica holds them. See the module docs.
pub struct TenantKeys {
    pub(super) root: Arc<dyn Signer>,
    pub(super) wrapper: Arc<dyn KeyWrapper>,
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) issuer: String,
    pub(super) config: TenantKeyConfig,
    pub(super) rings: moka::sync::Cache<TenantId, Arc<Ring>>,
    locks: moka::sync::Cache<TenantId, Arc<futures::lock::Mutex<()>>>,
    /// Where the last look for other replicas' changes started.
    pub(super) polled_from: std::sync::Mutex<DateTime<Utc>>,
    /// Unix seconds of the earliest certificate expiry among keys this replica signs with
    /// (`i64::MAX`: none), for readiness.
    pub(super) earliest_expiry: AtomicI64,
    /// Spreads the making of successors over replicas and tenants.
    pub(super) seed: u64,
    pub(super) stats: TenantKeyStats,
}

impl std::fmt::Debug for TenantKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantKeys")
            .field("root", &self.root)
            .field("wrapper", &self.wrapper)
            .field("config", &self.config)
            .field("tenants", &self.rings.entry_count())
            .finish_non_exhaustive()
    }
}

impl TenantKeys {
    /// Keys certified by `root`, protected at rest by `wrapper`, kept in `store`.
    pub fn new(
        root: Arc<dyn Signer>,
        wrapper: Arc<dyn KeyWrapper>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        issuer: impl Into<String>,
        config: TenantKeyConfig,
    ) -> Self {
        let started = clock.now();
        Self {
            root,
            wrapper,
            store,
            clock,
            issuer: issuer.into(),
            config,
            rings: moka::sync::Cache::new(config.capacity),
            locks: moka::sync::Cache::new(config.capacity),
            polled_from: std::sync::Mutex::new(started),
            earliest_expiry: AtomicI64::new(i64::MAX),
            seed: u64::from_le_bytes(
                uuid::Uuid::new_v4().as_bytes()[..8]
                    .try_into()
                    .unwrap_or_default(),
            ),
            stats: TenantKeyStats::default(),
        }
    }

    /// The root's public key: what `/.well-known/jwks.json` publishes and clients pin.
    pub fn root_jwks(&self) -> Jwks {
        Jwks {
            keys: vec![self.root.public_jwk()],
        }
    }

    /// Counters for metrics.
    pub fn stats(&self) -> &TenantKeyStats {
        &self.stats
    }

    /// The key that signs, now, `tenant`'s lease expiring at `expires`. Memory only, except
    /// the first time a tenant is seen on this replica and when no key can sign it (then one
    /// is made: one root signature, one wrap).
    pub async fn signer_for(
        &self,
        tenant: TenantId,
        expires: DateTime<Utc>,
    ) -> Result<Arc<LocalSigner>> {
        let now = self.clock.now();
        if let Some(ring) = self.rings.get(&tenant)
            && let Some(signer) = ring.signer(now, expires)
        {
            ring.last_used.store(now.timestamp(), Ordering::Relaxed);
            return Ok(signer);
        }
        let lock = self.lock_of(tenant);
        let _held = lock.lock().await;
        let now = self.clock.now();
        if let Some(signer) = self.rings.get(&tenant).and_then(|r| r.signer(now, expires)) {
            return Ok(signer);
        }
        // Twice at most: a conflict means another replica made the key; the second load
        // finds it.
        for _ in 0..2 {
            let ring = self.load(tenant, true).await?;
            if let Some(signer) = ring.signer(now, expires) {
                self.rings.insert(tenant, Arc::new(ring));
                return Ok(signer);
            }
            match self.create(tenant, ring.next_generation(), now, None).await {
                Ok((key, signer)) => {
                    self.install(tenant, ring, key, signer.clone());
                    return Ok(signer);
                }
                Err(Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::unavailable(
            Dependency::Signer,
            format!("tenant {tenant}'s signing key is being replaced by another replica"),
        ))
    }

    /// What the tenant's JWKS endpoint serves. Reads the store the first time a tenant is
    /// seen; never makes a key (a public request must not cost a root signature).
    pub async fn published(&self, tenant: TenantId) -> Result<TenantJwks> {
        let now = self.clock.now();
        if let Some(ring) = self.rings.get(&tenant) {
            return Ok(ring.published(tenant, now));
        }
        let ring = self.load(tenant, false).await?;
        if ring.keys.is_empty() {
            // Tell a missing tenant from one without keys yet, without caching either.
            self.store.get_tenant(tenant).await?;
            return Ok(ring.published(tenant, now));
        }
        let published = ring.published(tenant, now);
        self.rings.insert(tenant, Arc::new(ring));
        Ok(published)
    }

    /// The tenant's published keys for the server's own token checks.
    pub async fn tenant_jwks(&self, tenant: TenantId) -> Result<Jwks> {
        match self.published(tenant).await {
            Ok(published) => Ok(published.jwks()),
            Err(Error::NotFound(Resource::Tenant)) => Ok(Jwks::default()),
            Err(e) => Err(e),
        }
    }

    pub(super) fn lock_of(&self, tenant: TenantId) -> Arc<futures::lock::Mutex<()>> {
        self.locks
            .get_with(tenant, || Arc::new(futures::lock::Mutex::new(())))
    }

    /// Reads the tenant's keys; with `unwrap`, also holds the private halves of the keys that
    /// sign now or next (reusing the ones already held).
    pub(super) async fn load(&self, tenant: TenantId, unwrap: bool) -> Result<Ring> {
        let now = self.clock.now();
        let keys = self.store.tenant_keys(tenant, now).await?;
        let held = self.rings.get(&tenant);
        let mut signers = HashMap::new();
        if unwrap {
            let current = keys
                .iter()
                .filter(|k| signs_at(k, now))
                .map(|k| k.generation)
                .max()
                .unwrap_or(0);
            for key in keys
                .iter()
                .filter(|k| !k.is_revoked() && k.generation >= current)
            {
                if let Some(signer) = held.as_ref().and_then(|r| r.signers.get(key.kid())) {
                    signers.insert(key.kid().to_owned(), signer.clone());
                    continue;
                }
                match self.unwrap_key(key).await {
                    Ok(signer) => {
                        signers.insert(key.kid().to_owned(), Arc::new(signer));
                    }
                    Err(e @ Error::Unavailable { .. }) => return Err(e),
                    // Wrapped under another root, or damaged: a new key replaces it.
                    Err(e) => warn!(
                        tenant_id = %tenant, kid = key.kid(), error = %e,
                        "a tenant key cannot be unwrapped here; it will be replaced"
                    ),
                }
            }
        }
        let signs = unwrap || held.as_ref().is_some_and(|r| r.signs);
        let last_used = match held.as_ref().filter(|r| r.signs) {
            Some(held) => held.last_used.load(Ordering::Relaxed),
            None => now.timestamp(),
        };
        Ok(Ring {
            keys,
            signers,
            signs,
            last_used: AtomicI64::new(last_used),
        })
    }

    async fn unwrap_key(&self, key: &TenantKey) -> Result<LocalSigner> {
        if key.wrapped_by != self.wrapper.id() {
            return Err(Error::Internal(format!(
                "wrapped by {}, not by {}",
                key.wrapped_by,
                self.wrapper.id()
            )));
        }
        let pkcs8 = self
            .wrapper
            .unwrap(
                &key.wrapped_private_key,
                &wrap_context(key.tenant_id, key.kid()),
            )
            .await?;
        self.stats.unwrapped.fetch_add(1, Ordering::Relaxed);
        let signer = LocalSigner::from_pkcs8(key.algorithm(), &pkcs8)
            .map_err(|e| Error::Internal(format!("an unwrapped tenant key does not load: {e}")))?;
        if signer.key_id() != key.kid() {
            return Err(Error::Internal(
                "an unwrapped tenant key is not the key its record names".into(),
            ));
        }
        Ok(signer)
    }

    /// Makes, certifies, wraps and stores a key of `generation` activating at `activates_at`
    /// (published from now). `Conflict` when another replica made this generation first.
    pub(super) async fn create(
        &self,
        tenant: TenantId,
        generation: u32,
        activates_at: DateTime<Utc>,
        audit: Option<&AuditEvent>,
    ) -> Result<(TenantKey, Arc<LocalSigner>)> {
        let now = self.clock.now();
        let signer = LocalSigner::generate(self.config.algorithm)?;
        let public_jwk = signer.public_jwk();
        let (retires_at, expires_at) = self.config.schedule(activates_at);
        let certificate = certify(
            self.root.as_ref(),
            &self.issuer,
            tenant,
            &public_jwk,
            now,
            expires_at,
        )
        .await?;
        let wrapped_private_key = self
            .wrapper
            .wrap(&signer.to_pkcs8(), &wrap_context(tenant, &public_jwk.kid))
            .await?;
        let key = TenantKey {
            tenant_id: tenant,
            generation,
            public_jwk,
            certificate,
            wrapped_private_key,
            wrapped_by: self.wrapper.id().to_owned(),
            created_at: now,
            activates_at,
            retires_at,
            expires_at,
            revoked_at: None,
        };
        self.store.insert_tenant_key(&key, audit).await?;
        self.stats.created.fetch_add(1, Ordering::Relaxed);
        info!(tenant_id = %tenant, kid = key.kid(), generation, %activates_at, "made a tenant signing key");
        Ok((key, Arc::new(signer)))
    }

    /// Caches `ring` with a key this replica just made.
    pub(super) fn install(
        &self,
        tenant: TenantId,
        mut ring: Ring,
        key: TenantKey,
        signer: Arc<LocalSigner>,
    ) {
        ring.signers.insert(key.kid().to_owned(), signer);
        ring.keys.push(key);
        ring.keys.sort_by_key(|k| k.generation);
        if !ring.signs {
            ring.signs = true;
            ring.last_used = AtomicI64::new(self.clock.now().timestamp());
        }
        self.rings.insert(tenant, Arc::new(ring));
    }
}

/// What a wrapped key is bound to: its tenant and its id.
fn wrap_context(tenant: TenantId, kid: &str) -> Vec<u8> {
    format!("tenant-key:{tenant}:{kid}").into_bytes()
}

/// The wrapper [`LicenseService::new`](crate::LicenseService::new) uses until one is given:
/// keys wrapped by it die with the process, as an in-memory store's do.
pub(crate) fn ephemeral_wrapper() -> Arc<dyn KeyWrapper> {
    match LocalKeyWrapper::ephemeral() {
        Ok(wrapper) => Arc::new(wrapper),
        Err(e) => Arc::new(Unusable(e.to_string())),
    }
}

/// A wrapper that could not be made: every call says why.
#[derive(Debug)]
struct Unusable(String);

#[async_trait::async_trait]
impl KeyWrapper for Unusable {
    fn id(&self) -> &str {
        "unusable"
    }
    async fn wrap(&self, _: &[u8], _: &[u8]) -> Result<Vec<u8>> {
        Err(Error::Internal(self.0.clone()))
    }
    async fn unwrap(&self, _: &[u8], _: &[u8]) -> Result<Vec<u8>> {
        Err(Error::Internal(self.0.clone()))
    }
}
