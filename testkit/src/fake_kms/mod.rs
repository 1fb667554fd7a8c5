//! An in-test Cloud KMS: four v1 REST methods on 127.0.0.1 with real keys made by aws-lc-rs,
//! correct CRC32Cs, per-method call counters, and faults to inject one request at a time.
//!
//! - `GET v1/{KEY_NAME}/publicKey` and `POST v1/{KEY_NAME}:asymmetricSign`: the asymmetric key
//!   version [`KEY_NAME`], with the [`TestKey`] the fake was started with.
//! - `POST v1/{key}:encrypt` and `POST v1/{key}:decrypt` on the symmetric keys [`WRAP_KEY`]
//!   and [`OTHER_WRAP_KEY`]: AES-256-GCM with the `additionalAuthenticatedData`, fresh keys
//!   per fake, versions that rotate ([`FakeKms::rotate_wrap_key`]). Like Cloud KMS, a
//!   ciphertext or AAD that does not authenticate is HTTP 400 `INVALID_ARGUMENT`.
//!
//! Like Cloud KMS, every request CRC32C that is sent is checked (a mismatch is 400
//! `INVALID_ARGUMENT` naming the checksum), and every reply carries the integrity fields.
//! Only the bearer token [`ACCESS_TOKEN`] is accepted: hand [`StaticToken::new`] to the client.
//!
//! The fake does not depend on `license-signer-kms`; a test builds the adapter's config from
//! [`FakeKms::endpoint`] and the names here, e.g.
//! `KmsConfig { endpoint: fake.endpoint().into(), ..KmsConfig::new(fake_kms::KEY_NAME) }` or
//! `KmsWrapConfig { endpoint: fake.endpoint().into(), ..KmsWrapConfig::new(fake_kms::WRAP_KEY) }`.
//!
//! ```no_run
//! # async fn run() {
//! use license_testkit::fake_kms::{FakeKms, Fault, TestKey};
//! let fake = FakeKms::start(TestKey::p256()).await;
//! fake.fail_next(Fault::Status(503, "UNAVAILABLE")); // the next request, whichever it is
//! // … point a client at fake.endpoint() …
//! assert_eq!(fake.calls().encrypt, 0);
//! # }
//! ```
//!
//! [`KEY_NAME`]: crate::fake_kms::KEY_NAME
//! [`TestKey`]: crate::fake_kms::TestKey
//! [`WRAP_KEY`]: crate::fake_kms::WRAP_KEY
//! [`OTHER_WRAP_KEY`]: crate::fake_kms::OTHER_WRAP_KEY
//! [`FakeKms::rotate_wrap_key`]: crate::fake_kms::FakeKms::rotate_wrap_key
//! [`ACCESS_TOKEN`]: crate::fake_kms::ACCESS_TOKEN
//! [`StaticToken::new`]: crate::fake_kms::StaticToken::new
//! [`FakeKms::endpoint`]: crate::fake_kms::FakeKms::endpoint

/// Asymmetric signing keys and symmetric, versioned wrapping keys.
mod keys;
/// The four methods and the faults that change their replies.
mod methods;
/// The accept loop, routing, tokens, and error replies.
mod serve;
/// The static token provider.
mod token;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use keys::TestKey;
pub use token::StaticToken;

use keys::WrapKey;

/// The asymmetric key version the fake signs with.
pub const KEY_NAME: &str = "projects/acme-test/locations/europe-west1/keyRings/license/cryptoKeys/lease/cryptoKeyVersions/1";

/// A symmetric (`ENCRYPT_DECRYPT`) crypto key the fake serves.
pub const WRAP_KEY: &str =
    "projects/acme-test/locations/europe-west1/keyRings/license/cryptoKeys/tenant-keys";

/// Another symmetric crypto key, with its own key material: its ciphertexts do not decrypt
/// under [`WRAP_KEY`].
pub const OTHER_WRAP_KEY: &str =
    "projects/acme-test/locations/europe-west1/keyRings/license/cryptoKeys/tenant-keys-other";

/// The access token the static provider hands out and the fake expects.
pub const ACCESS_TOKEN: &str = "ya29.static-test-token-7f3a";

/// Something to go wrong with the next request, whichever method it calls (each fault is used
/// once, in order; a fault that means nothing for the method called is used up all the same).
#[derive(Clone, Debug)]
pub enum Fault {
    /// Any method: reply with this HTTP status and Google error `status`.
    Status(u16, &'static str),
    /// Any method: reply correctly, but only after this long.
    Delay(Duration),
    /// `asymmetricSign`, `encrypt`, `decrypt`: flip one bit of the data (digest, plaintext or
    /// ciphertext) as it arrives, as if damaged on the way, so its CRC32C does not match.
    CorruptRequest,
    /// `asymmetricSign`: `signatureCrc32c` off by one.
    CorruptSignatureCrc,
    /// `getPublicKey`: `pemCrc32c` off by one.
    CorruptPemCrc,
    /// `getPublicKey`, `asymmetricSign`: another key version's `name`; `encrypt`: a version of
    /// another crypto key.
    WrongName,
    /// `asymmetricSign`: `verifiedDigestCrc32c: false`, as if the checksum never arrived.
    DigestNotVerified,
    /// `asymmetricSign`: a well-formed signature (with a correct CRC32C) by a key the public
    /// key does not match.
    SignWithOtherKey,
    /// `encrypt`: `ciphertextCrc32c` off by one.
    CorruptCiphertextCrc,
    /// `encrypt`: one bit of the ciphertext flipped on the way back (its CRC32C is the
    /// original's).
    CorruptCiphertext,
    /// `encrypt`: `verifiedPlaintextCrc32c: false`.
    PlaintextCrcNotVerified,
    /// `encrypt`: `verifiedAdditionalAuthenticatedDataCrc32c: false`.
    AadCrcNotVerified,
    /// `decrypt`: `plaintextCrc32c` off by one.
    CorruptPlaintextCrc,
    /// `decrypt`: one bit of the plaintext flipped on the way back (its CRC32C is the
    /// original's).
    CorruptPlaintext,
}

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// `GET` or `POST`.
    pub method: String,
    /// The URL path, e.g. `/v1/{WRAP_KEY}:encrypt`.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

/// How many requests arrived for each method (whatever the reply: faults, refusals and
/// unknown keys count too). Read with [`FakeKms::calls`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Calls {
    /// `cryptoKeyVersions.getPublicKey`.
    pub get_public_key: usize,
    /// `cryptoKeyVersions.asymmetricSign`.
    pub asymmetric_sign: usize,
    /// `cryptoKeys.encrypt`.
    pub encrypt: usize,
    /// `cryptoKeys.decrypt`.
    pub decrypt: usize,
}

struct State {
    key: TestKey,
    announced_algorithm: String,
    wrap_keys: Vec<WrapKey>,
    faults: VecDeque<Fault>,
    seen: Vec<Seen>,
    calls: Calls,
}

/// The running fake; stops when dropped.
pub struct FakeKms {
    endpoint: String,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for FakeKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeKms")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeKms {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The state, even after a panic elsewhere (a test fixture has nothing to protect).
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeKms {
    /// Serves `key` as [`KEY_NAME`], and fresh [`WRAP_KEY`] and [`OTHER_WRAP_KEY`], on a free
    /// loopback port. Needs a Tokio runtime.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start(key: TestKey) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("fake KMS: binding a loopback port: {e}"));
        let address = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("fake KMS: reading its address: {e}"));
        let state = Arc::new(Mutex::new(State {
            announced_algorithm: key.kms_algorithm.to_owned(),
            key,
            wrap_keys: vec![
                WrapKey::generate(WRAP_KEY),
                WrapKey::generate(OTHER_WRAP_KEY),
            ],
            faults: VecDeque::new(),
            seen: Vec::new(),
            calls: Calls::default(),
        }));
        let task = tokio::spawn(serve::accept(listener, Arc::clone(&state)));
        Self {
            endpoint: format!("http://{address}"),
            state,
            task,
        }
    }

    /// The base URL to configure as the Cloud KMS endpoint: `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Queues a fault for the next request that has none yet.
    pub fn fail_next(&self, fault: Fault) {
        lock(&self.state).faults.push_back(fault);
    }

    /// Makes `getPublicKey` announce another algorithm than the key's.
    pub fn announce_algorithm(&self, kms_algorithm: &str) {
        lock(&self.state).announced_algorithm = kms_algorithm.to_owned();
    }

    /// Swaps the key behind the key version (what a misconfigured rotation would look like).
    pub fn replace_key(&self, key: TestKey) {
        let mut state = lock(&self.state);
        state.announced_algorithm = key.kms_algorithm.to_owned();
        state.key = key;
    }

    /// Rotates the symmetric key `crypto_key` ([`WRAP_KEY`] or [`OTHER_WRAP_KEY`]): a new
    /// primary version encrypts from now on; the older ones still decrypt what they made.
    ///
    /// # Panics
    /// For a key the fake does not serve.
    pub fn rotate_wrap_key(&self, crypto_key: &str) {
        let mut state = lock(&self.state);
        match state.wrap_keys.iter_mut().find(|k| k.name == crypto_key) {
            Some(key) => key.rotate(),
            None => panic!("fake KMS: no symmetric key {crypto_key}"),
        }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.state).seen.clone()
    }

    /// How many requests arrived so far, per method.
    pub fn calls(&self) -> Calls {
        lock(&self.state).calls
    }
}
