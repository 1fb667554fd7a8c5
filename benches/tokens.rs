//! Lease-token cost: signing a token with a local key (`token::issue`, what acquire and every
//! heartbeat do) and verifying it offline (`TokenVerifier::verify`, what a client or the
//! validate route does), for each algorithm `LocalSigner` generates.
//!
//! `cargo bench -p license-benches --bench tokens`. No service needed; see `benches/README.md`.

// A panic is the failure report here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use license_core::token::issue;
use license_core::{
    Jwks, LeaseClaims, LicenseId, LocalSigner, SessionId, Signer, SigningAlgorithm, TenantId,
    TokenVerifier,
};

const ISSUER: &str = "license-server";

/// Claims shaped like the server's: a UUID session, tenant and license, a machine id, two
/// entitlements, a six-minute lifetime.
fn claims(tenant: TenantId) -> LeaseClaims {
    let now = chrono::Utc::now().timestamp();
    LeaseClaims {
        iss: ISSUER.into(),
        aud: Some(tenant),
        sub: SessionId::new(),
        tid: tenant,
        lic: LicenseId::new(),
        hwid: "4c4c4544-0042-3510-8052-b4c04f4e3732".into(),
        ent: vec!["export-pdf".into(), "render-4k".into()],
        iat: now,
        nbf: now,
        exp: now + 360,
        ovd: false,
        brw: false,
    }
}

fn tokens(c: &mut Criterion) {
    let mut group = c.benchmark_group("tokens");
    group.throughput(Throughput::Elements(1));
    for algorithm in [
        SigningAlgorithm::EdDSA,
        SigningAlgorithm::ES256,
        SigningAlgorithm::RS256,
        SigningAlgorithm::PS256,
    ] {
        let signer = LocalSigner::generate(algorithm).unwrap();
        let tenant = TenantId::new();
        let claims = claims(tenant);
        // `LocalSigner::sign` never awaits: polling it once on this thread is the whole cost.
        let sign = |claims: &LeaseClaims| futures::executor::block_on(issue(&signer, claims));

        group.bench_function(BenchmarkId::new("sign", algorithm), |b| {
            b.iter(|| sign(black_box(&claims)).unwrap());
        });

        let token = sign(&claims).unwrap();
        let verifier = TokenVerifier::new(
            Jwks {
                keys: vec![signer.public_jwk()],
            },
            ISSUER,
            tenant,
        );
        let now = chrono::Utc::now();
        assert_eq!(verifier.verify(&token, now).unwrap(), claims);
        group.bench_function(BenchmarkId::new("verify", algorithm), |b| {
            b.iter(|| verifier.verify(black_box(&token), now).unwrap());
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Enough for stable figures of calls from ~20 µs (EdDSA) to ~2 ms (RSA-3072 signing).
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = tokens
}
criterion_main!(benches);
