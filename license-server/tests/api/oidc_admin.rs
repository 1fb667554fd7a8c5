//! ID tokens on the admin routes (`auth.oidc.admin_claim`): a token whose admin claim holds an
//! admin value makes its user an administrator of the tenant in its tenant claim — that tenant
//! only, never the operator — and the audit log names the user.

use serde_json::{Value, json};

use crate::helpers::{Caller, TestApp, spawn_app_with};
use crate::oidc::{AUDIENCE, ISSUER, IdentityProvider};

async fn app_granting_admin(idp: &IdentityProvider) -> TestApp {
    let url = idp.jwks_url();
    spawn_app_with(move |config| {
        config.auth.oidc.jwks_url = url;
        config.auth.oidc.issuer = ISSUER.into();
        config.auth.oidc.audience = AUDIENCE.into();
        config.auth.oidc.admin_claim = "roles".into();
        config.auth.oidc.admin_values = "license-admin, owner".into();
    })
    .await
}

fn items(body: &Value) -> &Vec<Value> {
    body["items"].as_array().unwrap()
}

#[tokio::test]
async fn an_admin_claim_administers_its_own_tenant_and_the_audit_names_the_user() {
    let idp = IdentityProvider::start().await;
    let app = app_granting_admin(&idp).await;
    let acme = app.fixture("Acme", 1).await;
    let other = app.fixture("Other", 1).await;
    let alice = Caller::bearer(
        idp.token(
            &acme.tenant_id,
            json!({ "sub": "alice@acme.example", "roles": ["viewer", "license-admin"] }),
        )
        .await,
    );

    let licenses = app.list_licenses(&alice, "").await.expect(200);
    let ids: Vec<_> = items(&licenses.body).iter().map(|l| &l["id"]).collect();
    assert_eq!(ids, [&json!(acme.license_id)], "its tenant's licenses only");
    let created = app
        .create_license(&alice, json!({ "product": "CAM", "seats_total": 2 }))
        .await
        .expect(201);
    app.create_api_key(&alice, "ci", &["client"])
        .await
        .expect(201);
    // Naming its own tenant is fine; naming another answers like a missing one (as a key).
    app.list_licenses(&alice.clone().acting_for(&acme.tenant_id), "")
        .await
        .expect(200);
    app.list_licenses(&alice.clone().acting_for(&other.tenant_id), "")
        .await
        .expect_error(404, "tenant_not_found");
    app.get_license(&alice, &other.license_id)
        .await
        .expect_error(404, "license_not_found");
    // Never the operator.
    app.list_tenants(&alice)
        .await
        .expect_error(403, "forbidden");
    app.create_tenant(&alice, "Mine")
        .await
        .expect_error(403, "forbidden");

    let audit = app.audit(&alice).await.expect(200);
    let newest: Vec<_> = items(&audit.body)
        .iter()
        .take(2)
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        newest,
        [
            ("api_key.create", "user:alice@acme.example"),
            ("license.create", "user:alice@acme.example"),
        ]
    );
    assert!(created.body["id"].is_string());
    // The other tenant's log saw nothing of it.
    let theirs = app.audit(&other.admin).await.expect(200);
    assert!(
        items(&theirs.body)
            .iter()
            .all(|e| e["actor"] != "user:alice@acme.example")
    );

    // The same token still works on the client routes.
    app.acquire(&alice, &acme.license_key, "m1")
        .await
        .expect(200);
}

#[tokio::test]
async fn an_id_token_without_an_admin_value_is_403_on_the_admin_routes() {
    let idp = IdentityProvider::start().await;
    let app = app_granting_admin(&idp).await;
    let acme = app.fixture("Acme", 1).await;
    for claims in [
        json!({}),
        json!({ "roles": "viewer" }),
        json!({ "roles": ["viewer"] }),
        json!({ "roles": "license-admin,owner" }),
        json!({ "roles": 1 }),
        json!({ "license-admin": true }),
    ] {
        let user = Caller::bearer(idp.token(&acme.tenant_id, claims.clone()).await);
        let reply = app.list_licenses(&user, "").await;
        assert_eq!((reply.status, reply.code()), (403, "forbidden"), "{claims}");
        // A valid user of the client routes all the same.
        app.acquire(&user, &acme.license_key, "m1")
            .await
            .expect(200);
    }
    // A refused token is 401 on the admin routes too, admin claim or not.
    let mut forged = idp
        .token(&acme.tenant_id, json!({ "roles": "owner" }))
        .await;
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let expired = {
        let now = chrono::Utc::now().timestamp();
        idp.token(
            &acme.tenant_id,
            json!({ "roles": "owner", "iat": now - 7200, "exp": now - 3600 }),
        )
        .await
    };
    for token in [forged, expired] {
        app.list_licenses(&Caller::bearer(token), "")
            .await
            .expect_error(401, "unauthenticated");
    }
}

#[tokio::test]
async fn without_an_admin_claim_setting_id_tokens_never_reach_the_admin_routes() {
    let idp = IdentityProvider::start().await;
    let app = crate::oidc::app_trusting(&idp).await;
    let acme = app.fixture("Acme", 1).await;
    let user = Caller::bearer(
        idp.token(&acme.tenant_id, json!({ "roles": "license-admin" }))
            .await,
    );
    app.list_licenses(&user, "")
        .await
        .expect_error(401, "unauthenticated");
}
