//! The client routes (acquire, heartbeat, release, validate) on arbitrary bodies, through the
//! real server stack in process (routing, auth, body limit, parsing, validation, use cases on
//! the in-memory adapters): never a panic, never a 5xx.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::{
    Actor, Clock, LicenseKey, LocalKeyWrapper, LocalSigner, NewLicense, Scope, SeatCount,
    SigningAlgorithm, SystemClock,
};
use license_server::config::Secret;
use license_server::{Adapters, AppState, Config, routes};
use poem::endpoint::BoxEndpoint;
use poem::http::{Method, header};
use poem::{Endpoint, EndpointExt, Request, Response};

const ROUTES: [&str; 4] = [
    "/api/v1/licenses/acquire",
    "/api/v1/licenses/heartbeat",
    "/api/v1/licenses/release",
    "/api/v1/licenses/validate",
];

struct Fixture {
    runtime: tokio::runtime::Runtime,
    app: BoxEndpoint<'static, Response>,
    bearer: String,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let (app, bearer) = runtime.block_on(async {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let root = LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap_or_else(|e| panic!("{e}"));
        let adapters = Adapters {
            store: Arc::new(MemoryStore::default()),
            ledger: Arc::new(MemoryLedger::new(clock.clone())),
            wrapper: Arc::new(LocalKeyWrapper::for_root(&root).unwrap_or_else(|e| panic!("{e}"))),
            signer: Arc::new(root),
        };
        let mut config = Config::default();
        // One in-process client sending thousands of bodies a second, most with a wrong key:
        // the rate limits (tested in license-server's rate_limits.rs) would answer nearly all
        // of them 429 before parsing, and hide what this target explores.
        config.limits.enabled = false;
        let state = AppState::new(&config, adapters, Vec::new(), clock, Secret::new("op-fuzz"))
            .unwrap_or_else(|e| panic!("state: {e}"));
        let tenant = state.admin.create_tenant("Fuzz", &Actor::Operator).await;
        let tenant = tenant.unwrap_or_else(|e| panic!("{e}"));
        let mut new = NewLicense::new("Fuzz", SeatCount::new(3).unwrap_or_else(|e| panic!("{e}")));
        // The seeds name this key: short and guessable on purpose.
        new.key = LicenseKey::parse("FUZZ-KEY-0001").ok();
        new.allow_weak_key = true;
        let license = state
            .admin
            .create_license(tenant.id, new, &Actor::Operator)
            .await;
        license.unwrap_or_else(|e| panic!("{e}"));
        let key =
            state
                .admin
                .create_api_key(tenant.id, "fuzz", vec![Scope::Client], &Actor::Operator);
        let (_, secret) = key.await.unwrap_or_else(|e| panic!("{e}"));
        (
            routes(Arc::new(state)).map_to_response().boxed(),
            format!("Bearer {}", secret.expose()),
        )
    });
    Fixture {
        runtime,
        app,
        bearer,
    }
});

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let f = &*FIXTURE;
    let request = Request::builder()
        .method(Method::POST)
        .uri_str(ROUTES[usize::from(selector) % ROUTES.len()])
        .header(header::AUTHORIZATION, f.bearer.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_vec());
    let response = f.runtime.block_on(f.app.call(request));
    let status = match response {
        Ok(response) => response.status(),
        Err(error) => error.status(),
    };
    assert!(
        !status.is_server_error(),
        "{status} for body {:?}",
        String::from_utf8_lossy(body)
    );
});
