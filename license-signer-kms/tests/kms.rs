//! `KmsSigner` against an in-test Cloud KMS (`license_testkit::fake_kms`): real keys, real HTTP on loopback,
//! no network. Tokens it signs must verify with license-core's verifier and with jsonwebtoken.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use license_core::token::{LeaseClaims, TOKEN_TYPE, issue};
use license_core::{
    Dependency, Error, Jwks, LicenseId, SessionId, Signer, SigningAlgorithm, TenantId,
    TokenVerifier,
};
use license_signer_kms::{KmsConfig, KmsSigner};
use license_testkit::fake_kms::{
    ACCESS_TOKEN, Calls, FakeKms, Fault, KEY_NAME, StaticToken, TestKey,
};

const ISSUER: &str = "https://licenses.acme.test";

/// A config for the fake's key version: short timeout, two retries.
fn config(fake: &FakeKms, algorithm: SigningAlgorithm) -> KmsConfig {
    KmsConfig {
        algorithm,
        endpoint: fake.endpoint().to_owned(),
        timeout: Duration::from_secs(5),
        max_retries: 2,
        ..KmsConfig::new(KEY_NAME)
    }
}

async fn connect(fake: &FakeKms, algorithm: SigningAlgorithm) -> KmsSigner {
    KmsSigner::connect_with(config(fake, algorithm), StaticToken::new())
        .await
        .unwrap()
}

/// The tenant of every token here.
fn tenant() -> TenantId {
    static TENANT: std::sync::LazyLock<TenantId> = std::sync::LazyLock::new(TenantId::new);
    *TENANT
}

fn claims() -> LeaseClaims {
    let now = chrono::Utc::now().timestamp();
    LeaseClaims {
        iss: ISSUER.into(),
        aud: Some(tenant()),
        sub: SessionId::new(),
        tid: tenant(),
        lic: LicenseId::new(),
        hwid: "workstation-7".into(),
        ent: vec!["export".into()],
        iat: now,
        nbf: now,
        exp: now + 360,
        ovd: false,
        brw: false,
    }
}

/// Issues a lease token through KMS and checks it with both verifiers, pinned to `algorithm`.
async fn issue_and_verify(signer: &KmsSigner, algorithm: SigningAlgorithm) {
    let claims = claims();
    let token = issue(signer, &claims).await.unwrap();

    let jwk = signer.public_jwk();
    assert_eq!(jwk.alg, algorithm);
    assert_eq!(jwk.kid, signer.key_id());
    let verifier = TokenVerifier::new(
        Jwks {
            keys: vec![jwk.clone()],
        },
        ISSUER,
        tenant(),
    );
    assert_eq!(verifier.verify(&token, chrono::Utc::now()).unwrap(), claims);

    // jsonwebtoken reads our JWK JSON itself and pins the algorithm.
    let foreign_jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(serde_json::to_value(&jwk).unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&foreign_jwk).unwrap();
    let jose_alg = match algorithm {
        SigningAlgorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        SigningAlgorithm::PS256 => jsonwebtoken::Algorithm::PS256,
        SigningAlgorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        SigningAlgorithm::EdDSA => unreachable!("KMS does not sign EdDSA"),
    };
    let mut validation = jsonwebtoken::Validation::new(jose_alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[tenant().to_string()]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub", "aud"]);
    validation.validate_nbf = true;
    let decoded = jsonwebtoken::decode::<LeaseClaims>(&token, &key, &validation).unwrap();
    assert_eq!(decoded.claims, claims);
    assert_eq!(decoded.header.kid.as_deref(), Some(signer.key_id()));
    assert_eq!(decoded.header.typ.as_deref(), Some(TOKEN_TYPE));

    // And a token altered after signing is refused by both.
    let (head, signature) = token.rsplit_once('.').unwrap();
    let mut forged_claims = claims.clone();
    forged_claims.exp += 3600;
    let forged_payload = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&forged_claims).unwrap(),
    );
    let forged = format!(
        "{}.{forged_payload}.{signature}",
        head.split('.').next().unwrap()
    );
    assert!(verifier.verify(&forged, chrono::Utc::now()).is_err());
    assert!(jsonwebtoken::decode::<LeaseClaims>(&forged, &key, &validation).is_err());
}

/// The reason of a signer-unavailable error, checked to carry no access token.
fn unavailable_reason<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(
            error @ Error::Unavailable {
                dependency: Dependency::Signer,
                ..
            },
        ) => {
            let text = error.to_string();
            assert!(!text.contains(ACCESS_TOKEN), "token leaked into {text}");
            assert!(!format!("{error:?}").contains(ACCESS_TOKEN));
            assert!(error.is_retryable());
            text
        }
        other => panic!("expected the signer to be unavailable, got {other:?}"),
    }
}

// ---- signing, all three algorithms ----

#[tokio::test]
async fn rs256_tokens_signed_by_kms_verify_with_core_and_jsonwebtoken() {
    let fake = FakeKms::start(TestKey::rsa_pkcs1_4096()).await;
    let signer = connect(&fake, SigningAlgorithm::RS256).await;
    assert_eq!(signer.public_jwk().kty, "RSA");
    issue_and_verify(&signer, SigningAlgorithm::RS256).await;
    assert_eq!(signer.sign(b"x").await.unwrap().len(), 512);
}

#[tokio::test]
async fn ps256_tokens_verify_for_every_kms_pss_key_size() {
    for bits in [2048, 3072, 4096] {
        let fake = FakeKms::start(TestKey::rsa_pss(bits)).await;
        let signer = connect(&fake, SigningAlgorithm::PS256).await;
        issue_and_verify(&signer, SigningAlgorithm::PS256).await;
        assert_eq!(signer.sign(b"x").await.unwrap().len(), bits as usize / 8);
    }
}

#[tokio::test]
async fn es256_der_signatures_become_raw_r_s_that_verify() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let signer = connect(&fake, SigningAlgorithm::ES256).await;
    assert_eq!(signer.public_jwk().crv.as_deref(), Some("P-256"));
    // Several tokens, so some r or s shorter than 32 bytes is likely among them.
    for _ in 0..8 {
        issue_and_verify(&signer, SigningAlgorithm::ES256).await;
    }
    for i in 0..64_u32 {
        assert_eq!(signer.sign(&i.to_be_bytes()).await.unwrap().len(), 64);
    }
}

#[tokio::test]
async fn the_kid_is_the_jwk_thumbprint_and_stable_across_connects() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let first = connect(&fake, SigningAlgorithm::ES256).await;
    let second = connect(&fake, SigningAlgorithm::ES256).await;
    assert_eq!(first.key_id(), first.public_jwk().thumbprint());
    assert_eq!(first.key_id(), second.key_id());
    assert_eq!(first.public_jwk(), second.public_jwk());

    let other = FakeKms::start(TestKey::p256()).await;
    assert_ne!(
        connect(&other, SigningAlgorithm::ES256).await.key_id(),
        first.key_id()
    );
}

#[tokio::test]
async fn the_providers_bearer_token_reaches_both_endpoints() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let provider = StaticToken::new();
    let signer = KmsSigner::connect_with(config(&fake, SigningAlgorithm::ES256), provider.clone())
        .await
        .unwrap();
    signer.sign(b"hello").await.unwrap();

    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, format!("/v1/{KEY_NAME}/publicKey"));
    assert_eq!(seen[1].method, "POST");
    assert_eq!(seen[1].path, format!("/v1/{KEY_NAME}:asymmetricSign"));
    for request in &seen {
        assert_eq!(
            request.authorization.as_deref(),
            Some(format!("Bearer {ACCESS_TOKEN}").as_str())
        );
    }
    assert_eq!(
        fake.calls(),
        Calls {
            get_public_key: 1,
            asymmetric_sign: 1,
            ..Calls::default()
        }
    );
    let scopes = provider.scopes();
    assert!(!scopes.is_empty());
    assert!(
        scopes
            .iter()
            .all(|s| s == "https://www.googleapis.com/auth/cloud-platform")
    );
    assert!(!format!("{signer:?}").contains(ACCESS_TOKEN));
}

#[tokio::test]
async fn a_refused_access_token_is_reported_as_a_credentials_problem() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let result = KmsSigner::connect_with(
        config(&fake, SigningAlgorithm::ES256),
        StaticToken::with("ya29.wrong"),
    )
    .await;
    let reason = unavailable_reason(result);
    assert!(reason.contains("UNAUTHENTICATED"), "{reason}");
    assert!(reason.contains("credentials"), "{reason}");
    assert!(!reason.contains("ya29.wrong"), "{reason}");
}

// ---- retries ----

#[tokio::test]
async fn a_rate_limited_sign_is_retried_and_succeeds() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let signer = connect(&fake, SigningAlgorithm::ES256).await;
    fake.fail_next(Fault::Status(429, "RESOURCE_EXHAUSTED"));
    let signature = signer.sign(b"hello").await.unwrap();
    assert_eq!(signature.len(), 64);
    assert_eq!(fake.calls().asymmetric_sign, 2);
}

#[tokio::test]
async fn unavailable_and_deadline_exceeded_are_retried() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let signer = connect(&fake, SigningAlgorithm::ES256).await;
    fake.fail_next(Fault::Status(503, "UNAVAILABLE"));
    fake.fail_next(Fault::Status(504, "DEADLINE_EXCEEDED"));
    signer.sign(b"hello").await.unwrap();
    assert_eq!(fake.calls().asymmetric_sign, 3);
}

#[tokio::test]
async fn retries_stop_after_max_retries() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let signer = connect(&fake, SigningAlgorithm::ES256).await;
    for _ in 0..3 {
        fake.fail_next(Fault::Status(429, "RESOURCE_EXHAUSTED"));
    }
    let reason = unavailable_reason(signer.sign(b"hello").await);
    assert!(reason.contains("RESOURCE_EXHAUSTED"), "{reason}");
    assert!(reason.contains("gave up after 3 attempts"), "{reason}");
    assert_eq!(fake.calls().asymmetric_sign, 3);
    // The next call starts afresh.
    signer.sign(b"hello").await.unwrap();
}

#[tokio::test]
async fn an_internal_error_is_not_retried() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let signer = connect(&fake, SigningAlgorithm::ES256).await;
    fake.fail_next(Fault::Status(500, "INTERNAL"));
    let reason = unavailable_reason(signer.sign(b"hello").await);
    assert!(reason.contains("HTTP 500 INTERNAL"), "{reason}");
    assert_eq!(fake.calls().asymmetric_sign, 1);
}

#[tokio::test]
async fn a_reply_slower_than_the_timeout_is_abandoned_and_retried() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let config = KmsConfig {
        timeout: Duration::from_millis(300),
        ..config(&fake, SigningAlgorithm::ES256)
    };
    let signer = KmsSigner::connect_with(config, StaticToken::new())
        .await
        .unwrap();
    fake.fail_next(Fault::Delay(Duration::from_secs(3)));
    let started = Instant::now();
    signer.sign(b"hello").await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.calls().asymmetric_sign, 2);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = KmsConfig {
        endpoint: format!("http://127.0.0.1:{port}"),
        max_retries: 1,
        timeout: Duration::from_secs(2),
        algorithm: SigningAlgorithm::ES256,
        ..KmsConfig::new(KEY_NAME)
    };
    let reason = unavailable_reason(KmsSigner::connect_with(config, StaticToken::new()).await);
    assert!(reason.contains("connection failed"), "{reason}");
    assert!(reason.contains("gave up after 2 attempts"), "{reason}");
    assert!(reason.contains("getPublicKey"), "{reason}");
}

// ---- integrity checks on asymmetricSign ----

#[tokio::test]
async fn a_corrupted_signature_crc32c_is_an_error_not_a_signature() {
    let fake = FakeKms::start(TestKey::rsa_pkcs1_4096()).await;
    let signer = connect(&fake, SigningAlgorithm::RS256).await;
    fake.fail_next(Fault::CorruptSignatureCrc);
    let reason = unavailable_reason(signer.sign(b"hello").await);
    assert!(reason.contains("signatureCrc32c"), "{reason}");
    assert_eq!(fake.calls().asymmetric_sign, 1);
}

#[tokio::test]
async fn a_digest_damaged_on_the_way_is_a_retryable_error() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let signer = connect(&fake, SigningAlgorithm::ES256).await;
    fake.fail_next(Fault::CorruptRequest);
    let reason = unavailable_reason(signer.sign(b"hello").await);
    assert!(reason.contains("corrupted on the way"), "{reason}");
    assert!(reason.contains("digestCrc32c"), "{reason}");
    assert_eq!(fake.calls().asymmetric_sign, 1);
    signer.sign(b"hello").await.unwrap();
}

#[tokio::test]
async fn a_reply_for_another_key_version_is_refused() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let signer = connect(&fake, SigningAlgorithm::ES256).await;
    fake.fail_next(Fault::WrongName);
    let reason = unavailable_reason(signer.sign(b"hello").await);
    assert!(reason.contains("cryptoKeyVersions/2"), "{reason}");
}

#[tokio::test]
async fn an_unverified_digest_crc32c_is_refused() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let signer = connect(&fake, SigningAlgorithm::ES256).await;
    fake.fail_next(Fault::DigestNotVerified);
    let reason = unavailable_reason(signer.sign(b"hello").await);
    assert!(reason.contains("verifiedDigestCrc32c"), "{reason}");
}

#[tokio::test]
async fn a_signature_that_does_not_verify_with_the_public_key_is_refused() {
    for (key, algorithm) in [
        (TestKey::p256(), SigningAlgorithm::ES256),
        (TestKey::rsa_pss(2048), SigningAlgorithm::PS256),
    ] {
        let fake = FakeKms::start(key).await;
        let signer = connect(&fake, algorithm).await;
        fake.fail_next(Fault::SignWithOtherKey);
        let reason = unavailable_reason(signer.sign(b"hello").await);
        assert!(reason.contains("does not verify"), "{algorithm}: {reason}");
    }
}

// ---- key state and permissions ----

#[tokio::test]
async fn a_disabled_key_is_unavailable_with_the_reason_and_not_retried() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let signer = connect(&fake, SigningAlgorithm::ES256).await;
    fake.fail_next(Fault::Status(400, "FAILED_PRECONDITION"));
    let reason = unavailable_reason(signer.sign(b"hello").await);
    assert!(reason.contains("FAILED_PRECONDITION"), "{reason}");
    assert!(reason.contains("disabled, destroyed"), "{reason}");
    assert!(reason.contains("current state is: DISABLED"), "{reason}");
    assert_eq!(fake.calls().asymmetric_sign, 1);
}

#[tokio::test]
async fn permission_denied_names_the_role_to_grant() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let signer = connect(&fake, SigningAlgorithm::ES256).await;
    fake.fail_next(Fault::Status(403, "PERMISSION_DENIED"));
    let reason = unavailable_reason(signer.sign(b"hello").await);
    assert!(reason.contains("roles/cloudkms.signerVerifier"), "{reason}");
    assert!(reason.contains(KEY_NAME), "{reason}");
    assert_eq!(fake.calls().asymmetric_sign, 1);

    // At start-up too.
    fake.fail_next(Fault::Status(403, "PERMISSION_DENIED"));
    let result =
        KmsSigner::connect_with(config(&fake, SigningAlgorithm::ES256), StaticToken::new()).await;
    assert!(unavailable_reason(result).contains("roles/cloudkms.signerVerifier"));
}

#[tokio::test]
async fn an_unknown_key_version_is_not_found_at_start_up() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let config = KmsConfig {
        key_version: KEY_NAME.replace("cryptoKeyVersions/1", "cryptoKeyVersions/9"),
        ..config(&fake, SigningAlgorithm::ES256)
    };
    let reason = unavailable_reason(KmsSigner::connect_with(config, StaticToken::new()).await);
    assert!(reason.contains("NOT_FOUND"), "{reason}");
    assert!(
        reason.contains("cryptoKeyVersions/9 does not exist"),
        "{reason}"
    );
}

// ---- start-up checks on getPublicKey ----

#[tokio::test]
async fn an_algorithm_mismatch_fails_start_up_naming_both_algorithms() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let result =
        KmsSigner::connect_with(config(&fake, SigningAlgorithm::RS256), StaticToken::new()).await;
    let Err(Error::InvalidInput {
        field: "algorithm",
        reason,
    }) = result
    else {
        panic!("expected an invalid algorithm, got {result:?}");
    };
    assert!(reason.contains("EC_SIGN_P256_SHA256"), "{reason}");
    assert!(reason.contains("RS256"), "{reason}");
    assert!(reason.contains("set the algorithm to ES256"), "{reason}");

    let fake = FakeKms::start(TestKey::rsa_pkcs1_4096()).await;
    for configured in [SigningAlgorithm::ES256, SigningAlgorithm::PS256] {
        let result = KmsSigner::connect_with(config(&fake, configured), StaticToken::new()).await;
        let Err(Error::InvalidInput {
            field: "algorithm",
            reason,
        }) = result
        else {
            panic!("expected an invalid algorithm, got {result:?}");
        };
        assert!(reason.contains("RSA_SIGN_PKCS1_4096_SHA256"), "{reason}");
        assert!(reason.contains(configured.as_str()), "{reason}");
    }
}

#[tokio::test]
async fn a_key_that_is_not_what_its_algorithm_says_fails_start_up() {
    let fake = FakeKms::start(TestKey::rsa_pss(2048)).await;
    fake.announce_algorithm("EC_SIGN_P256_SHA256");
    let reason = unavailable_reason(
        KmsSigner::connect_with(config(&fake, SigningAlgorithm::ES256), StaticToken::new()).await,
    );
    assert!(reason.contains("not a P-256 key"), "{reason}");
}

#[tokio::test]
async fn a_corrupted_public_key_crc32c_fails_start_up() {
    let fake = FakeKms::start(TestKey::p256()).await;
    fake.fail_next(Fault::CorruptPemCrc);
    let reason = unavailable_reason(
        KmsSigner::connect_with(config(&fake, SigningAlgorithm::ES256), StaticToken::new()).await,
    );
    assert!(reason.contains("pemCrc32c"), "{reason}");
}

#[tokio::test]
async fn a_public_key_for_another_key_version_fails_start_up() {
    let fake = FakeKms::start(TestKey::p256()).await;
    fake.fail_next(Fault::WrongName);
    let reason = unavailable_reason(
        KmsSigner::connect_with(config(&fake, SigningAlgorithm::ES256), StaticToken::new()).await,
    );
    assert!(reason.contains("cryptoKeyVersions/2"), "{reason}");
}

#[tokio::test]
async fn an_invalid_config_fails_before_any_request() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let config = KmsConfig {
        key_version: "projects/acme/keyRings/license".into(),
        ..config(&fake, SigningAlgorithm::ES256)
    };
    let result = KmsSigner::connect_with(config, StaticToken::new()).await;
    assert!(matches!(
        result,
        Err(Error::InvalidInput {
            field: "key_version",
            ..
        })
    ));
    assert!(fake.seen().is_empty());
}

#[tokio::test]
async fn check_passes_while_the_key_is_unchanged_and_fails_once_it_is_swapped() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let signer = connect(&fake, SigningAlgorithm::ES256).await;
    signer.check().await.unwrap();
    fake.replace_key(TestKey::p256());
    let reason = unavailable_reason(signer.check().await);
    assert!(reason.contains("changed since start-up"), "{reason}");
    // A signature by the new key is refused too: it does not verify with the published one.
    let reason = unavailable_reason(signer.sign(b"hello").await);
    assert!(reason.contains("does not verify"), "{reason}");
}
