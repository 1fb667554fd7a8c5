//! The HTTP client of the client routes: one method per route, each retried with backoff on
//! transport errors, timeouts, 5xx and 429 (see [`RetryPolicy`]).

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    AcquireRequest, Acquired, BorrowRequest, Lease, Released, Renewed, Returned, SessionRequest,
    ValidateRequest, Validated,
};
use crate::error::{Attempt, Error, decode, transport_cause};
use crate::retry::RetryPolicy;

/// Result with the client's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A connection to one license server as one client credential (a client-scope API key or
/// an OIDC ID token). Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    credential: String,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credential.
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    credential: String,
    retry: RetryPolicy,
    connect_timeout: Duration,
    request_timeout: Duration,
    http: Option<reqwest::Client>,
}

impl ClientBuilder {
    /// How requests are retried (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The longest wait for a connection (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The longest wait for one answer (default 10 s); a timeout is retried.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// A prepared `reqwest::Client` (its own pool, timeouts and user agent), instead of one
    /// built from the timeouts above.
    pub fn http(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The client; [`Error::BadUrl`] for a base URL that is not http(s) with a host.
    pub fn build(self) -> Result<Client> {
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                .timeout(self.request_timeout)
                .user_agent(concat!("license-client/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?,
        };
        Ok(Client {
            http,
            base: parse_base_url(&self.base_url)?,
            credential: self.credential,
            retry: RetryPolicy {
                max_attempts: self.retry.max_attempts.max(1),
                ..self.retry
            },
        })
    }
}

/// Parses and checks a server base URL (http or https, with a host, no query).
pub fn parse_base_url(raw: &str) -> Result<Url> {
    let bad = |reason: &str| Error::BadUrl {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must start with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    Ok(url)
}

impl Client {
    /// A client of the server at `base_url` with `credential` and the defaults.
    pub fn new(base_url: &str, credential: &str) -> Result<Self> {
        Self::builder(base_url, credential).build()
    }

    /// A builder, for the retry policy and timeouts.
    pub fn builder(base_url: &str, credential: &str) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.to_owned(),
            credential: credential.to_owned(),
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            http: None,
        }
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Config(format!("{} cannot be a base URL", self.base)))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends one request, retried per the policy; the decoded body of the first 2xx.
    async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
        authenticated: bool,
    ) -> Result<T> {
        let (_, bytes) = self.send(method, segments, body, authenticated).await?;
        json(&bytes)
    }

    /// Sends one request, retried per the policy; the status and body of the first 2xx.
    pub(crate) async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
        authenticated: bool,
    ) -> Result<(StatusCode, Vec<u8>)> {
        let url = self.url(segments)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (reason, retry_after, status, code) =
                match self.once(&method, &url, body, authenticated).await {
                    Ok(answer) => return Ok(answer),
                    Err(Attempt::Final(e)) => return Err(e),
                    Err(Attempt::Transient {
                        reason,
                        retry_after,
                        status,
                        code,
                    }) => (reason, retry_after, status, code),
                };
            let Some(wait) = self.retry.next(attempt, retry_after) else {
                return Err(Error::ServerUnavailable {
                    server: self.base.as_str().trim_end_matches('/').to_owned(),
                    attempts: attempt,
                    reason,
                    retry_after,
                    status,
                    code,
                });
            };
            tokio::time::sleep(wait).await;
        }
    }

    async fn once<B: Serialize + ?Sized>(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&B>,
        authenticated: bool,
    ) -> Result<(StatusCode, Vec<u8>), Attempt> {
        let mut request = self.http.request(method.clone(), url.clone());
        if authenticated {
            request = request.bearer_auth(&self.credential);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let transient = |e: reqwest::Error| Attempt::Transient {
            reason: transport_cause(&e),
            retry_after: None,
            status: None,
            code: None,
        };
        let response = request.send().await.map_err(transient)?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(transient)?;
        if status.is_success() {
            Ok((status, bytes.to_vec()))
        } else {
            Err(decode(status, &headers, &bytes))
        }
    }

    pub(crate) async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T> {
        self.call(Method::POST, segments, Some(body), true).await
    }

    /// Takes a seat (`POST /api/v1/licenses/acquire`). Idempotent per machine: a retry gets
    /// the same session back. For a request that may wait in the license's queue
    /// (`wait_seconds`), use [`acquire_or_wait`](Self::acquire_or_wait) or
    /// [`wait_for_seat`](Self::wait_for_seat): here a place in the queue is given up again and
    /// answered [`Error::BadResponse`].
    pub async fn acquire(&self, request: &AcquireRequest) -> Result<Lease> {
        match self.acquire_or_wait(request).await? {
            Acquired::Lease(lease) => Ok(lease),
            Acquired::Queued(place) => {
                // Nobody would poll it: free the place for those behind it now, not after
                // its poll deadline.
                let _ = self
                    .leave_queue(&request.license_key, &place.queue_ticket)
                    .await;
                Err(Error::BadResponse(
                    "the server queued an acquire (202) that cannot wait: use acquire_or_wait \
                     or wait_for_seat for requests with wait_seconds"
                        .into(),
                ))
            }
        }
    }

    /// Renews a seat; `secret` is the session's, for sessions that have one.
    pub async fn heartbeat(&self, session_id: &str, secret: Option<&str>) -> Result<Renewed> {
        self.post(
            &["api", "v1", "licenses", "heartbeat"],
            &SessionRequest {
                session_id,
                session_secret: secret,
            },
        )
        .await
    }

    /// Releases a seat (idempotent: a repeated release answers as the first).
    pub async fn release(&self, session_id: &str, secret: Option<&str>) -> Result<Released> {
        self.post(
            &["api", "v1", "licenses", "release"],
            &SessionRequest {
                session_id,
                session_secret: secret,
            },
        )
        .await
    }

    /// Checks a lease token online (`POST /api/v1/licenses/validate`); for offline checks
    /// use a [`Verifier`](crate::Verifier).
    pub async fn validate(&self, token: &str) -> Result<Validated> {
        self.post(
            &["api", "v1", "licenses", "validate"],
            &ValidateRequest { token },
        )
        .await
    }

    /// Borrows a seat for offline work: no heartbeat is due until the lease's end.
    pub async fn borrow(&self, request: &BorrowRequest) -> Result<Lease> {
        self.post(&["api", "v1", "licenses", "borrow"], request)
            .await
    }

    /// Returns a borrowed seat.
    pub async fn return_borrowed(
        &self,
        session_id: &str,
        secret: Option<&str>,
    ) -> Result<Returned> {
        self.post(
            &["api", "v1", "licenses", "return"],
            &SessionRequest {
                session_id,
                session_secret: secret,
            },
        )
        .await
    }

    /// The tenant's published key set (`/api/v1/tenants/{id}/jwks.json`, no credential), as
    /// JSON for [`Verifier::from_json`](crate::Verifier::from_json). Trusted as far as the
    /// connection is (TLS): pin the root key set to trust it no further.
    pub async fn tenant_key_set(&self, tenant_id: &str) -> Result<serde_json::Value> {
        self.call::<(), _>(
            Method::GET,
            &["api", "v1", "tenants", tenant_id, "jwks.json"],
            None,
            false,
        )
        .await
    }

    /// The root key set (`/.well-known/jwks.json`, no credential), as JSON. An application
    /// ships a copy instead of fetching it, to pin it.
    pub async fn root_key_set(&self) -> Result<serde_json::Value> {
        self.call::<(), _>(Method::GET, &[".well-known", "jwks.json"], None, false)
            .await
    }
}

/// A 2xx body as `T` ([`Error::BadResponse`] when it is not one).
pub(crate) fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::BadResponse(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_must_be_http_with_a_host() {
        assert!(parse_base_url("ftp://host").is_err());
        assert!(parse_base_url("127.0.0.1:8080").is_err());
        assert!(parse_base_url("https://licenses.example.com/?q").is_err());
        assert!(parse_base_url("https://licenses.example.com").is_ok());
    }

    #[test]
    fn path_segments_are_escaped_one_by_one() {
        let client = Client::new("http://127.0.0.1:8080/prefix", "lk_secret").unwrap();
        let url = client.url(&["api", "tenants", "../x?y"]).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/prefix/api/tenants/..%2Fx%3Fy"
        );
        assert!(
            !format!("{client:?}").contains("lk_secret"),
            "no credential in Debug"
        );
    }
}
