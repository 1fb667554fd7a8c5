//! The [`TenantKeyStore`](crate::store::TenantKeyStore) part of the store contract.

use chrono::{DateTime, TimeDelta, Utc};

use super::store::{audit, now, ok, tenant};
use crate::error::{Error, Resource};
use crate::ids::TenantId;
use crate::signer::Signer as _;
use crate::store::Store;
use crate::tenant_keys::TenantKey;
use crate::{LocalSigner, SigningAlgorithm};

fn key(tenant: TenantId, generation: u32, created_at: DateTime<Utc>) -> TenantKey {
    let signer = ok(LocalSigner::generate(SigningAlgorithm::EdDSA), "key");
    TenantKey {
        tenant_id: tenant,
        generation,
        public_jwk: signer.public_jwk(),
        certificate: format!("header.claims-{generation}.signature"),
        // Not zero-padded, with a zero byte: stored as bytes, not text.
        wrapped_private_key: vec![0, 1, 2, 255, generation as u8],
        wrapped_by: "local:root".into(),
        created_at,
        activates_at: created_at + TimeDelta::hours(12),
        retires_at: created_at + TimeDelta::hours(36),
        expires_at: created_at + TimeDelta::hours(60),
        revoked_at: None,
    }
}

/// Keys are per tenant, one per generation; revocation is idempotent and audited; expired
/// keys are not returned; changes are found by time.
pub(super) async fn tenant_keys(store: &dyn Store) {
    let a = tenant(store, "Keys A").await;
    let b = tenant(store, "Keys B").await;
    let t0 = now();
    let first = key(a.id, 1, t0);
    let second = key(a.id, 2, t0 + TimeDelta::hours(1));
    ok(store.insert_tenant_key(&second, None).await, "insert 2");
    let audited = audit(a.id, "signing_key.rotate", t0);
    ok(
        store.insert_tenant_key(&first, Some(&audited)).await,
        "insert 1",
    );
    assert!(
        ok(store.list_audit(a.id, 10).await, "audit")
            .iter()
            .any(|e| e.id == audited.id),
        "an administrator's key change is audited with it"
    );

    // By generation, exactly as written.
    let keys = ok(store.tenant_keys(a.id, t0).await, "tenant_keys");
    assert_eq!(keys, [first.clone(), second.clone()]);
    assert!(ok(store.tenant_keys(b.id, t0).await, "b's keys").is_empty());

    // One key per generation: the replica that loses the race gets a conflict.
    let rival = key(a.id, 2, t0);
    match store.insert_tenant_key(&rival, None).await {
        Err(Error::Conflict(_)) => {}
        other => panic!("a second key of generation 2 must conflict, got {other:?}"),
    }
    // Another tenant may use the same generation.
    ok(
        store.insert_tenant_key(&key(b.id, 2, t0), None).await,
        "b's 2",
    );
    match store
        .insert_tenant_key(&key(TenantId::new(), 1, t0), None)
        .await
    {
        Err(Error::NotFound(Resource::Tenant)) => {}
        other => panic!("a key of a missing tenant must be tenant not found, got {other:?}"),
    }

    // Expired certificates are not returned, except the newest key's: the next generation
    // follows it.
    let after_first = first.expires_at;
    assert_eq!(
        ok(store.tenant_keys(a.id, after_first).await, "later"),
        std::slice::from_ref(&second)
    );
    let after_both = second.expires_at + TimeDelta::hours(1);
    assert_eq!(
        ok(store.tenant_keys(a.id, after_both).await, "all expired"),
        std::slice::from_ref(&second)
    );

    // Changes since a time: creations, then revocations.
    let changed = ok(store.tenant_keys_changed_since(t0).await, "changed");
    assert!(
        changed.contains(&a.id) && changed.contains(&b.id),
        "{changed:?}"
    );
    let later = t0 + TimeDelta::hours(2);
    let quiet = ok(store.tenant_keys_changed_since(later).await, "quiet");
    assert!(!quiet.contains(&a.id), "{quiet:?}");

    let revoked_at = t0 + TimeDelta::hours(3);
    let revoke = audit(a.id, "signing_key.revoke", revoked_at);
    assert_eq!(
        ok(
            store.revoke_tenant_keys(a.id, 1, revoked_at, &revoke).await,
            "revoke"
        ),
        1
    );
    let keys = ok(store.tenant_keys(a.id, t0).await, "after revoke");
    assert_eq!(keys[0].revoked_at, Some(revoked_at));
    assert_eq!(keys[1].revoked_at, None, "only up to the generation given");
    let changed = ok(store.tenant_keys_changed_since(later).await, "revoked");
    assert!(
        changed.contains(&a.id) && !changed.contains(&b.id),
        "{changed:?}"
    );

    // Idempotent: a second revocation keeps the first time and counts only new ones.
    let again = audit(a.id, "signing_key.revoke", revoked_at + TimeDelta::hours(1));
    assert_eq!(
        ok(
            store
                .revoke_tenant_keys(a.id, 2, revoked_at + TimeDelta::hours(1), &again)
                .await,
            "revoke again"
        ),
        1
    );
    let keys = ok(store.tenant_keys(a.id, t0).await, "after second revoke");
    assert_eq!(keys[0].revoked_at, Some(revoked_at));
    assert_eq!(keys[1].revoked_at, Some(revoked_at + TimeDelta::hours(1)));
    assert!(
        ok(store.tenant_keys(b.id, t0).await, "b untouched")
            .iter()
            .all(|k| k.revoked_at.is_none()),
        "revoking one tenant's keys leaves another's"
    );
}
