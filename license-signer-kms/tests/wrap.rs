//! `KmsKeyWrapper` against the in-test Cloud KMS (`license_testkit::fake_kms`): real
//! AES-256-GCM behind real HTTP on loopback, faults injected one request at a time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use license_core::{Dependency, Error, KeyWrapper};
use license_signer_kms::{KmsKeyWrapper, KmsWrapConfig};
use license_testkit::fake_kms::{
    ACCESS_TOKEN, Calls, FakeKms, Fault, OTHER_WRAP_KEY, StaticToken, TestKey, WRAP_KEY,
};

const SECRET: &[u8] = b"-----tenant 7's PKCS#8 private key-----";
const CONTEXT: &[u8] = b"tenant 7, key 3";

/// A config for the fake's `crypto_key`: short timeout, two retries.
fn config(fake: &FakeKms, crypto_key: &str) -> KmsWrapConfig {
    KmsWrapConfig {
        endpoint: fake.endpoint().to_owned(),
        timeout: Duration::from_secs(5),
        max_retries: 2,
        ..KmsWrapConfig::new(crypto_key)
    }
}

async fn start() -> FakeKms {
    FakeKms::start(TestKey::p256()).await
}

async fn connect(fake: &FakeKms, crypto_key: &str) -> KmsKeyWrapper {
    KmsKeyWrapper::connect_with(config(fake, crypto_key), StaticToken::new())
        .await
        .unwrap()
}

/// `Error`'s text and `Debug`, checked to carry neither the access token nor the secret.
fn checked_text(error: &Error) -> String {
    let text = error.to_string();
    for shown in [text.clone(), format!("{error:?}")] {
        assert!(!shown.contains(ACCESS_TOKEN), "token leaked into {shown}");
        assert!(
            !shown.contains(std::str::from_utf8(SECRET).unwrap()),
            "plaintext leaked into {shown}"
        );
    }
    text
}

/// The reason of a retryable signer-unavailable error.
fn unavailable_reason<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(
            error @ Error::Unavailable {
                dependency: Dependency::Signer,
                ..
            },
        ) => {
            assert!(error.is_retryable());
            checked_text(&error)
        }
        other => panic!("expected Cloud KMS to be unavailable, got {other:?}"),
    }
}

/// The text of an internal (not retryable) error.
fn internal_reason<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(error @ Error::Internal(_)) => {
            assert!(!error.is_retryable());
            checked_text(&error)
        }
        other => panic!("expected an internal error, got {other:?}"),
    }
}

// ---- round trips ----

#[tokio::test]
async fn a_wrapped_key_unwraps_with_its_context() {
    let fake = start().await;
    let wrapper = connect(&fake, WRAP_KEY).await;
    assert_eq!(wrapper.id(), WRAP_KEY);

    let sealed = wrapper.wrap(SECRET, CONTEXT).await.unwrap();
    assert!(!sealed.windows(SECRET.len()).any(|w| w == SECRET));
    assert_eq!(wrapper.unwrap(&sealed, CONTEXT).await.unwrap(), SECRET);
    // A fresh nonce each time: the same key wraps differently.
    assert_ne!(wrapper.wrap(SECRET, CONTEXT).await.unwrap(), sealed);
    // An empty context is a context too.
    let bare = wrapper.wrap(SECRET, b"").await.unwrap();
    assert_eq!(wrapper.unwrap(&bare, b"").await.unwrap(), SECRET);
    internal_reason(wrapper.unwrap(&bare, CONTEXT).await);
}

#[tokio::test]
async fn connect_costs_one_round_trip_and_each_call_one_request() {
    let fake = start().await;
    let wrapper = connect(&fake, WRAP_KEY).await;
    let probe = Calls {
        encrypt: 1,
        decrypt: 1,
        ..Calls::default()
    };
    assert_eq!(fake.calls(), probe);

    let sealed = wrapper.wrap(SECRET, CONTEXT).await.unwrap();
    wrapper.unwrap(&sealed, CONTEXT).await.unwrap();
    wrapper.unwrap(&sealed, CONTEXT).await.unwrap();
    assert_eq!(
        fake.calls(),
        Calls {
            encrypt: 2,
            decrypt: 3,
            ..Calls::default()
        }
    );
    let seen = fake.seen();
    assert_eq!(seen[0].path, format!("/v1/{WRAP_KEY}:encrypt"));
    assert_eq!(seen[1].path, format!("/v1/{WRAP_KEY}:decrypt"));
    for request in &seen {
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.authorization.as_deref(),
            Some(format!("Bearer {ACCESS_TOKEN}").as_str())
        );
    }
    let debug = format!("{wrapper:?}");
    assert!(
        debug.contains(WRAP_KEY) && !debug.contains(ACCESS_TOKEN),
        "{debug}"
    );
}

#[tokio::test]
async fn keys_wrapped_before_a_rotation_still_unwrap() {
    let fake = start().await;
    let wrapper = connect(&fake, WRAP_KEY).await;
    let before = wrapper.wrap(SECRET, CONTEXT).await.unwrap();
    fake.rotate_wrap_key(WRAP_KEY);
    // The reply names version 2 now, still a version of the configured key.
    let after = wrapper.wrap(SECRET, CONTEXT).await.unwrap();
    assert_eq!(wrapper.unwrap(&before, CONTEXT).await.unwrap(), SECRET);
    assert_eq!(wrapper.unwrap(&after, CONTEXT).await.unwrap(), SECRET);
}

// ---- ciphertexts that do not authenticate ----

#[tokio::test]
async fn a_wrong_context_is_refused_as_internal_naming_the_key() {
    let fake = start().await;
    let wrapper = connect(&fake, WRAP_KEY).await;
    let sealed = wrapper.wrap(SECRET, CONTEXT).await.unwrap();
    let reason = internal_reason(wrapper.unwrap(&sealed, b"tenant 8, key 3").await);
    assert!(reason.contains(WRAP_KEY), "{reason}");
    assert!(reason.contains("refused the ciphertext"), "{reason}");
    assert!(reason.contains("INVALID_ARGUMENT"), "{reason}");
    // Refusals are not retried: trying again cannot help.
    assert_eq!(fake.calls().decrypt, 2);
}

#[tokio::test]
async fn a_ciphertext_of_another_key_is_refused() {
    let fake = start().await;
    let ours = connect(&fake, WRAP_KEY).await;
    let theirs = connect(&fake, OTHER_WRAP_KEY).await;
    let sealed = theirs.wrap(SECRET, CONTEXT).await.unwrap();
    assert_eq!(theirs.unwrap(&sealed, CONTEXT).await.unwrap(), SECRET);
    let reason = internal_reason(ours.unwrap(&sealed, CONTEXT).await);
    assert!(reason.contains(WRAP_KEY), "{reason}");

    let mut damaged = ours.wrap(SECRET, CONTEXT).await.unwrap();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x80;
    internal_reason(ours.unwrap(&damaged, CONTEXT).await);
    internal_reason(ours.unwrap(b"not a ciphertext", CONTEXT).await);
}

// ---- integrity checks ----

#[tokio::test]
async fn a_damaged_encrypt_reply_is_retryable_and_returns_no_ciphertext() {
    let fake = start().await;
    let wrapper = connect(&fake, WRAP_KEY).await;
    for (fault, expected) in [
        (Fault::CorruptCiphertextCrc, "ciphertextCrc32c"),
        (Fault::CorruptCiphertext, "ciphertextCrc32c"),
        (Fault::PlaintextCrcNotVerified, "verifiedPlaintextCrc32c"),
        (
            Fault::AadCrcNotVerified,
            "verifiedAdditionalAuthenticatedDataCrc32c",
        ),
        (Fault::WrongName, OTHER_WRAP_KEY),
        (Fault::CorruptRequest, "corrupted on the way"),
    ] {
        let encrypts = fake.calls().encrypt;
        fake.fail_next(fault.clone());
        let reason = unavailable_reason(wrapper.wrap(SECRET, CONTEXT).await);
        assert!(reason.contains(expected), "{fault:?}: {reason}");
        assert!(
            reason.starts_with("signer unavailable: Cloud KMS encrypt: "),
            "{reason}"
        );
        assert_eq!(fake.calls().encrypt, encrypts + 1, "{fault:?} was retried");
    }
    // The next call is served as usual.
    let sealed = wrapper.wrap(SECRET, CONTEXT).await.unwrap();
    assert_eq!(wrapper.unwrap(&sealed, CONTEXT).await.unwrap(), SECRET);
}

#[tokio::test]
async fn a_damaged_decrypt_reply_is_retryable_and_never_returns_wrong_plaintext() {
    let fake = start().await;
    let wrapper = connect(&fake, WRAP_KEY).await;
    let sealed = wrapper.wrap(SECRET, CONTEXT).await.unwrap();
    for (fault, expected) in [
        (Fault::CorruptPlaintext, "plaintextCrc32c"),
        (Fault::CorruptPlaintextCrc, "plaintextCrc32c"),
        // A ciphertext damaged on the way is no reason to give up on the stored key.
        (Fault::CorruptRequest, "corrupted on the way"),
    ] {
        fake.fail_next(fault.clone());
        let reason = unavailable_reason(wrapper.unwrap(&sealed, CONTEXT).await);
        assert!(reason.contains(expected), "{fault:?}: {reason}");
        assert!(
            reason.starts_with("signer unavailable: Cloud KMS decrypt: "),
            "{reason}"
        );
    }
    assert_eq!(wrapper.unwrap(&sealed, CONTEXT).await.unwrap(), SECRET);
}

// ---- retries ----

#[tokio::test]
async fn unavailable_is_retried_then_succeeds() {
    let fake = start().await;
    let wrapper = connect(&fake, WRAP_KEY).await;
    fake.fail_next(Fault::Status(503, "UNAVAILABLE"));
    let sealed = wrapper.wrap(SECRET, CONTEXT).await.unwrap();
    assert_eq!(fake.calls().encrypt, 1 + 2);

    fake.fail_next(Fault::Status(503, "UNAVAILABLE"));
    fake.fail_next(Fault::Status(429, "RESOURCE_EXHAUSTED"));
    assert_eq!(wrapper.unwrap(&sealed, CONTEXT).await.unwrap(), SECRET);
    assert_eq!(fake.calls().decrypt, 1 + 3);
}

#[tokio::test]
async fn retries_stop_after_max_retries_and_errors_are_not_retried() {
    let fake = start().await;
    let wrapper = connect(&fake, WRAP_KEY).await;
    for _ in 0..3 {
        fake.fail_next(Fault::Status(504, "DEADLINE_EXCEEDED"));
    }
    let reason = unavailable_reason(wrapper.wrap(SECRET, CONTEXT).await);
    assert!(reason.contains("gave up after 3 attempts"), "{reason}");
    assert_eq!(fake.calls().encrypt, 1 + 3);

    fake.fail_next(Fault::Status(500, "INTERNAL"));
    let reason = unavailable_reason(wrapper.wrap(SECRET, CONTEXT).await);
    assert!(reason.contains("HTTP 500 INTERNAL"), "{reason}");
    assert_eq!(fake.calls().encrypt, 1 + 3 + 1);
}

#[tokio::test]
async fn a_reply_slower_than_the_timeout_is_abandoned_and_retried() {
    let fake = start().await;
    let config = KmsWrapConfig {
        timeout: Duration::from_millis(300),
        ..config(&fake, WRAP_KEY)
    };
    let wrapper = KmsKeyWrapper::connect_with(config, StaticToken::new())
        .await
        .unwrap();
    let sealed = wrapper.wrap(SECRET, CONTEXT).await.unwrap();
    fake.fail_next(Fault::Delay(Duration::from_secs(3)));
    let started = Instant::now();
    assert_eq!(wrapper.unwrap(&sealed, CONTEXT).await.unwrap(), SECRET);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.calls().decrypt, 1 + 2);
}

// ---- permissions, key state, configuration ----

#[tokio::test]
async fn permission_denied_names_the_role_and_the_key() {
    let fake = start().await;
    fake.fail_next(Fault::Status(403, "PERMISSION_DENIED"));
    let reason = unavailable_reason(
        KmsKeyWrapper::connect_with(config(&fake, WRAP_KEY), StaticToken::new()).await,
    );
    assert!(
        reason.contains("roles/cloudkms.cryptoKeyEncrypterDecrypter"),
        "{reason}"
    );
    assert!(reason.contains(WRAP_KEY), "{reason}");
    assert!(reason.contains("useToEncrypt"), "{reason}");

    let wrapper = connect(&fake, WRAP_KEY).await;
    let sealed = wrapper.wrap(SECRET, CONTEXT).await.unwrap();
    fake.fail_next(Fault::Status(403, "PERMISSION_DENIED"));
    let reason = unavailable_reason(wrapper.unwrap(&sealed, CONTEXT).await);
    assert!(
        reason.contains("roles/cloudkms.cryptoKeyEncrypterDecrypter"),
        "{reason}"
    );
    assert!(reason.contains("useToDecrypt"), "{reason}");
}

#[tokio::test]
async fn connect_fails_clearly_on_a_missing_key() {
    let fake = start().await;
    let missing = WRAP_KEY.replace("tenant-keys", "tenant-keys-typo");
    let reason = unavailable_reason(
        KmsKeyWrapper::connect_with(config(&fake, &missing), StaticToken::new()).await,
    );
    assert!(
        reason.contains(&format!("{missing} does not exist")),
        "{reason}"
    );
    assert!(reason.contains("check crypto_key"), "{reason}");
    assert_eq!(fake.calls().encrypt, 1);
    assert_eq!(fake.calls().decrypt, 0);
}

#[tokio::test]
async fn connect_fails_clearly_on_a_disabled_key() {
    let fake = start().await;
    fake.fail_next(Fault::Status(400, "FAILED_PRECONDITION"));
    let reason = unavailable_reason(
        KmsKeyWrapper::connect_with(config(&fake, WRAP_KEY), StaticToken::new()).await,
    );
    assert!(reason.contains("cannot encrypt"), "{reason}");
    assert!(reason.contains("current state is: DISABLED"), "{reason}");
}

#[tokio::test]
async fn an_invalid_config_fails_before_any_request() {
    let fake = start().await;
    let version = format!("{WRAP_KEY}/cryptoKeyVersions/1");
    let result = KmsKeyWrapper::connect_with(config(&fake, &version), StaticToken::new()).await;
    let Err(Error::InvalidInput { field, reason }) = result else {
        panic!("expected an invalid crypto_key, got {result:?}");
    };
    assert_eq!(field, "crypto_key");
    assert!(reason.contains("not a key version"), "{reason}");
    assert!(fake.seen().is_empty());
}

#[tokio::test]
async fn a_refused_access_token_is_reported_as_a_credentials_problem() {
    let fake = start().await;
    let result =
        KmsKeyWrapper::connect_with(config(&fake, WRAP_KEY), StaticToken::with("ya29.wrong")).await;
    let reason = unavailable_reason(result);
    assert!(reason.contains("UNAUTHENTICATED"), "{reason}");
    assert!(!reason.contains("ya29.wrong"), "{reason}");
}
