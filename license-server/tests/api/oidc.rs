//! OpenID Connect ID tokens on the client routes, verified against a JWKS served by a local
//! test server with a key made in the test.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use license_core::{LocalSigner, Signer, SigningAlgorithm};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{EndpointExt, Route, get, handler, web::Data, web::Json};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::helpers::{Caller, TestApp, spawn_app_with};

pub(crate) const ISSUER: &str = "https://securetoken.google.com/acme-project";
pub(crate) const AUDIENCE: &str = "acme-project";

/// What the JWKS endpoint serves, and how often it was asked.
#[derive(Default)]
struct Published {
    keys: RwLock<Value>,
    fetches: AtomicUsize,
}

/// A JWKS endpoint on loopback, counting downloads. Stops when dropped. (Shared with the
/// holder tests.)
pub(crate) struct IdentityProvider {
    signer: LocalSigner,
    addr: SocketAddr,
    published: Arc<Published>,
    _stop: oneshot::Sender<()>,
}

#[handler]
fn jwks(Data(published): Data<&Arc<Published>>) -> Json<Value> {
    published.fetches.fetch_add(1, Ordering::SeqCst);
    Json(published.keys.read().unwrap().clone())
}

impl IdentityProvider {
    pub(crate) async fn start() -> Self {
        let signer = LocalSigner::generate(SigningAlgorithm::RS256).unwrap();
        let published = Arc::new(Published::default());
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let addr = *acceptor.local_addr()[0].0.as_socket_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let app = Route::new().at("/jwks", get(jwks)).data(published.clone());
        tokio::spawn(
            poem::Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
                app,
                async {
                    let _ = stopped.await;
                },
                None,
            ),
        );
        let idp = Self {
            signer,
            addr,
            published,
            _stop: stop,
        };
        idp.publish(&[&idp.signer]);
        idp
    }

    /// Replaces the published keys (a rotation).
    fn publish(&self, signers: &[&LocalSigner]) {
        let keys: Vec<_> = signers.iter().map(|s| s.public_jwk()).collect();
        *self.published.keys.write().unwrap() = json!({ "keys": keys });
    }

    /// How often the keys were downloaded.
    fn fetches(&self) -> usize {
        self.published.fetches.load(Ordering::SeqCst)
    }

    pub(crate) fn jwks_url(&self) -> String {
        format!("http://{}/jwks", self.addr)
    }

    /// An RS256 ID token with `claims` merged over valid defaults for `tenant`.
    pub(crate) async fn token(&self, tenant: &str, claims: Value) -> String {
        self.token_signed_by(&self.signer, tenant, claims).await
    }

    async fn token_signed_by(&self, signer: &LocalSigner, tenant: &str, claims: Value) -> String {
        let now = chrono::Utc::now().timestamp();
        let mut body = json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": "user-42", "tenant_id": tenant,
            "iat": now, "exp": now + 3600,
        });
        for (k, v) in claims.as_object().unwrap() {
            body[k] = v.clone();
        }
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": signer.key_id() });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(body.to_string())
        );
        let signature = signer.sign(input.as_bytes()).await.unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

pub(crate) async fn app_trusting(idp: &IdentityProvider) -> TestApp {
    app_trusting_with_refresh(idp, 60).await
}

async fn app_trusting_with_refresh(idp: &IdentityProvider, refresh_min_seconds: u64) -> TestApp {
    app_trusting_with(idp, refresh_min_seconds, 5).await
}

async fn app_trusting_with(
    idp: &IdentityProvider,
    refresh_min_seconds: u64,
    cache_seconds: u64,
) -> TestApp {
    let url = idp.jwks_url();
    spawn_app_with(move |config| {
        config.auth.cache_seconds = cache_seconds;
        config.auth.oidc.refresh_min_seconds = refresh_min_seconds;
        config.auth.oidc.jwks_url = url;
        config.auth.oidc.issuer = ISSUER.into();
        config.auth.oidc.audience = AUDIENCE.into();
    })
    .await
}

#[tokio::test]
async fn id_tokens_act_for_the_tenant_in_their_claim() {
    let idp = IdentityProvider::start().await;
    let app = app_trusting(&idp).await;
    let acme = app.fixture("Acme", 1).await;
    let user = Caller::bearer(idp.token(&acme.tenant_id, json!({})).await);

    let lease = app
        .acquire(&user, &acme.license_key, "m1")
        .await
        .expect(200);
    app.heartbeat(&user, &lease.str("session_id"))
        .await
        .expect(200);
    app.release(&user, &lease.str("session_id"))
        .await
        .expect(200);

    // Keys are cached: many requests, one download.
    for _ in 0..5 {
        app.acquire(&user, &acme.license_key, "m1")
            .await
            .expect(200);
    }
    assert_eq!(idp.fetches(), 1);

    // ID tokens are for the client routes only.
    app.list_licenses(&user, "")
        .await
        .expect_error(401, "unauthenticated");
}

#[tokio::test]
async fn expired_foreign_or_forged_id_tokens_are_401() {
    let idp = IdentityProvider::start().await;
    let app = app_trusting(&idp).await;
    let acme = app.fixture("Acme", 1).await;
    let now = chrono::Utc::now().timestamp();
    let t = &acme.tenant_id;

    let expired = idp
        .token(t, json!({ "iat": now - 7200, "exp": now - 3600 }))
        .await;
    let wrong_audience = idp.token(t, json!({ "aud": "someone-else" })).await;
    let wrong_issuer = idp.token(t, json!({ "iss": "https://evil.example" })).await;
    let no_tenant = idp.token(t, json!({ "tenant_id": null })).await;
    let bad_tenant = idp.token(t, json!({ "tenant_id": "acme" })).await;
    let mut forged = idp.token(t, json!({})).await;
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let unsigned = {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "x", "tenant_id": t, "exp": now + 60 })
                .to_string(),
        );
        format!("{header}.{claims}.")
    };
    for token in [
        expired,
        wrong_audience,
        wrong_issuer,
        no_tenant,
        bad_tenant,
        forged,
        unsigned,
    ] {
        app.acquire(&Caller::bearer(token.clone()), &acme.license_key, "m1")
            .await
            .expect_error(401, "unauthenticated");
    }

    // A valid token of a tenant that has no such license: 404, never another tenant's data.
    let other = app.fixture("Other", 1).await;
    let outsider = Caller::bearer(idp.token(&other.tenant_id, json!({})).await);
    app.acquire(&outsider, &acme.license_key, "m1")
        .await
        .expect_error(404, "license_not_found");
}

#[tokio::test]
async fn an_unknown_key_id_refreshes_the_keys_at_most_once_per_interval() {
    let idp = IdentityProvider::start().await;
    let rotated = LocalSigner::generate(SigningAlgorithm::RS256).unwrap();

    // Within the interval: the unknown kid is refused without another download.
    let app = app_trusting_with_refresh(&idp, 3600).await;
    let acme = app.fixture("Acme", 5).await;
    let user = Caller::bearer(idp.token(&acme.tenant_id, json!({})).await);
    app.acquire(&user, &acme.license_key, "m1")
        .await
        .expect(200);
    idp.publish(&[&idp.signer, &rotated]);
    let new_key = idp
        .token_signed_by(&rotated, &acme.tenant_id, json!({}))
        .await;
    for _ in 0..3 {
        app.acquire(&Caller::bearer(new_key.clone()), &acme.license_key, "m2")
            .await
            .expect_error(401, "unauthenticated");
    }
    assert_eq!(idp.fetches(), 1);

    // Past the interval (zero here): one download picks up the rotated key.
    idp.publish(&[&idp.signer]);
    let app = app_trusting_with_refresh(&idp, 0).await;
    let acme = app.fixture("Acme", 5).await;
    let old_key = idp.token(&acme.tenant_id, json!({})).await;
    app.acquire(&Caller::bearer(old_key), &acme.license_key, "m1")
        .await
        .expect(200);
    assert_eq!(idp.fetches(), 2);
    idp.publish(&[&idp.signer, &rotated]);
    let new_key = idp
        .token_signed_by(&rotated, &acme.tenant_id, json!({}))
        .await;
    app.acquire(&Caller::bearer(new_key), &acme.license_key, "m2")
        .await
        .expect(200);
    assert_eq!(idp.fetches(), 3, "one download for the new key id");
}

#[tokio::test]
async fn a_repeated_id_token_skips_the_signature_check_and_made_up_ones_are_not_cached() {
    let idp = IdentityProvider::start().await;
    let app = app_trusting(&idp).await;
    let acme = app.fixture("Acme", 5).await;
    let user = Caller::bearer(idp.token(&acme.tenant_id, json!({})).await);
    for machine in ["m1", "m2", "m3"] {
        app.acquire(&user, &acme.license_key, machine)
            .await
            .expect(200);
    }
    assert_eq!(app.metric("license_oidc_verifications_total").await, 1);
    assert_eq!(app.metric("license_oidc_cache_hits_total").await, 2);

    // A forged token is checked (and refused) every time: refusals are never cached.
    let mut forged = idp.token(&acme.tenant_id, json!({})).await;
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    for _ in 0..2 {
        app.acquire(&Caller::bearer(forged.clone()), &acme.license_key, "m4")
            .await
            .expect_error(401, "unauthenticated");
    }
    assert_eq!(app.metric("license_oidc_verifications_total").await, 3);
    assert_eq!(app.metric("license_oidc_cache_hits_total").await, 2);

    // With auth.cache_seconds = 0, every request checks the signature.
    let uncached = app_trusting_with(&idp, 60, 0).await;
    let acme = uncached.fixture("Acme", 5).await;
    let user = Caller::bearer(idp.token(&acme.tenant_id, json!({})).await);
    for machine in ["m1", "m2"] {
        uncached
            .acquire(&user, &acme.license_key, machine)
            .await
            .expect(200);
    }
    assert_eq!(uncached.metric("license_oidc_verifications_total").await, 2);
    assert_eq!(uncached.metric("license_oidc_cache_hits_total").await, 0);
}
