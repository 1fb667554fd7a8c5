//! Lease tokens: they round-trip, and every kind of forgery or misuse is refused with its own
//! error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{TimeDelta, Utc};
use license_core::token::issue;
use license_core::*;

/// The tenant every token here is for (and every verifier expects).
fn tenant() -> TenantId {
    TenantId::from(uuid::Uuid::from_u128(7))
}

fn claims(exp_in: i64) -> LeaseClaims {
    let now = Utc::now().timestamp();
    LeaseClaims {
        iss: "acme".into(),
        aud: Some(tenant()),
        sub: SessionId::new(),
        tid: tenant(),
        lic: LicenseId::new(),
        hwid: "laptop-1".into(),
        ent: vec!["pro".into()],
        iat: now,
        nbf: now,
        exp: now + exp_in,
        ovd: false,
        brw: false,
    }
}

fn verifier_for(signer: &LocalSigner) -> TokenVerifier {
    TokenVerifier::new(
        Jwks {
            keys: vec![signer.public_jwk()],
        },
        "acme",
        tenant(),
    )
}

fn parts(token: &str) -> (String, String, String) {
    let p: Vec<_> = token.split('.').collect();
    (p[0].to_owned(), p[1].to_owned(), p[2].to_owned())
}

fn b64_json(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn tokens_round_trip_for_every_algorithm() {
    for alg in [
        SigningAlgorithm::EdDSA,
        SigningAlgorithm::RS256,
        SigningAlgorithm::PS256,
        SigningAlgorithm::ES256,
    ] {
        let signer = LocalSigner::generate(alg).unwrap();
        let claims = claims(360);
        let token = issue(&signer, &claims).await.unwrap();
        let verified = verifier_for(&signer).verify(&token, Utc::now());
        assert_eq!(verified, Ok(claims), "{alg}");
        let (header, _, _) = parts(&token);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header["typ"], "license+jwt");
        assert_eq!(header["alg"], alg.as_str());
        assert_eq!(header["kid"], signer.key_id());
    }
}

#[tokio::test]
async fn tampered_payload_is_refused() {
    let signer = LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap();
    let token = issue(&signer, &claims(360)).await.unwrap();
    let (h, c, s) = parts(&token);
    let mut forged: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).unwrap()).unwrap();
    forged["exp"] = serde_json::json!(forged["exp"].as_i64().unwrap() + 86_400);
    let forged = format!("{h}.{}.{s}", b64_json(&forged));
    assert_eq!(
        verifier_for(&signer).verify(&forged, Utc::now()),
        Err(TokenError::BadSignature)
    );
}

#[tokio::test]
async fn tampered_header_is_refused() {
    let signer = LocalSigner::generate(SigningAlgorithm::ES256).unwrap();
    let token = issue(&signer, &claims(360)).await.unwrap();
    let (_, c, s) = parts(&token);
    // Same alg and kid, but one more member: the signature no longer covers the header.
    let header = serde_json::json!({
        "alg": "ES256", "typ": "license+jwt", "kid": signer.key_id(), "x5u": "https://evil.example"
    });
    let forged = format!("{}.{c}.{s}", b64_json(&header));
    assert_eq!(
        verifier_for(&signer).verify(&forged, Utc::now()),
        Err(TokenError::BadSignature)
    );
}

#[tokio::test]
async fn token_of_another_key_is_refused() {
    let ours = LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap();
    let theirs = LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap();
    let token = issue(&theirs, &claims(360)).await.unwrap();
    assert_eq!(
        verifier_for(&ours).verify(&token, Utc::now()),
        Err(TokenError::UnknownKey(theirs.key_id().to_owned()))
    );
    // Even when the attacker copies our kid, the signature gives it away.
    let (_, c, s) = parts(&token);
    let header = serde_json::json!({"alg": "EdDSA", "typ": "license+jwt", "kid": ours.key_id()});
    let forged = format!("{}.{c}.{s}", b64_json(&header));
    assert_eq!(
        verifier_for(&ours).verify(&forged, Utc::now()),
        Err(TokenError::BadSignature)
    );
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused() {
    let signer = LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap();
    let verifier = verifier_for(&signer).with_leeway_seconds(30);
    let token = issue(&signer, &claims(60)).await.unwrap();
    let now = Utc::now();
    assert!(
        verifier
            .verify(&token, now + TimeDelta::seconds(80))
            .is_ok(),
        "within leeway"
    );
    assert_eq!(
        verifier.verify(&token, now + TimeDelta::seconds(100)),
        Err(TokenError::Expired)
    );
    assert_eq!(
        verifier.verify(&token, now - TimeDelta::seconds(100)),
        Err(TokenError::NotYetValid)
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let signer = LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap();
    let header = serde_json::json!({"alg": "none", "typ": "license+jwt", "kid": signer.key_id()});
    let body = serde_json::to_value(claims(360)).unwrap();
    let token = format!("{}.{}.", b64_json(&header), b64_json(&body));
    assert_eq!(
        verifier_for(&signer).verify(&token, Utc::now()),
        Err(TokenError::AlgorithmNotAllowed("none".into()))
    );
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let signer = LocalSigner::generate(SigningAlgorithm::RS256).unwrap();
    let jwk = signer.public_jwk();
    let header = serde_json::json!({"alg": "HS256", "typ": "license+jwt", "kid": jwk.kid});
    let body = serde_json::to_value(claims(360)).unwrap();
    let input = format!("{}.{}", b64_json(&header), b64_json(&body));
    // The classic confusion attack: the public key (as the verifier knows it) as HMAC secret.
    let secret = serde_json::to_vec(&jwk).unwrap();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
    assert_eq!(
        verifier_for(&signer).verify(&token, Utc::now()),
        Err(TokenError::AlgorithmNotAllowed("HS256".into()))
    );
}

#[tokio::test]
async fn header_algorithm_must_match_the_key() {
    let rsa = LocalSigner::generate(SigningAlgorithm::RS256).unwrap();
    let token = issue(&rsa, &claims(360)).await.unwrap();
    let (_, c, s) = parts(&token);
    // Same key, but the header claims PS256: the key pins RS256.
    let header = serde_json::json!({"alg": "PS256", "typ": "license+jwt", "kid": rsa.key_id()});
    let forged = format!("{}.{c}.{s}", b64_json(&header));
    assert_eq!(
        verifier_for(&rsa).verify(&forged, Utc::now()),
        Err(TokenError::AlgorithmMismatch {
            header: "PS256".into(),
            key: "RS256".into()
        })
    );
}

#[tokio::test]
async fn wrong_issuer_and_garbage_are_refused() {
    let signer = LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap();
    let mut c = claims(360);
    c.iss = "globex".into();
    let token = issue(&signer, &c).await.unwrap();
    assert_eq!(
        verifier_for(&signer).verify(&token, Utc::now()),
        Err(TokenError::WrongIssuer("globex".into()))
    );
    for garbage in ["", "a.b", "a.b.c.d", "!!!.???.###", "e30.e30.e30"] {
        assert!(
            matches!(
                verifier_for(&signer).verify(garbage, Utc::now()),
                Err(TokenError::Malformed(_) | TokenError::AlgorithmNotAllowed(_))
            ),
            "{garbage:?}"
        );
    }
}

#[test]
fn keys_round_trip_through_pkcs8_and_reject_the_wrong_algorithm() {
    let ed = LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap();
    let again = LocalSigner::from_pkcs8(SigningAlgorithm::EdDSA, &ed.to_pkcs8()).unwrap();
    assert_eq!(again.public_jwk(), ed.public_jwk());
    assert!(LocalSigner::from_pkcs8(SigningAlgorithm::ES256, &ed.to_pkcs8()).is_err());
    assert!(LocalSigner::from_pkcs8(SigningAlgorithm::RS256, b"not a key").is_err());
}
