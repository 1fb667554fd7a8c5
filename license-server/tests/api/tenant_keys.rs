//! Tenant signing keys over HTTP: each tenant's leases verify only with its own key set,
//! pinned to the root; replicas share a tenant's key; an administrator's rotation revokes a
//! leaked key everywhere.

use license_core::TokenError;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_replica_of};

fn kid(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    value["kid"].as_str().unwrap().to_owned()
}

/// The finding, reproduced and closed: tenant B sets rich entitlements and a long TTL
/// on its own license and acquires with the hardware id of A's customer; A's application,
/// pinned to the root and reading A's key set, refuses the lease.
#[tokio::test]
async fn a_lease_of_tenant_b_fails_with_tenant_a_s_keys() {
    let app = spawn_app().await;
    let a = app
        .fixture_with(
            "Vendor A",
            json!({ "product": "CAD", "seats_total": 2, "entitlements": ["pro"] }),
        )
        .await;
    let b = app
        .fixture_with(
            "Vendor B",
            json!({ "product": "Other", "seats_total": 2, "entitlements": ["pro", "enterprise"],
                    "ttl_seconds": 86400, "heartbeat_interval_seconds": 3600 }),
        )
        .await;
    let a_lease = app
        .acquire(&a.client, &a.license_key, "customer-ws-1")
        .await
        .expect(200);
    let b_lease = app
        .acquire(&b.client, &b.license_key, "customer-ws-1")
        .await
        .expect(200);

    let for_a = app.pinned_verifier(&a.tenant_id).await;
    let claims = for_a
        .verify(&a_lease.str("token"), app.clock_now())
        .unwrap();
    assert_eq!(claims.tid.to_string(), a.tenant_id);
    assert!(matches!(
        for_a.verify(&b_lease.str("token"), app.clock_now()),
        Err(TokenError::UnknownKey(_))
    ));
    // The sets share nothing, and each lists only its tenant's key.
    let set_a = app.tenant_jwks(&a.tenant_id).await.expect(200);
    let set_b = app.tenant_jwks(&b.tenant_id).await.expect(200);
    assert_eq!(set_a.body["tenant_id"], a.tenant_id.as_str());
    assert_eq!(set_a.body["keys"].as_array().unwrap().len(), 1);
    assert_eq!(set_a.body["certificates"].as_array().unwrap().len(), 1);
    assert_ne!(set_a.body["keys"][0]["kid"], set_b.body["keys"][0]["kid"]);
    assert_eq!(
        kid(&b_lease.str("token")),
        set_b.body["keys"][0]["kid"].as_str().unwrap()
    );
    assert_eq!(set_a.headers["cache-control"], "public, max-age=300");
    // The root signs no lease: no lease's kid is in the root set.
    let roots = app.jwks().await.expect(200);
    assert_ne!(roots.body["keys"][0]["kid"], set_a.body["keys"][0]["kid"]);
    // The server's own validation of B's token for A answers like a missing session.
    app.validate(&a.client, &b_lease.str("token"))
        .await
        .expect_error(404, "session_not_found");
}

#[tokio::test]
async fn the_key_set_of_a_missing_tenant_is_404_and_a_bad_id_400() {
    let app = spawn_app().await;
    app.tenant_jwks("0196a2b4-0000-7000-8000-000000000000")
        .await
        .expect_error(404, "tenant_not_found");
    let bad = app.tenant_jwks("not-a-uuid").await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    // A tenant before its first lease has an empty set (a public request makes no key).
    let a = app.fixture("Vendor A", 1).await;
    let empty = app.tenant_jwks(&a.tenant_id).await.expect(200);
    assert!(empty.body["keys"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn replicas_sign_a_tenant_s_leases_with_one_key() {
    let first = spawn_app().await;
    let second = spawn_replica_of(&first, |_| {}).await;
    let a = first.fixture("Vendor A", 2).await;
    let lease = first
        .acquire(&a.client, &a.license_key, "ws-1")
        .await
        .expect(200);
    let beat = second
        .heartbeat(&a.client, &lease.str("session_id"))
        .await
        .expect(200);
    assert_eq!(kid(&lease.str("token")), kid(&beat.str("token")));
    let verifier = second.pinned_verifier(&a.tenant_id).await;
    verifier
        .verify(&beat.str("token"), second.clock_now())
        .unwrap();
}

#[tokio::test]
async fn an_admin_rotation_revokes_a_leaked_key_on_every_replica() {
    let first = spawn_app().await;
    let second = spawn_replica_of(&first, |_| {}).await;
    let a = first.fixture("Vendor A", 2).await;
    let lease = first
        .acquire(&a.client, &a.license_key, "ws-1")
        .await
        .expect(200);
    second
        .heartbeat(&a.client, &lease.str("session_id"))
        .await
        .expect(200);
    let leaked = kid(&lease.str("token"));

    // Client keys may not; the tenant's admin may.
    first
        .rotate_signing_key(&a.client, true)
        .await
        .expect_error(403, "forbidden");
    let rotated = first.rotate_signing_key(&a.admin, true).await.expect(201);
    assert_eq!(rotated.body["generation"], 2);
    let new_kid = rotated.body["kid"].as_str().unwrap().to_owned();

    let set = first.tenant_jwks(&a.tenant_id).await.expect(200);
    let kids: Vec<&str> = set.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        kids,
        [new_kid.as_str()],
        "the leaked key is no longer published"
    );
    let verifier = first.pinned_verifier(&a.tenant_id).await;
    assert!(
        verifier
            .verify(&lease.str("token"), first.clock_now())
            .is_err()
    );
    // The other replica switches at its next maintenance step.
    second.state.service.tenant_keys().maintain_once().await;
    let beat = second
        .heartbeat(&a.client, &lease.str("session_id"))
        .await
        .expect(200);
    assert_eq!(kid(&beat.str("token")), new_kid);
    verifier
        .verify(&beat.str("token"), second.clock_now())
        .unwrap();
    // Audited.
    let audit = first.audit(&a.admin).await.expect(200);
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"signing_key.rotate"), "{actions:?}");
    assert!(actions.contains(&"signing_key.revoke"), "{actions:?}");
    assert_ne!(leaked, new_kid);
    // The operator may rotate for a tenant it names.
    let operator = first.operator().acting_for(&a.tenant_id);
    first.rotate_signing_key(&operator, false).await.expect(201);
}
