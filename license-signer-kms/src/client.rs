//! The HTTP client for the Cloud KMS methods: bearer token from gcp_auth, a time limit per
//! attempt, and retries with jittered back-off on the failures worth retrying. One client talks
//! to one resource: the signer's key version, or the wrapper's crypto key.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use gcp_auth::{Token, TokenProvider};
use license_core::Result;
use serde::de::DeserializeOwned;

use crate::config::Connection;
use crate::errors::{self, Failure};
use crate::rest::{
    self, AsymmetricSignRequest, AsymmetricSignResponse, DecryptRequest, DecryptResponse,
    EncryptRequest, EncryptResponse, Operation, PublicKeyResponse,
};
use crate::retry::{self, Backoff};

/// OAuth scope of the access token. Google's client libraries ask for this one for Cloud KMS;
/// what the token may do is decided by IAM on the key.
const SCOPES: &[&str] = &["https://www.googleapis.com/auth/cloud-platform"];

/// Talks to one key version or crypto key.
pub(crate) struct KmsClient {
    http: reqwest::Client,
    auth: Arc<dyn TokenProvider>,
    endpoint: String,
    /// The key version (signing) or crypto key (wrapping) every call is made on.
    resource: String,
    timeout: Duration,
    max_retries: u32,
    backoff: Backoff,
}

impl fmt::Debug for KmsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsClient")
            .field("endpoint", &self.endpoint)
            .field("resource", &self.resource)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

impl KmsClient {
    /// A client for `resource` through a validated `connection`; `first` is the operation a
    /// failure to build the client is reported as.
    pub(crate) fn new(
        connection: Connection<'_>,
        resource: &str,
        first: Operation,
        auth: Arc<dyn TokenProvider>,
    ) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(connection.timeout)
            .connect_timeout(connection.timeout)
            // A redirect would carry the request elsewhere; Cloud KMS never sends one.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("license-signer-kms/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| errors::unavailable(first, format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            auth,
            endpoint: connection.endpoint.to_owned(),
            resource: resource.to_owned(),
            timeout: connection.timeout,
            max_retries: connection.max_retries,
            backoff: Backoff::DEFAULT,
        })
    }

    /// `getPublicKey` on the key version.
    pub(crate) async fn public_key(&self) -> Result<PublicKeyResponse> {
        let url = rest::public_key_url(&self.endpoint, &self.resource);
        self.call(Operation::GetPublicKey, |http| http.get(&url))
            .await
    }

    /// `asymmetricSign` on the key version.
    pub(crate) async fn sign(
        &self,
        request: &AsymmetricSignRequest,
    ) -> Result<AsymmetricSignResponse> {
        self.post(Operation::AsymmetricSign, request).await
    }

    /// `encrypt` on the crypto key (with its primary version).
    pub(crate) async fn encrypt(&self, request: &EncryptRequest) -> Result<EncryptResponse> {
        self.post(Operation::Encrypt, request).await
    }

    /// `decrypt` on the crypto key (KMS finds the version that encrypted).
    pub(crate) async fn decrypt(&self, request: &DecryptRequest) -> Result<DecryptResponse> {
        self.post(Operation::Decrypt, request).await
    }

    /// `POST` of a JSON `request` to `op` on the resource.
    async fn post<T: DeserializeOwned>(
        &self,
        op: Operation,
        request: &impl serde::Serialize,
    ) -> Result<T> {
        let url = rest::post_url(&self.endpoint, &self.resource, op);
        self.call(op, |http| http.post(&url).json(request)).await
    }

    /// Runs `request` until it succeeds, fails for good, or `max_retries` retries are spent.
    async fn call<T: DeserializeOwned>(
        &self,
        op: Operation,
        request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<T> {
        let mut retry = 0;
        loop {
            match self.attempt(op, &request).await {
                Ok(reply) => return Ok(reply),
                Err(Failure::Final(error)) => return Err(error),
                Err(Failure::Retry(reason)) if retry < self.max_retries => {
                    let wait = self.backoff.delay(retry, retry::random());
                    tracing::warn!(
                        operation = op.name(),
                        attempt = retry + 1,
                        ?wait,
                        %reason,
                        "Cloud KMS call failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
                Err(Failure::Retry(reason)) => {
                    let attempts = retry + 1;
                    return Err(errors::unavailable(
                        op,
                        format!("{reason} (gave up after {attempts} attempts)"),
                    ));
                }
            }
        }
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        op: Operation,
        request: &impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<T, Failure> {
        let token = self.token(op).await?;
        // `bearer_auth` marks the header sensitive: reqwest never prints it.
        let response = request(&self.http)
            .bearer_auth(token.as_str())
            .send()
            .await
            .map_err(|e| errors::transport(op, &e, self.timeout))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| errors::transport(op, &e, self.timeout))?;
        if !status.is_success() {
            return Err(errors::http(op, &self.resource, status.as_u16(), &body));
        }
        serde_json::from_slice(&body)
            .map_err(|e| Failure::Final(errors::unavailable(op, format!("unreadable reply: {e}"))))
    }

    /// An access token; gcp_auth caches it until shortly before it expires.
    async fn token(&self, op: Operation) -> Result<Arc<Token>, Failure> {
        match tokio::time::timeout(self.timeout, self.auth.token(SCOPES)).await {
            Ok(Ok(token)) => Ok(token),
            Ok(Err(e)) => Err(Failure::Final(errors::auth(op, &e))),
            Err(_) => Err(Failure::Retry(format!(
                "no access token within {:?}",
                self.timeout
            ))),
        }
    }
}
