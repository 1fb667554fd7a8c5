//! Credentials: 401 for anything missing or invalid (whatever failed), 403 for the wrong kind.

use reqwest::Method;

use crate::helpers::{Caller, OPERATOR_TOKEN, spawn_app};

#[tokio::test]
async fn missing_or_invalid_credentials_are_401_with_the_shared_shape() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    // A well-formed key for a real tenant with a wrong secret.
    let forged = format!("lk_{}_{}", acme.tenant_id.replace('-', ""), "A".repeat(43));
    let bad = [
        Caller::bearer("nonsense"),
        Caller::bearer("lk_nope"),
        Caller::bearer(forged),
        Caller::bearer(format!("{OPERATOR_TOKEN}x")),
        Caller::bearer(""),
    ];
    for caller in &bad {
        app.acquire(caller, &acme.license_key, "m1")
            .await
            .expect_error(401, "unauthenticated");
        app.list_licenses(caller, "")
            .await
            .expect_error(401, "unauthenticated");
    }
    let anonymous = app
        .send(Method::GET, "/api/v1/admin/licenses", None, None)
        .await
        .expect_error(401, "unauthenticated");
    // No hint which check failed.
    let forged_reply = app.list_licenses(&bad[2], "").await;
    assert_eq!(forged_reply.body, anonymous.body);
}

#[tokio::test]
async fn the_wrong_kind_of_credential_is_403() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    app.list_licenses(&acme.client, "")
        .await
        .expect_error(403, "forbidden");
    app.acquire(&acme.admin, &acme.license_key, "m1")
        .await
        .expect_error(403, "forbidden");
    app.acquire(&app.operator(), &acme.license_key, "m1")
        .await
        .expect_error(403, "forbidden");
}
