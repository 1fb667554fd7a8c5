//! OpenID Connect hardening: a token for several audiences must be issued to us (`azp`), a
//! subject people would read in the audit log holds no hidden characters, and the key set is
//! fetched over HTTPS only (plain HTTP on loopback, for tests like these).

use license_server::Config;
use license_server::config::Sources;
use serde_json::json;

use crate::helpers::Caller;
use crate::oidc::{AUDIENCE, ISSUER, IdentityProvider, app_trusting};

#[tokio::test]
async fn a_token_for_several_audiences_must_name_us_in_azp() {
    let idp = IdentityProvider::start().await;
    let app = app_trusting(&idp).await;
    let acme = app.fixture("Acme", 10).await;
    let t = &acme.tenant_id;
    let several = json!([AUDIENCE, "another-client"]);

    let refused = [
        idp.token(t, json!({ "aud": several })).await,
        idp.token(t, json!({ "aud": several, "azp": "another-client" }))
            .await,
        idp.token(t, json!({ "aud": several, "azp": [AUDIENCE] }))
            .await,
    ];
    for (i, token) in refused.into_iter().enumerate() {
        app.acquire(&Caller::bearer(token), &acme.license_key, &format!("r{i}"))
            .await
            .expect_error(401, "unauthenticated");
    }
    assert_eq!(
        app.license_sessions(&acme.admin, &acme.license_id)
            .await
            .expect(200)
            .body["items"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "no seat for a refused token"
    );

    let accepted = [
        idp.token(t, json!({ "aud": several, "azp": AUDIENCE }))
            .await,
        idp.token(t, json!({ "aud": [AUDIENCE] })).await,
        // One audience: `azp` may name the presenting app (Google Sign-In does).
        idp.token(t, json!({ "aud": AUDIENCE, "azp": "android-app" }))
            .await,
    ];
    for (i, token) in accepted.into_iter().enumerate() {
        app.acquire(&Caller::bearer(token), &acme.license_key, &format!("a{i}"))
            .await
            .expect(200);
    }
}

#[tokio::test]
async fn a_subject_with_hidden_characters_is_401() {
    let idp = IdentityProvider::start().await;
    let app = app_trusting(&idp).await;
    let acme = app.fixture("Acme", 1).await;
    for sub in ["user\u{202E}24-resu", "user\u{200B}42", "user\n42"] {
        let token = idp.token(&acme.tenant_id, json!({ "sub": sub })).await;
        app.acquire(&Caller::bearer(token), &acme.license_key, "m1")
            .await
            .expect_error(401, "unauthenticated");
    }
    let token = idp
        .token(&acme.tenant_id, json!({ "sub": "user-42" }))
        .await;
    app.acquire(&Caller::bearer(token), &acme.license_key, "m1")
        .await
        .expect(200);
}

/// The configuration the server would start with, given these environment variables.
fn load(env: &[(&str, &str)]) -> Result<Config, String> {
    let sources = Sources {
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Sources::default()
    };
    Config::load(&sources)
        .map(|loaded| loaded.config)
        .map_err(|e| e.to_string())
}

#[test]
fn a_key_set_over_plain_http_off_this_machine_stops_the_start() {
    let oidc = |url: &'static str| {
        load(&[
            ("LICENSE_AUTH__OIDC__JWKS_URL", url),
            ("LICENSE_AUTH__OIDC__ISSUER", ISSUER),
            ("LICENSE_AUTH__OIDC__AUDIENCE", AUDIENCE),
        ])
    };
    for refused in [
        "http://idp.example/jwks",
        "http://10.1.2.3:8080/jwks",
        "http://localhost.idp.example/jwks",
        "ftp://idp.example/jwks",
    ] {
        let e = oidc(refused).unwrap_err();
        assert!(
            e.contains("auth.oidc.jwks_url") && e.contains("LICENSE_AUTH__OIDC__JWKS_URL"),
            "{refused}: {e}"
        );
        assert!(e.contains("https://"), "{e}");
    }
    for accepted in [
        "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com",
        "http://127.0.0.1:4000/jwks",
        "http://localhost:4000/jwks",
        "http://[::1]:4000/jwks",
    ] {
        let config = oidc(accepted).unwrap_or_else(|e| panic!("{accepted}: {e}"));
        assert_eq!(config.auth.oidc.jwks_url, accepted);
    }
}
