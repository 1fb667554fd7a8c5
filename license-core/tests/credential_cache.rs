//! The API-key cache of `AdminService`: a cached key costs no store read, a revocation holds at
//! once on the service that made it and within the time-to-live on any other service sharing
//! the store, and made-up keys are bounded both in memory and in the store lookups they cause.
//! Two services over one store play two replicas; a counting store around the memory store
//! shows which checks reached it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use futures::channel::oneshot;
use license_core::memory::MemoryStore;
use license_core::*;

/// Pauses the next `find_api_key` after it has read: tells `entered`, waits for `release`.
type Gate = (oneshot::Sender<()>, oneshot::Receiver<()>);

/// The memory store, counting the API-key reads and writes the cache is meant to save.
#[derive(Debug, Default)]
struct CountingStore {
    inner: MemoryStore,
    finds: AtomicUsize,
    touches: AtomicUsize,
    gate: Mutex<Option<Gate>>,
    /// Makes `find_api_key` wait once for the executor, as a real store's network call does.
    yield_in_find: AtomicBool,
}

/// Pending once (waking itself at once), then ready: lets other futures run.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl CountingStore {
    fn finds(&self) -> usize {
        self.finds.load(Ordering::SeqCst)
    }

    fn touches(&self) -> usize {
        self.touches.load(Ordering::SeqCst)
    }
}

const TTL: Duration = Duration::from_secs(5);

/// Two services (replicas) over one counting store, one manual clock, and a tenant.
struct Replicas {
    clock: ManualClock,
    store: Arc<CountingStore>,
    a: AdminService,
    b: AdminService,
    tenant: TenantId,
}

fn replicas() -> Replicas {
    replicas_with(CredentialCacheConfig {
        ttl: TTL,
        ..CredentialCacheConfig::DEFAULT
    })
}

fn replicas_with(config: CredentialCacheConfig) -> Replicas {
    let clock = ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).unwrap());
    let store = Arc::new(CountingStore::default());
    let service =
        || AdminService::new(store.clone(), Arc::new(clock.clone())).with_credential_cache(config);
    let (a, b) = (service(), service());
    let tenant = futures::executor::block_on(a.create_tenant("Acme", &Actor::Operator))
        .unwrap()
        .id;
    Replicas {
        clock,
        store,
        a,
        b,
        tenant,
    }
}

impl Replicas {
    /// A new client key of `tenant`, created through replica A.
    async fn key(&self, tenant: TenantId) -> (ApiKey, ApiKeySecret) {
        self.a
            .create_api_key(tenant, "ci", vec![Scope::Client], &Actor::Operator)
            .await
            .unwrap()
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(TimeDelta::from_std(by).unwrap());
    }
}

/// Another secret with the same tenant and lookup prefix as `secret`.
fn same_prefix(secret: &ApiKeySecret) -> ApiKeySecret {
    let whole = secret.expose();
    let keep = whole.len() - 35;
    let forged = format!("{}{}", &whole[..keep], "A".repeat(35));
    assert_ne!(forged, whole);
    ApiKeySecret::parse(&forged).unwrap()
}

fn refused(result: Result<ApiKey>) -> bool {
    matches!(result, Err(Error::NotFound(Resource::ApiKey)))
}

fn limited(result: Result<ApiKey>) -> bool {
    matches!(
        result,
        Err(Error::Unavailable {
            dependency: Dependency::Store,
            ..
        })
    )
}

#[tokio::test]
async fn a_cached_key_costs_no_store_read() {
    let r = replicas();
    let (key, secret) = r.key(r.tenant).await;

    // A created the key: known from its first use.
    assert_eq!(
        r.a.authenticate_api_key(&secret, Scope::Client)
            .await
            .unwrap()
            .id,
        key.id
    );
    assert_eq!(r.store.finds(), 0);

    // B reads it once, then answers from its cache.
    for _ in 0..5 {
        r.b.authenticate_api_key(&secret, Scope::Client)
            .await
            .unwrap();
    }
    assert_eq!(r.store.finds(), 1);
    let stats = r.b.credential_cache_stats();
    assert_eq!((stats.lookups, stats.hits, stats.records), (1, 4, 1));

    // The scope is checked on every hit.
    assert!(refused(
        r.b.authenticate_api_key(&secret, Scope::Admin).await
    ));
    assert_eq!(r.store.finds(), 1);
}

#[tokio::test]
async fn concurrent_misses_of_one_key_share_one_store_read() {
    let r = replicas();
    let (_, secret) = r.key(r.tenant).await;
    r.store.yield_in_find.store(true, Ordering::SeqCst);
    // More requests than the miss budget (20), all at once on a replica that has not seen the key.
    let checks = (0..50).map(|_| r.b.authenticate_api_key(&secret, Scope::Client));
    for result in futures::future::join_all(checks).await {
        result.unwrap();
    }
    assert_eq!(r.store.finds(), 1);

    // Again when the record goes stale under load.
    r.advance(TTL);
    let checks = (0..50).map(|_| r.b.authenticate_api_key(&secret, Scope::Client));
    for result in futures::future::join_all(checks).await {
        result.unwrap();
    }
    assert_eq!(r.store.finds(), 2);
}

#[tokio::test]
async fn requests_waiting_for_a_failed_lookup_share_its_error() {
    let r = replicas();
    let (_, secret) = r.key(r.tenant).await;
    r.store.yield_in_find.store(true, Ordering::SeqCst);
    r.store.inner.set_unavailable(true);
    let checks = (0..10).map(|_| r.b.authenticate_api_key(&secret, Scope::Client));
    for result in futures::future::join_all(checks).await {
        assert!(matches!(
            result,
            Err(Error::Unavailable {
                dependency: Dependency::Store,
                ..
            })
        ));
    }
    assert_eq!(
        r.store.finds(),
        1,
        "one lookup met the outage, not ten in a row"
    );

    // The next request tries again.
    r.store.inner.set_unavailable(false);
    r.b.authenticate_api_key(&secret, Scope::Client)
        .await
        .unwrap();
    assert_eq!(r.store.finds(), 2);
}

#[tokio::test]
async fn the_right_secret_is_read_again_once_its_record_is_older_than_the_ttl() {
    let r = replicas();
    let (_, secret) = r.key(r.tenant).await;
    r.b.authenticate_api_key(&secret, Scope::Client)
        .await
        .unwrap();
    r.advance(TTL - Duration::from_millis(1));
    r.b.authenticate_api_key(&secret, Scope::Client)
        .await
        .unwrap();
    assert_eq!(r.store.finds(), 1, "still fresh");
    r.advance(Duration::from_millis(1));
    r.b.authenticate_api_key(&secret, Scope::Client)
        .await
        .unwrap();
    assert_eq!(r.store.finds(), 2, "read again at the ttl");
    r.b.authenticate_api_key(&secret, Scope::Client)
        .await
        .unwrap();
    assert_eq!(r.store.finds(), 2, "and cached again");
}

#[tokio::test]
async fn use_is_recorded_at_most_once_a_minute_without_a_read() {
    let r = replicas_with(CredentialCacheConfig {
        ttl: Duration::from_secs(300),
        ..CredentialCacheConfig::DEFAULT
    });
    let (key, secret) = r.key(r.tenant).await;
    r.b.authenticate_api_key(&secret, Scope::Client)
        .await
        .unwrap();
    assert_eq!((r.store.finds(), r.store.touches()), (1, 1));
    r.advance(Duration::from_secs(30));
    r.b.authenticate_api_key(&secret, Scope::Client)
        .await
        .unwrap();
    assert_eq!(r.store.touches(), 1);
    r.advance(Duration::from_secs(31));
    r.b.authenticate_api_key(&secret, Scope::Client)
        .await
        .unwrap();
    assert_eq!(
        (r.store.finds(), r.store.touches()),
        (1, 2),
        "a write, no read"
    );
    let stored = r.store.list_api_keys(r.tenant).await.unwrap();
    let stored = stored.iter().find(|k| k.id == key.id).unwrap();
    assert_eq!(stored.last_used_at, Some(r.clock.now()));
}

#[tokio::test]
async fn a_wrong_secret_with_a_known_prefix_is_refused_without_the_store() {
    let r = replicas();
    let (_, secret) = r.key(r.tenant).await;
    r.b.authenticate_api_key(&secret, Scope::Client)
        .await
        .unwrap();
    let forged = same_prefix(&secret);
    assert!(refused(
        r.b.authenticate_api_key(&forged, Scope::Client).await
    ));
    // A key's hash never changes: even a stale record refuses another secret.
    r.advance(TTL * 2);
    assert!(refused(
        r.b.authenticate_api_key(&forged, Scope::Client).await
    ));
    assert_eq!(r.store.finds(), 1);
}

#[tokio::test]
async fn a_revoked_key_fails_at_once_on_the_service_that_revoked_it() {
    let r = replicas();
    let (key, secret) = r.key(r.tenant).await;
    r.a.authenticate_api_key(&secret, Scope::Client)
        .await
        .unwrap();
    r.a.revoke_api_key(r.tenant, key.id, &Actor::Operator)
        .await
        .unwrap();
    assert!(refused(
        r.a.authenticate_api_key(&secret, Scope::Client).await
    ));
    assert_eq!(r.store.finds(), 0, "refused from the cache");
}

#[tokio::test]
async fn another_service_sees_a_revocation_within_the_ttl() {
    let r = replicas();
    let (key, secret) = r.key(r.tenant).await;
    r.b.authenticate_api_key(&secret, Scope::Client)
        .await
        .unwrap();
    r.a.revoke_api_key(r.tenant, key.id, &Actor::Operator)
        .await
        .unwrap();
    // The documented window: B trusts its record for the ttl after reading it…
    r.b.authenticate_api_key(&secret, Scope::Client)
        .await
        .unwrap();
    r.advance(TTL - Duration::from_millis(1));
    r.b.authenticate_api_key(&secret, Scope::Client)
        .await
        .unwrap();
    // …and no longer.
    r.advance(Duration::from_millis(1));
    assert!(refused(
        r.b.authenticate_api_key(&secret, Scope::Client).await
    ));
    // Revocation is final: B now refuses from its cache.
    r.advance(TTL * 10);
    let finds = r.store.finds();
    assert!(refused(
        r.b.authenticate_api_key(&secret, Scope::Client).await
    ));
    assert_eq!(r.store.finds(), finds);
}

#[tokio::test]
async fn a_revocation_during_a_lookup_does_not_leave_the_old_record_cached() {
    let r = replicas();
    let (key, secret) = r.key(r.tenant).await;
    let (entered_tx, entered_rx) = oneshot::channel();
    let (release_tx, release_rx) = oneshot::channel();
    *r.store.gate.lock().unwrap() = Some((entered_tx, release_rx));

    // B reads the record while it is valid and is held before caching it…
    let in_flight = r.b.authenticate_api_key(&secret, Scope::Client);
    let revoke = async {
        entered_rx.await.unwrap();
        // …while B itself revokes the key…
        r.b.revoke_api_key(r.tenant, key.id, &Actor::Operator)
            .await
            .unwrap();
        release_tx.send(()).unwrap();
    };
    let (result, ()) = futures::join!(in_flight, revoke);
    // The request that was already in flight may pass; the next one may not.
    result.unwrap();
    assert!(refused(
        r.b.authenticate_api_key(&secret, Scope::Client).await
    ));
}

#[tokio::test]
async fn made_up_keys_never_become_records_and_their_memory_is_bounded() {
    let r = replicas_with(CredentialCacheConfig {
        ttl: TTL,
        capacity: 50,
        miss_lookups_per_second: NonZeroU32::new(100_000).unwrap(),
    });
    let (_, secret) = r.key(r.tenant).await;
    r.b.authenticate_api_key(&secret, Scope::Client)
        .await
        .unwrap();
    let garbage: Vec<_> = (0..300)
        .map(|_| ApiKeySecret::generate(r.tenant).unwrap())
        .collect();
    for bad in &garbage {
        assert!(refused(r.b.authenticate_api_key(bad, Scope::Client).await));
    }
    let stats = r.b.credential_cache_stats();
    assert_eq!(stats.records, 1, "only the real key is a record");
    assert!(stats.missing <= 50, "{stats:?}");
    assert_eq!(r.store.finds(), 301);
}

#[tokio::test]
async fn a_wrong_key_retried_reaches_the_store_once_per_ttl() {
    let r = replicas();
    let wrong = ApiKeySecret::generate(r.tenant).unwrap();
    for _ in 0..10 {
        assert!(refused(
            r.b.authenticate_api_key(&wrong, Scope::Client).await
        ));
    }
    assert_eq!(r.store.finds(), 1);
    r.advance(TTL);
    assert!(refused(
        r.b.authenticate_api_key(&wrong, Scope::Client).await
    ));
    assert_eq!(r.store.finds(), 2);
}

#[tokio::test]
async fn an_unknown_key_is_identified_with_at_most_one_store_read_even_without_a_cache() {
    // The server asks once whatever the scopes (401 or 403): a key no one made costs one
    // read, then none while the cache remembers it missing…
    let r = replicas();
    let made_up = ApiKeySecret::generate(r.tenant).unwrap();
    for _ in 0..10 {
        assert!(refused(r.b.identify_api_key(&made_up).await));
    }
    assert_eq!((r.store.finds(), r.store.touches()), (1, 0));

    // …and without a cache, one read per request, not one per scope.
    let r = replicas_with(CredentialCacheConfig {
        ttl: Duration::ZERO,
        ..CredentialCacheConfig::DEFAULT
    });
    let made_up = ApiKeySecret::generate(r.tenant).unwrap();
    for _ in 0..3 {
        assert!(refused(r.b.identify_api_key(&made_up).await));
    }
    assert_eq!(r.store.finds(), 3);
}

#[tokio::test]
async fn a_key_is_identified_whatever_its_scopes_and_a_revoked_one_is_not() {
    let r = replicas();
    let (key, secret) = r.key(r.tenant).await;
    assert_eq!(r.b.identify_api_key(&secret).await.unwrap().id, key.id);
    assert!(refused(
        r.b.authenticate_api_key(&secret, Scope::Admin).await
    ));
    assert!(refused(r.b.identify_api_key(&same_prefix(&secret)).await));
    r.b.revoke_api_key(r.tenant, key.id, &Actor::Operator)
        .await
        .unwrap();
    assert!(refused(r.b.identify_api_key(&secret).await));
    assert_eq!(r.store.finds(), 1);
}

#[test]
fn malformed_keys_never_become_secrets_so_no_check_can_reach_the_store() {
    let tenant = uuid::Uuid::now_v7().simple().to_string();
    let good = format!("lk_{tenant}_{}", "A".repeat(43));
    assert!(ApiKeySecret::parse(&good).is_ok());
    for bad in [
        format!("LK_{tenant}_{}", "A".repeat(43)),
        format!("lk-{tenant}_{}", "A".repeat(43)),
        format!("lk_{tenant}_{}", "A".repeat(42)),
        format!("lk_{tenant}_{}", "A".repeat(44)),
        format!("lk_{tenant}_{}+", "A".repeat(42)),
        format!("lk_{tenant}_{}=", "A".repeat(42)),
        format!("lk_not-a-tenant_{}", "A".repeat(43)),
        format!("lk_{tenant}{}", "A".repeat(43)),
        "lk_".to_owned(),
        String::new(),
    ] {
        assert!(ApiKeySecret::parse(&bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn misses_over_a_tenants_budget_are_unavailable_and_spare_other_tenants() {
    let r = replicas_with(CredentialCacheConfig {
        ttl: TTL,
        capacity: 1000,
        miss_lookups_per_second: NonZeroU32::new(3).unwrap(),
    });
    let (_, acme_key) = r.key(r.tenant).await;
    let other =
        r.a.create_tenant("Other", &Actor::Operator)
            .await
            .unwrap()
            .id;
    let (_, other_key) = r.key(other).await;
    // B knows Acme from now on (one lookup from the strangers' budget).
    r.b.authenticate_api_key(&acme_key, Scope::Client)
        .await
        .unwrap();

    // Acme's budget: three lookups, then refused without the store.
    let finds = r.store.finds();
    let garbage: Vec<_> = (0..6)
        .map(|_| ApiKeySecret::generate(r.tenant).unwrap())
        .collect();
    let outcomes: Vec<_> = futures::future::join_all(
        garbage
            .iter()
            .map(|bad| r.b.authenticate_api_key(bad, Scope::Client)),
    )
    .await;
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Err(Error::NotFound(_))))
            .count(),
        3
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Err(Error::Unavailable { .. })))
            .count(),
        3
    );
    assert_eq!(r.store.finds(), finds + 3);
    assert_eq!(r.b.credential_cache_stats().limited, 3);

    // Acme's cached key still works, and another tenant's lookups are untouched.
    r.b.authenticate_api_key(&acme_key, Scope::Client)
        .await
        .unwrap();
    r.b.authenticate_api_key(&other_key, Scope::Client)
        .await
        .unwrap();

    // The budget refills with time.
    assert!(limited(
        r.b.authenticate_api_key(&ApiKeySecret::generate(r.tenant).unwrap(), Scope::Client)
            .await
    ));
    r.advance(Duration::from_secs(1));
    assert!(refused(
        r.b.authenticate_api_key(&ApiKeySecret::generate(r.tenant).unwrap(), Scope::Client)
            .await
    ));
}

#[tokio::test]
async fn tenants_a_replica_does_not_know_share_one_budget() {
    let r = replicas_with(CredentialCacheConfig {
        ttl: TTL,
        capacity: 1000,
        miss_lookups_per_second: NonZeroU32::new(3).unwrap(),
    });
    let (_, acme_key) = r.key(r.tenant).await;
    r.b.authenticate_api_key(&acme_key, Scope::Client)
        .await
        .unwrap();
    let (_, acme_second) = r.key(r.tenant).await;

    // Made-up tenant ids: each is a stranger, all share one budget (one spent on Acme above).
    let mut outcomes = Vec::new();
    for _ in 0..10 {
        let bad = ApiKeySecret::generate(TenantId::new()).unwrap();
        outcomes.push(r.b.authenticate_api_key(&bad, Scope::Client).await);
    }
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Err(Error::NotFound(_))))
            .count(),
        2
    );
    assert!(outcomes.into_iter().skip(2).all(limited));

    // Acme is known: its new key is looked up on its own budget.
    r.b.authenticate_api_key(&acme_second, Scope::Client)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_zero_ttl_reads_the_store_on_every_request() {
    let r = replicas_with(CredentialCacheConfig {
        ttl: Duration::ZERO,
        ..CredentialCacheConfig::DEFAULT
    });
    let (key, secret) = r.key(r.tenant).await;
    for _ in 0..3 {
        r.b.authenticate_api_key(&secret, Scope::Client)
            .await
            .unwrap();
    }
    assert_eq!(r.store.finds(), 3);
    r.a.revoke_api_key(r.tenant, key.id, &Actor::Operator)
        .await
        .unwrap();
    assert!(refused(
        r.b.authenticate_api_key(&secret, Scope::Client).await
    ));
}

// --- the counting store: the memory store, counting `find_api_key` and `touch_api_key` ---

#[async_trait]
impl ApiKeyStore for CountingStore {
    async fn create_api_key(&self, k: &ApiKey, q: &TenantQuotas, a: &AuditEvent) -> Result<()> {
        self.inner.create_api_key(k, q, a).await
    }
    async fn find_api_key(&self, t: TenantId, p: &str) -> Result<ApiKey> {
        self.finds.fetch_add(1, Ordering::SeqCst);
        if self.yield_in_find.load(Ordering::SeqCst) {
            YieldOnce(false).await;
        }
        let found = self.inner.find_api_key(t, p).await;
        let gate = self.gate.lock().unwrap().take();
        if let Some((entered, release)) = gate {
            entered.send(()).unwrap();
            release.await.unwrap();
        }
        found
    }
    async fn list_api_keys(&self, t: TenantId) -> Result<Vec<ApiKey>> {
        self.inner.list_api_keys(t).await
    }
    async fn revoke_api_key(
        &self,
        t: TenantId,
        id: ApiKeyId,
        at: DateTime<Utc>,
        a: &AuditEvent,
    ) -> Result<()> {
        self.inner.revoke_api_key(t, id, at, a).await
    }
    async fn touch_api_key(&self, t: TenantId, id: ApiKeyId, at: DateTime<Utc>) -> Result<()> {
        self.touches.fetch_add(1, Ordering::SeqCst);
        self.inner.touch_api_key(t, id, at).await
    }
}

#[async_trait]
impl LicenseStore for CountingStore {
    async fn create_tenant(&self, t: &Tenant, a: &AuditEvent) -> Result<()> {
        self.inner.create_tenant(t, a).await
    }
    async fn get_tenant(&self, id: TenantId) -> Result<Tenant> {
        self.inner.get_tenant(id).await
    }
    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.inner.list_tenants().await
    }
    async fn create_license(&self, l: &License, q: &TenantQuotas, a: &AuditEvent) -> Result<()> {
        self.inner.create_license(l, q, a).await
    }
    async fn get_license(&self, t: TenantId, id: LicenseId) -> Result<License> {
        self.inner.get_license(t, id).await
    }
    async fn find_license_by_key(&self, t: TenantId, k: &LicenseKey) -> Result<License> {
        self.inner.find_license_by_key(t, k).await
    }
    async fn list_licenses(&self, t: TenantId, p: Page<LicenseId>) -> Result<Vec<License>> {
        self.inner.list_licenses(t, p).await
    }
    async fn update_license(&self, l: &License, q: &TenantQuotas, a: &AuditEvent) -> Result<()> {
        self.inner.update_license(l, q, a).await
    }
    async fn tenant_usage_totals(&self, t: TenantId) -> Result<TenantUsage> {
        self.inner.tenant_usage_totals(t).await
    }
}

#[async_trait]
impl SessionStore for CountingStore {
    async fn mark_overdraft(&self, t: TenantId, id: SessionId) -> Result<()> {
        self.inner.mark_overdraft(t, id).await
    }
    async fn end_linger(&self, t: TenantId, id: SessionId, at: DateTime<Utc>) -> Result<()> {
        self.inner.end_linger(t, id, at).await
    }
    async fn lingering_sessions(
        &self,
        t: TenantId,
        l: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        self.inner.lingering_sessions(t, l, now).await
    }
    async fn held_off_sessions(
        &self,
        t: TenantId,
        l: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        self.inner.held_off_sessions(t, l, now).await
    }
    async fn borrowed_sessions_page(
        &self,
        t: TenantId,
        l: LicenseId,
        now: DateTime<Utc>,
        p: Page<SessionCursor>,
    ) -> Result<Vec<Session>> {
        self.inner.borrowed_sessions_page(t, l, now, p).await
    }
    async fn overdraft_sessions(
        &self,
        t: TenantId,
        l: LicenseId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        self.inner.overdraft_sessions(t, l, from, to).await
    }

    async fn insert_session(&self, s: &Session, in_use: u32) -> Result<()> {
        self.inner.insert_session(s, in_use).await
    }
    async fn get_session(&self, t: TenantId, id: SessionId) -> Result<Session> {
        self.inner.get_session(t, id).await
    }
    async fn live_sessions(
        &self,
        t: TenantId,
        l: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        self.inner.live_sessions(t, l, now).await
    }
    async fn live_sessions_page(
        &self,
        t: TenantId,
        l: LicenseId,
        now: DateTime<Utc>,
        p: Page<SessionCursor>,
    ) -> Result<Vec<Session>> {
        self.inner.live_sessions_page(t, l, now, p).await
    }
    async fn delete_ended_sessions(
        &self,
        t: TenantId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64> {
        self.inner.delete_ended_sessions(t, before, limit).await
    }
    async fn discard_session(&self, t: TenantId, id: SessionId) -> Result<()> {
        self.inner.discard_session(t, id).await
    }
    async fn flush_write_behind(&self, batch: &WriteBehindBatch) -> Result<()> {
        self.inner.flush_write_behind(batch).await
    }
    async fn end_session(
        &self,
        t: TenantId,
        id: SessionId,
        end: &SessionEnd,
        a: Option<&AuditEvent>,
    ) -> Result<Ended> {
        self.inner.end_session(t, id, end, a).await
    }
    async fn set_session_secret(
        &self,
        t: TenantId,
        id: SessionId,
        hash: &SessionSecretHash,
    ) -> Result<()> {
        self.inner.set_session_secret(t, id, hash).await
    }
    async fn expire_due(
        &self,
        t: TenantId,
        l: LicenseId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Session>> {
        self.inner.expire_due(t, l, before, limit).await
    }
    async fn record_denial(&self, t: TenantId, l: LicenseId, at: DateTime<Utc>) -> Result<()> {
        self.inner.record_denial(t, l, at).await
    }
    async fn usage(
        &self,
        t: TenantId,
        l: LicenseId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<UsageDay>> {
        self.inner.usage(t, l, from, to).await
    }
}

#[async_trait]
impl AuditLog for CountingStore {
    async fn append_audit(&self, e: &AuditEvent) -> Result<()> {
        self.inner.append_audit(e).await
    }
    async fn list_audit(&self, t: TenantId, limit: u32) -> Result<Vec<AuditEvent>> {
        self.inner.list_audit(t, limit).await
    }
}

#[async_trait]
impl license_core::TenantKeyStore for CountingStore {
    async fn tenant_keys(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
    ) -> Result<Vec<license_core::TenantKey>> {
        self.inner.tenant_keys(t, now).await
    }
    async fn insert_tenant_key(
        &self,
        k: &license_core::TenantKey,
        a: Option<&AuditEvent>,
    ) -> Result<()> {
        self.inner.insert_tenant_key(k, a).await
    }
    async fn revoke_tenant_keys(
        &self,
        t: TenantId,
        g: u32,
        at: DateTime<Utc>,
        a: &AuditEvent,
    ) -> Result<u32> {
        self.inner.revoke_tenant_keys(t, g, at, a).await
    }
    async fn tenant_keys_changed_since(&self, since: DateTime<Utc>) -> Result<Vec<TenantId>> {
        self.inner.tenant_keys_changed_since(since).await
    }
}

#[async_trait]
impl license_core::event_log::EventLogStore for CountingStore {
    async fn append_events(
        &self,
        t: TenantId,
        e: Vec<license_core::event_log::NewLogEntry>,
    ) -> Result<u64> {
        self.inner.append_events(t, e).await
    }
    async fn read_events(
        &self,
        t: TenantId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<license_core::event_log::LogEntry>> {
        self.inner.read_events(t, after, limit).await
    }
    async fn log_cut(&self, t: TenantId) -> Result<Option<license_core::log_retention::LogCut>> {
        self.inner.log_cut(t).await
    }
    async fn trim_events(
        &self,
        t: TenantId,
        previous: Option<u64>,
        cut: &license_core::log_retention::LogCut,
        days: &[license_core::log_retention::KeptDay],
    ) -> Result<u64> {
        self.inner.trim_events(t, previous, cut, days).await
    }
    async fn kept_days(
        &self,
        t: TenantId,
        l: LicenseId,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<license_core::log_retention::KeptDay>> {
        self.inner.kept_days(t, l, from, to).await
    }
}

#[async_trait]
impl license_core::webhooks::WebhookStore for CountingStore {
    async fn create_webhook(
        &self,
        e: &license_core::webhooks::WebhookEndpoint,
        a: &AuditEvent,
    ) -> Result<license_core::webhooks::WebhookEndpoint> {
        self.inner.create_webhook(e, a).await
    }
    async fn get_webhook(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
    ) -> Result<license_core::webhooks::WebhookEndpoint> {
        self.inner.get_webhook(t, id).await
    }
    async fn list_webhooks(
        &self,
        t: TenantId,
    ) -> Result<Vec<license_core::webhooks::WebhookEndpoint>> {
        self.inner.list_webhooks(t).await
    }
    async fn update_webhook(
        &self,
        e: &license_core::webhooks::WebhookEndpoint,
        with_state: bool,
        a: &AuditEvent,
    ) -> Result<()> {
        self.inner.update_webhook(e, with_state, a).await
    }
    async fn delete_webhook(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        a: &AuditEvent,
    ) -> Result<()> {
        self.inner.delete_webhook(t, id, a).await
    }
    async fn claim_due_webhooks(
        &self,
        c: &license_core::webhooks::WebhookClaim,
        limit: u32,
    ) -> Result<Vec<license_core::webhooks::WebhookEndpoint>> {
        self.inner.claim_due_webhooks(c, limit).await
    }
    async fn record_webhook_progress(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        by: &str,
        cursor: u64,
        d: Option<&license_core::webhooks::Delivery>,
    ) -> Result<()> {
        self.inner
            .record_webhook_progress(t, id, by, cursor, d)
            .await
    }
    async fn record_webhook_failure(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        by: &str,
        f: &license_core::webhooks::DeliveryFailure,
    ) -> Result<()> {
        self.inner.record_webhook_failure(t, id, by, f).await
    }
    async fn release_webhook_claim(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        by: &str,
    ) -> Result<()> {
        self.inner.release_webhook_claim(t, id, by).await
    }
    async fn list_webhook_deliveries(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        limit: u32,
    ) -> Result<Vec<license_core::webhooks::Delivery>> {
        self.inner.list_webhook_deliveries(t, id, limit).await
    }
    async fn rotate_webhook_secret(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        secret: &license_core::webhooks::WebhookSecret,
        until: DateTime<Utc>,
        a: &AuditEvent,
    ) -> Result<license_core::webhooks::WebhookEndpoint> {
        self.inner
            .rotate_webhook_secret(t, id, secret, until, a)
            .await
    }
    async fn prune_webhook_deliveries(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64> {
        self.inner
            .prune_webhook_deliveries(t, id, before, limit)
            .await
    }
    async fn redeliver_webhook(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        from: u64,
        a: &AuditEvent,
    ) -> Result<()> {
        self.inner.redeliver_webhook(t, id, from, a).await
    }
}

#[async_trait]
impl QueueTicketStore for CountingStore {
    async fn record_ticket(&self, t: &QueueTicket) -> Result<()> {
        self.inner.record_ticket(t).await
    }
    async fn delete_ticket(&self, t: TenantId, ticket: SessionId) -> Result<bool> {
        self.inner.delete_ticket(t, ticket).await
    }
    async fn live_tickets(
        &self,
        t: TenantId,
        l: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueueTicket>> {
        self.inner.live_tickets(t, l, now).await
    }
    async fn delete_expired_tickets(
        &self,
        t: TenantId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64> {
        self.inner.delete_expired_tickets(t, before, limit).await
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
}
