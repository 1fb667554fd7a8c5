//! Tenant signing key behaviours beyond the core contract, on both backends.

use chrono::{DateTime, TimeDelta, Utc};
use license_core::{Error, PublicJwk, Store, TenantId, TenantKey};

use super::{audit, now, tenant};

/// A key whose `kid` is determined by `seed`.
pub fn key(tenant: TenantId, generation: u32, seed: u8, created_at: DateTime<Utc>) -> TenantKey {
    TenantKey {
        tenant_id: tenant,
        generation,
        public_jwk: PublicJwk::ed25519(&[seed; 32]),
        certificate: format!("h.c{generation}.s"),
        wrapped_private_key: vec![0, seed, 0, 255],
        wrapped_by: "local:test".into(),
        created_at,
        activates_at: created_at,
        retires_at: created_at + TimeDelta::hours(1),
        expires_at: created_at + TimeDelta::hours(2),
        revoked_at: None,
    }
}

/// A `kid` is unique across tenants (token headers name a key by `kid` alone); the losing
/// insert stores neither the key nor its audit event.
pub async fn a_kid_is_taken_across_tenants(store: &dyn Store) {
    let a = tenant(store).await;
    let b = tenant(store).await;
    let t = now();
    store
        .insert_tenant_key(&key(a.id, 1, 7, t), None)
        .await
        .unwrap();
    let before = store.list_audit(b.id, 100).await.unwrap().len();
    let event = audit(b.id, "signing_key.rotate");
    match store
        .insert_tenant_key(&key(b.id, 1, 7, t), Some(&event))
        .await
    {
        Err(Error::Conflict(message)) => {
            assert!(!message.contains("tenant_signing_keys"), "{message:?}");
        }
        other => panic!("a taken kid must conflict, got {other:?}"),
    }
    assert!(store.tenant_keys(b.id, t).await.unwrap().is_empty());
    assert_eq!(store.list_audit(b.id, 100).await.unwrap().len(), before);
}

/// Key times keep microseconds, and expiry compares at that precision.
pub async fn key_times_keep_microseconds(store: &dyn Store) {
    let a = tenant(store).await;
    let base = now();
    let mut k = key(a.id, 1, 8, base);
    k.expires_at = base + TimeDelta::nanoseconds(123_456_789);
    store.insert_tenant_key(&k, None).await.unwrap();
    // A newer key, so the first is not kept back as the newest.
    store
        .insert_tenant_key(&key(a.id, 2, 9, base), None)
        .await
        .unwrap();
    let just_before = base + TimeDelta::microseconds(123_455);
    let got = store.tenant_keys(a.id, just_before).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].expires_at, base + TimeDelta::microseconds(123_456));
    let at_expiry = base + TimeDelta::microseconds(123_456);
    let later = store.tenant_keys(a.id, at_expiry).await.unwrap();
    assert_eq!(later.iter().map(|k| k.generation).collect::<Vec<_>>(), [2]);
}

/// Every tenant key behaviour, in turn.
pub async fn all(store: &dyn Store) {
    a_kid_is_taken_across_tenants(store).await;
    key_times_keep_microseconds(store).await;
}
