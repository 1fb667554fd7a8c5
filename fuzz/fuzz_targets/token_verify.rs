//! Lease-token verification on arbitrary input: never panics, and never accepts anything but
//! the claims we signed.
#![no_main]

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use license_core::{
    Jwks, LeaseClaims, LicenseId, LocalSigner, SessionId, Signer, SigningAlgorithm, TenantId,
    TokenVerifier,
};

/// PKCS#8 v1 wrapping of a fixed Ed25519 seed: a deterministic key, so the committed seed
/// token (`fuzz/seeds/token_verify/valid-eddsa`) verifies in every run and the fuzzer reaches
/// the checks after the signature.
fn fixed_key() -> Option<LocalSigner> {
    let mut pkcs8 = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    pkcs8.extend_from_slice(&[7u8; 32]);
    LocalSigner::from_pkcs8(SigningAlgorithm::EdDSA, &pkcs8).ok()
}

/// The claims of the seed token.
fn claims(now: DateTime<Utc>) -> LeaseClaims {
    LeaseClaims {
        iss: "fuzz".into(),
        aud: Some(TenantId::from_uuid(uuid_from(2))),
        sub: SessionId::from_uuid(uuid_from(1)),
        tid: TenantId::from_uuid(uuid_from(2)),
        lic: LicenseId::from_uuid(uuid_from(3)),
        hwid: "hw-1".into(),
        ent: vec!["pro".into()],
        iat: now.timestamp(),
        nbf: now.timestamp(),
        exp: now.timestamp() + 360,
        ovd: false,
        brw: false,
    }
}

fn uuid_from(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(n)
}

struct Fixture {
    verifier: TokenVerifier,
    claims: LeaseClaims,
    now: DateTime<Utc>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    let mut keys: Vec<LocalSigner> = fixed_key().into_iter().collect();
    keys.extend(LocalSigner::generate(SigningAlgorithm::ES256));
    let claims = claims(now);
    if std::env::var_os("FUZZ_PRINT_SEED").is_some() {
        if let Some(key) = keys.first() {
            let token = futures::executor::block_on(license_core::token::issue(key, &claims));
            println!("{}", token.unwrap_or_default());
        }
    }
    let jwks = Jwks { keys: keys.iter().map(Signer::public_jwk).collect() };
    let tenant = TenantId::from_uuid(uuid_from(2));
    Fixture { verifier: TokenVerifier::new(jwks, "fuzz", tenant), claims, now }
});

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let f = &*FIXTURE;
    if let Ok(claims) = f.verifier.verify(token, f.now) {
        assert_eq!(claims, f.claims, "a token we did not sign was accepted");
    }
});
