//! An in-test Cloud KMS: the two v1 REST methods on 127.0.0.1, signing with real keys made by
//! aws-lc-rs, with correct CRC32Cs, and faults to inject one request at a time.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::digest::{Digest, SHA256};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gcp_auth::{Token, TokenProvider};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use license_core::SigningAlgorithm;
use license_signer_kms::KmsConfig;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The key version the fake serves.
pub const KEY_NAME: &str = "projects/acme-test/locations/europe-west1/keyRings/license/cryptoKeys/lease/cryptoKeyVersions/1";

/// The access token the static provider hands out and the fake expects.
pub const ACCESS_TOKEN: &str = "ya29.static-test-token-7f3a";

/// RSA keys are slow to make: one of each size per test binary.
static RSA_4096: LazyLock<Arc<RsaKeyPair>> =
    LazyLock::new(|| Arc::new(RsaKeyPair::generate(KeySize::Rsa4096).unwrap()));
static RSA_3072: LazyLock<Arc<RsaKeyPair>> =
    LazyLock::new(|| Arc::new(RsaKeyPair::generate(KeySize::Rsa3072).unwrap()));
static RSA_2048: LazyLock<Arc<RsaKeyPair>> =
    LazyLock::new(|| Arc::new(RsaKeyPair::generate(KeySize::Rsa2048).unwrap()));

enum Material {
    Rsa(Arc<RsaKeyPair>),
    P256(EcdsaKeyPair),
}

/// A KMS key: its material and the Cloud KMS algorithm it announces.
pub struct TestKey {
    material: Material,
    kms_algorithm: &'static str,
}

impl TestKey {
    /// `RSA_SIGN_PKCS1_4096_SHA256`, the default.
    pub fn rsa_pkcs1_4096() -> Self {
        Self::rsa(&RSA_4096, "RSA_SIGN_PKCS1_4096_SHA256")
    }

    /// `RSA_SIGN_PSS_<bits>_SHA256`.
    pub fn rsa_pss(bits: u32) -> Self {
        match bits {
            2048 => Self::rsa(&RSA_2048, "RSA_SIGN_PSS_2048_SHA256"),
            3072 => Self::rsa(&RSA_3072, "RSA_SIGN_PSS_3072_SHA256"),
            4096 => Self::rsa(&RSA_4096, "RSA_SIGN_PSS_4096_SHA256"),
            _ => panic!("no {bits}-bit test key"),
        }
    }

    /// `EC_SIGN_P256_SHA256`, a fresh key each time.
    pub fn p256() -> Self {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        Self {
            material: Material::P256(key),
            kms_algorithm: "EC_SIGN_P256_SHA256",
        }
    }

    fn rsa(key: &Arc<RsaKeyPair>, kms_algorithm: &'static str) -> Self {
        Self {
            material: Material::Rsa(Arc::clone(key)),
            kms_algorithm,
        }
    }

    /// The public key as Cloud KMS returns it: PEM `SubjectPublicKeyInfo`, 64-column base64.
    pub fn pem(&self) -> String {
        let der = match &self.material {
            Material::Rsa(key) => key.public_key().as_der().unwrap().as_ref().to_vec(),
            Material::P256(key) => key.public_key().as_der().unwrap().as_ref().to_vec(),
        };
        let b64 = STANDARD.encode(der);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// Signs a SHA-256 digest the way KMS does: PKCS#1 v1.5 or PSS, or DER ECDSA.
    fn sign_digest(&self, digest: &[u8]) -> Vec<u8> {
        let digest = Digest::import_less_safe(digest, &SHA256).unwrap();
        match &self.material {
            Material::Rsa(key) => {
                let padding = if self.kms_algorithm.starts_with("RSA_SIGN_PSS") {
                    &RSA_PSS_SHA256
                } else {
                    &RSA_PKCS1_SHA256
                };
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign_digest(padding, &digest, &mut signature).unwrap();
                signature
            }
            Material::P256(key) => key.sign_digest(&digest).unwrap().as_ref().to_vec(),
        }
    }
}

/// Something to go wrong with the next request (each fault is used once, in order).
#[derive(Clone, Debug)]
pub enum Fault {
    /// Reply with this HTTP status and Google error `status`.
    Status(u16, &'static str),
    /// Reply correctly, but only after this long.
    Delay(Duration),
    /// `signatureCrc32c` off by one.
    CorruptSignatureCrc,
    /// `pemCrc32c` off by one.
    CorruptPemCrc,
    /// Another key version's `name` in the reply.
    WrongName,
    /// `verifiedDigestCrc32c: false`, as if the request's checksum never arrived.
    DigestNotVerified,
    /// A well-formed signature (with a correct CRC32C) by a key the public key does not match.
    SignWithOtherKey,
}

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
}

struct State {
    key: TestKey,
    announced_algorithm: String,
    faults: VecDeque<Fault>,
    seen: Vec<Seen>,
}

/// The running fake; stops when dropped.
pub struct FakeKms {
    endpoint: String,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for FakeKms {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeKms {
    /// Serves `key` as [`KEY_NAME`] on a free loopback port.
    pub async fn start(key: TestKey) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            announced_algorithm: key.kms_algorithm.to_owned(),
            key,
            faults: VecDeque::new(),
            seen: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        handle(Arc::clone(&state), request)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            endpoint,
            state,
            task,
        }
    }

    /// A config for this fake: short timeout, two retries.
    pub fn config(&self, algorithm: SigningAlgorithm) -> KmsConfig {
        KmsConfig {
            algorithm,
            endpoint: self.endpoint.clone(),
            timeout: Duration::from_secs(5),
            max_retries: 2,
            ..KmsConfig::new(KEY_NAME)
        }
    }

    /// Queues a fault for the next request that has none yet.
    pub fn fail_next(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push_back(fault);
    }

    /// Makes `getPublicKey` announce another algorithm than the key's.
    pub fn announce_algorithm(&self, kms_algorithm: &str) {
        self.state.lock().unwrap().announced_algorithm = kms_algorithm.to_owned();
    }

    /// Swaps the key behind the key version (what a misconfigured rotation would look like).
    pub fn replace_key(&self, key: TestKey) {
        let mut state = self.state.lock().unwrap();
        state.announced_algorithm = key.kms_algorithm.to_owned();
        state.key = key;
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// How many `asymmetricSign` calls arrived.
    pub fn sign_calls(&self) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.path.ends_with(":asymmetricSign"))
            .count()
    }
}

type Reply = Response<Full<Bytes>>;

fn json_reply(status: u16, body: &Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=UTF-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn google_error(code: u16, status: &str, message: &str) -> Reply {
    json_reply(
        code,
        &json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

fn crc_text(bytes: &[u8]) -> String {
    crc32c::crc32c(bytes).to_string()
}

fn bumped(crc: &str) -> String {
    (crc.parse::<u64>().unwrap() + 1).to_string()
}

async fn handle(state: Arc<Mutex<State>>, request: Request<Incoming>) -> Result<Reply, Infallible> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(google_error(400, "INVALID_ARGUMENT", "unreadable body")),
    };
    let fault = {
        let mut state = state.lock().unwrap();
        state.seen.push(Seen {
            method: method.clone(),
            path: path.clone(),
            authorization: authorization.clone(),
        });
        state.faults.pop_front()
    };
    if let Some(Fault::Delay(wait)) = fault {
        tokio::time::sleep(wait).await;
    }
    if let Some(Fault::Status(code, status)) = fault {
        let message = match status {
            "FAILED_PRECONDITION" => {
                format!("{KEY_NAME} is not enabled, current state is: DISABLED.")
            }
            "PERMISSION_DENIED" => format!(
                "Permission 'cloudkms.cryptoKeyVersions.useToSign' denied on resource '{KEY_NAME}' (or it may not exist)."
            ),
            other => format!("injected {other}"),
        };
        return Ok(google_error(code, status, &message));
    }
    if authorization.as_deref() != Some(&format!("Bearer {ACCESS_TOKEN}")) {
        return Ok(google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        ));
    }
    let state = state.lock().unwrap();
    let reply = if method == "GET" && path == format!("/v1/{KEY_NAME}/publicKey") {
        public_key(&state, fault.as_ref())
    } else if method == "POST" && path == format!("/v1/{KEY_NAME}:asymmetricSign") {
        sign(&state, &body, fault.as_ref())
    } else {
        google_error(404, "NOT_FOUND", "CryptoKeyVersion not found.")
    };
    Ok(reply)
}

fn public_key(state: &State, fault: Option<&Fault>) -> Reply {
    let pem = state.key.pem();
    let mut reply = json!({
        "pem": pem,
        "algorithm": state.announced_algorithm,
        "pemCrc32c": crc_text(pem.as_bytes()),
        "name": KEY_NAME,
        "protectionLevel": "HSM",
    });
    match fault {
        Some(Fault::CorruptPemCrc) => {
            reply["pemCrc32c"] = json!(bumped(reply["pemCrc32c"].as_str().unwrap()));
        }
        Some(Fault::WrongName) => {
            reply["name"] = json!(KEY_NAME.replace("cryptoKeyVersions/1", "cryptoKeyVersions/2"));
        }
        _ => {}
    }
    json_reply(200, &reply)
}

fn sign(state: &State, body: &[u8], fault: Option<&Fault>) -> Reply {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    };
    let Some(digest) = request["digest"]["sha256"]
        .as_str()
        .and_then(|d| STANDARD.decode(d).ok())
        .filter(|d| d.len() == 32)
    else {
        return google_error(400, "INVALID_ARGUMENT", "digest.sha256 must be 32 bytes.");
    };
    // Like KMS: a digestCrc32c that does not match the digest is refused.
    let verified = match request["digestCrc32c"].as_str() {
        Some(crc) if crc == crc_text(&digest) => true,
        Some(_) => {
            return google_error(
                400,
                "INVALID_ARGUMENT",
                "Digest checksum verification failed.",
            );
        }
        None => false,
    };
    let signature = match fault {
        Some(Fault::SignWithOtherKey) => match &state.key.material {
            Material::Rsa(key) if key.public_modulus_len() == 512 => {
                TestKey::rsa(&RSA_2048, state.key.kms_algorithm).sign_digest(&digest)
            }
            Material::Rsa(_) => {
                TestKey::rsa(&RSA_4096, state.key.kms_algorithm).sign_digest(&digest)
            }
            Material::P256(_) => TestKey::p256().sign_digest(&digest),
        },
        _ => state.key.sign_digest(&digest),
    };
    let mut reply = json!({
        "signature": STANDARD.encode(&signature),
        "signatureCrc32c": crc_text(&signature),
        "verifiedDigestCrc32c": verified,
        "name": KEY_NAME,
        "verifiedDataCrc32c": false,
        "protectionLevel": "HSM",
    });
    match fault {
        Some(Fault::CorruptSignatureCrc) => {
            reply["signatureCrc32c"] = json!(bumped(reply["signatureCrc32c"].as_str().unwrap()));
        }
        Some(Fault::WrongName) => {
            reply["name"] = json!(KEY_NAME.replace("cryptoKeyVersions/1", "cryptoKeyVersions/2"));
        }
        Some(Fault::DigestNotVerified) => reply["verifiedDigestCrc32c"] = json!(false),
        _ => {}
    }
    json_reply(200, &reply)
}

/// A token provider that always hands out the same token, and records the scopes asked for.
#[derive(Debug)]
pub struct StaticToken {
    token: Arc<Token>,
    pub scopes: Mutex<Vec<String>>,
}

impl StaticToken {
    /// Hands out [`ACCESS_TOKEN`].
    pub fn new() -> Arc<Self> {
        Self::with(ACCESS_TOKEN)
    }

    /// Hands out `token`.
    pub fn with(token: &str) -> Arc<Self> {
        // gcp_auth builds tokens only from a token endpoint's JSON reply.
        let token: Token =
            serde_json::from_value(json!({"access_token": token, "expires_in": 3600})).unwrap();
        Arc::new(Self {
            token: Arc::new(token),
            scopes: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl TokenProvider for StaticToken {
    async fn token(&self, scopes: &[&str]) -> Result<Arc<Token>, gcp_auth::Error> {
        let mut seen = self.scopes.lock().unwrap();
        seen.extend(scopes.iter().map(|s| (*s).to_owned()));
        Ok(Arc::clone(&self.token))
    }

    async fn project_id(&self) -> Result<Arc<str>, gcp_auth::Error> {
        Ok(Arc::from("acme-test"))
    }
}
