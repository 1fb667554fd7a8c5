//! The HTTP client: base URL, bearer credential, `X-Tenant-Id`, one method per route, and error
//! bodies decoded into `ClientError::Api` carrying the server's stable `code`.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{
    AcquireRequest, ApiKey, AuditEvent, BorrowRequest, CreateApiKey, CreateLicense, CreatedApiKey,
    CreatedTenant, EventCheckpoint, EventLogPage, Items, Lease, License, LicensePage, QueueListing,
    Released, Renewed, Returned, SeatPolicy, Session, SessionPage, SigningKey, Tenant, Usage,
    UsageReport, UsageStatement,
};
use crate::api::{CreatedWebhook, RotatedWebhook, Webhook, WebhookDelivery};
use crate::config::Connection;

/// The typed error and the decoding of error bodies.
mod error;

pub use error::ClientError;
use error::decode_error;

/// The header in which the operator names the tenant it acts on.
pub const TENANT_HEADER: &str = "X-Tenant-Id";

type Result<T, E = ClientError> = std::result::Result<T, E>;

/// `raw` if it is a UUID (hyphenated or 32 hex digits), else [`ClientError::InvalidId`].
fn checked_id<'a>(kind: &'static str, raw: &'a str) -> Result<&'a str> {
    let hex: String = raw.chars().filter(|c| *c != '-').collect();
    let hyphens_ok = raw.len() == 32
        || (raw.len() == 36 && [8, 13, 18, 23].iter().all(|&i| raw.as_bytes()[i] == b'-'));
    if hyphens_ok && hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(raw)
    } else {
        Err(ClientError::InvalidId {
            kind,
            value: raw.to_owned(),
        })
    }
}

/// How an administrator evicts a session (`None`, `false`: the server's defaults).
#[derive(Debug, Clone, Default)]
pub struct Eviction {
    /// Seconds the machine and person are held off.
    pub hold_off_seconds: Option<u32>,
    /// Why.
    pub reason: Option<String>,
    /// Even a session younger than the license's minimum hold.
    pub force: bool,
}

/// Which sessions of a license to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sessions {
    /// Every live one.
    Live,
    /// The borrowed ones.
    Borrowed,
}

/// A connection to one server, as one caller.
#[derive(Clone)]
pub struct Client {
    /// The client routes (acquire, heartbeat, release, borrow, return), on the same pool.
    seat: license_client::Client,
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
    tenant: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

/// Parses and checks a server base URL (http or https, with a host).
pub fn parse_base_url(raw: &str) -> Result<Url> {
    Ok(license_client::parse_base_url(raw)?)
}

impl Client {
    /// A client with default timeouts (connect 5 s, request 30 s).
    pub fn new(connection: &Connection) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("license-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::BadResponse(format!("cannot build the HTTP client: {e}")))?;
        Self::with_http(connection, http)
    }

    /// A client on a prepared `reqwest::Client` (the bench sizes its pool).
    pub fn with_http(connection: &Connection, http: reqwest::Client) -> Result<Self> {
        let seat = license_client::Client::builder(
            &connection.server,
            connection.token.as_deref().unwrap_or_default(),
        )
        .http(http.clone())
        .retry(license_client::RetryPolicy::none())
        .build()?;
        Ok(Self {
            seat,
            http,
            base: parse_base_url(&connection.server)?,
            token: connection.token.clone(),
            tenant: connection.tenant.clone(),
        })
    }

    fn url(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ClientError::BadUrl {
                url: self.base.to_string(),
                reason: "cannot be a base URL".into(),
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn request(&self, method: Method, url: Url) -> Result<RequestBuilder> {
        let token = self.token.as_deref().ok_or(ClientError::NoToken)?;
        let mut request = self.http.request(method, url).bearer_auth(token);
        if let Some(tenant) = &self.tenant {
            request = request.header(TENANT_HEADER, tenant);
        }
        Ok(request)
    }

    async fn send(&self, request: RequestBuilder) -> Result<reqwest::Response> {
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        Err(decode_error(status, &bytes))
    }

    async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T> {
        let response = self.send(request).await?;
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::BadResponse(e.to_string()))
    }

    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            server: self.base.as_str().trim_end_matches('/').to_owned(),
            reason: license_client::transport_cause(e),
        }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T> {
        let mut url = self.url(segments)?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        self.json(self.request(Method::GET, url)?).await
    }

    async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T> {
        let url = self.url(segments)?;
        self.json(self.request(Method::POST, url)?.json(body)).await
    }

    /// `GET /api/v1/health/` (no credential): whether the server answers.
    pub async fn health(&self) -> Result<()> {
        let url = self.url(&["api", "v1", "health", ""])?;
        self.send(self.http.get(url)).await.map(drop)
    }

    /// `GET /.well-known/jwks.json` (no credential), as raw JSON.
    pub async fn fetch_json_url(&self, url: Url) -> Result<Value> {
        let response = self.send(self.http.get(url)).await?;
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::BadResponse(e.to_string()))
    }

    // --- Operator: tenants -------------------------------------------------------------

    /// Creates a tenant and its first admin key.
    pub async fn create_tenant(&self, name: &str) -> Result<CreatedTenant> {
        let body = serde_json::json!({ "name": name });
        self.post(&["api", "v1", "admin", "tenants"], &body).await
    }

    /// Lists tenants.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let list: Items<Tenant> = self.get(&["api", "v1", "admin", "tenants"], &[]).await?;
        Ok(list.items)
    }

    // --- Admin: licenses ---------------------------------------------------------------

    /// Creates a license.
    pub async fn create_license(&self, new: &CreateLicense) -> Result<License> {
        self.post(&["api", "v1", "admin", "licenses"], new).await
    }

    /// One page of licenses.
    pub async fn list_licenses(
        &self,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<LicensePage> {
        let mut query = Vec::new();
        if let Some(after) = after {
            query.push(("after", after.to_owned()));
        }
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        self.get(&["api", "v1", "admin", "licenses"], &query).await
    }

    /// One license.
    pub async fn get_license(&self, id: &str) -> Result<License> {
        self.get(
            &["api", "v1", "admin", "licenses", checked_id("license", id)?],
            &[],
        )
        .await
    }

    /// Changes a license's terms; `change` is the JSON body (absent fields stay).
    pub async fn update_license(&self, id: &str, change: &Value) -> Result<License> {
        let url = self.url(&["api", "v1", "admin", "licenses", checked_id("license", id)?])?;
        self.json(self.request(Method::PATCH, url)?.json(change))
            .await
    }

    /// A license's seat policy.
    pub async fn get_policy(&self, id: &str) -> Result<SeatPolicy> {
        self.get(
            &[
                "api",
                "v1",
                "admin",
                "licenses",
                checked_id("license", id)?,
                "policy",
            ],
            &[],
        )
        .await
    }

    /// Replaces a license's seat policy; returns it as the server holds it.
    pub async fn set_policy(&self, id: &str, policy: &SeatPolicy) -> Result<SeatPolicy> {
        let id = checked_id("license", id)?;
        let url = self.url(&["api", "v1", "admin", "licenses", id, "policy"])?;
        self.json(self.request(Method::PUT, url)?.json(policy))
            .await
    }

    /// `suspend`, `reinstate` or `revoke`.
    pub async fn set_license_status(&self, id: &str, action: &str) -> Result<License> {
        let id = checked_id("license", id)?;
        self.post(
            &["api", "v1", "admin", "licenses", id, action],
            &serde_json::json!({}),
        )
        .await
    }

    // --- Admin: sessions, keys, usage, audit -------------------------------------------

    /// A license's live (or borrowed) sessions, every page (`page_size` a request,
    /// following `next_cursor`).
    pub async fn list_sessions(
        &self,
        which: Sessions,
        license_id: &str,
        page_size: u32,
    ) -> Result<Vec<Session>> {
        let mut sessions = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .list_sessions_page(which, license_id, cursor.as_deref(), Some(page_size))
                .await?;
            sessions.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(sessions),
            }
        }
    }

    /// One page of a license's live (or borrowed) sessions, after `cursor` (a previous
    /// page's `next_cursor`).
    pub async fn list_sessions_page(
        &self,
        which: Sessions,
        license_id: &str,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<SessionPage> {
        let mut query = Vec::new();
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.to_owned()));
        }
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        self.get(
            &[
                "api",
                "v1",
                "admin",
                "licenses",
                checked_id("license", license_id)?,
                match which {
                    Sessions::Live => "sessions",
                    Sessions::Borrowed => "borrowed",
                },
            ],
            &query,
        )
        .await
    }

    /// Force-releases (evicts) a session; the options go as query parameters.
    pub async fn force_release(&self, session_id: &str, eviction: &Eviction) -> Result<Session> {
        let mut url = self.url(&[
            "api",
            "v1",
            "admin",
            "sessions",
            checked_id("session", session_id)?,
            "release",
        ])?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(seconds) = eviction.hold_off_seconds {
                query.append_pair("hold_off_seconds", &seconds.to_string());
            }
            if let Some(reason) = &eviction.reason {
                query.append_pair("reason", reason);
            }
            if eviction.force {
                query.append_pair("force", "true");
            }
        }
        // An empty query string (`…/release?`) is harmless, but leave none.
        if url.query() == Some("") {
            url.set_query(None);
        }
        self.json(
            self.request(Method::POST, url)?
                .json(&serde_json::json!({})),
        )
        .await
    }

    /// Rotates the tenant's signing key; `revoke_previous` after a leak.
    pub async fn rotate_signing_key(&self, revoke_previous: bool) -> Result<SigningKey> {
        self.post(
            &["api", "v1", "admin", "signing-keys", "rotate"],
            &serde_json::json!({ "revoke_previous": revoke_previous }),
        )
        .await
    }

    /// Creates an API key.
    pub async fn create_api_key(&self, new: &CreateApiKey) -> Result<CreatedApiKey> {
        self.post(&["api", "v1", "admin", "api-keys"], new).await
    }

    /// Lists API keys.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        let list: Items<ApiKey> = self.get(&["api", "v1", "admin", "api-keys"], &[]).await?;
        Ok(list.items)
    }

    // --- Admin: webhooks ---------------------------------------------------------------

    fn webhook_url(&self, id: &str, tail: &[&str]) -> Result<Url> {
        let mut segments = vec!["api", "v1", "admin", "webhooks", checked_id("webhook", id)?];
        segments.extend_from_slice(tail);
        self.url(&segments)
    }

    /// Creates a webhook endpoint (`{url, event_types, description}`).
    pub async fn create_webhook(&self, new: &Value) -> Result<CreatedWebhook> {
        self.post(&["api", "v1", "admin", "webhooks"], new).await
    }

    /// Lists webhook endpoints.
    pub async fn list_webhooks(&self) -> Result<Vec<Webhook>> {
        let list: Items<Webhook> = self.get(&["api", "v1", "admin", "webhooks"], &[]).await?;
        Ok(list.items)
    }

    /// One webhook endpoint.
    pub async fn get_webhook(&self, id: &str) -> Result<Webhook> {
        let url = self.webhook_url(id, &[])?;
        self.json(self.request(Method::GET, url)?).await
    }

    /// Changes a webhook endpoint (the fields given).
    pub async fn update_webhook(&self, id: &str, change: &Value) -> Result<Webhook> {
        let url = self.webhook_url(id, &[])?;
        self.json(self.request(Method::PATCH, url)?.json(change))
            .await
    }

    /// Deletes a webhook endpoint (204).
    pub async fn delete_webhook(&self, id: &str) -> Result<()> {
        let url = self.webhook_url(id, &[])?;
        self.send(self.request(Method::DELETE, url)?)
            .await
            .map(drop)
    }

    /// A webhook endpoint's latest deliveries, newest first.
    pub async fn webhook_deliveries(&self, id: &str, limit: u32) -> Result<Vec<WebhookDelivery>> {
        let mut url = self.webhook_url(id, &["deliveries"])?;
        url.query_pairs_mut()
            .append_pair("limit", &limit.to_string());
        let list: Items<WebhookDelivery> = self.json(self.request(Method::GET, url)?).await?;
        Ok(list.items)
    }

    /// Gives an endpoint a new signing secret; the old one signs alongside for a day.
    pub async fn rotate_webhook_secret(&self, id: &str) -> Result<RotatedWebhook> {
        let url = self.webhook_url(id, &["rotate-secret"])?;
        self.json(self.request(Method::POST, url)?).await
    }

    /// Sends the log again from `from_seq` (204).
    pub async fn redeliver_webhook(&self, id: &str, from_seq: u64) -> Result<()> {
        let url = self.webhook_url(id, &["redeliver"])?;
        let request = self
            .request(Method::POST, url)?
            .json(&serde_json::json!({ "from_seq": from_seq }));
        self.send(request).await.map(drop)
    }

    /// Revokes an API key (204).
    pub async fn revoke_api_key(&self, id: &str) -> Result<()> {
        let url = self.url(&[
            "api",
            "v1",
            "admin",
            "api-keys",
            checked_id("API key", id)?,
            "revoke",
        ])?;
        let request = self
            .request(Method::POST, url)?
            .json(&serde_json::json!({}));
        self.send(request).await.map(drop)
    }

    /// Who waits in a license's queue, first in line first.
    pub async fn queue(&self, license_id: &str) -> Result<QueueListing> {
        let license_id = checked_id("license", license_id)?;
        self.get(
            &["api", "v1", "admin", "licenses", license_id, "queue"],
            &[],
        )
        .await
    }

    /// A license's usage between two UTC days.
    pub async fn usage(
        &self,
        license_id: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Usage> {
        let mut query = Vec::new();
        if let Some(from) = from {
            query.push(("from", from.to_owned()));
        }
        if let Some(to) = to {
            query.push(("to", to.to_owned()));
        }
        let license_id = checked_id("license", license_id)?;
        self.get(
            &["api", "v1", "admin", "licenses", license_id, "usage"],
            &query,
        )
        .await
    }

    /// A license's usage report (`query`: `from`, `to`, `by`, `bucket`) as JSON.
    pub async fn report(&self, license_id: &str, query: &[(&str, String)]) -> Result<UsageReport> {
        let license_id = checked_id("license", license_id)?;
        self.get(
            &["api", "v1", "admin", "licenses", license_id, "report"],
            query,
        )
        .await
    }

    /// A license's usage report as text (`query` names the `format`: `csv`, `ndjson`).
    pub async fn report_text(&self, license_id: &str, query: &[(&str, String)]) -> Result<String> {
        let license_id = checked_id("license", license_id)?;
        let mut url = self.url(&["api", "v1", "admin", "licenses", license_id, "report"])?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        let response = self.send(self.request(Method::GET, url)?).await?;
        response.text().await.map_err(|e| self.unreachable(&e))
    }

    /// A license's signed statement for a UTC day.
    pub async fn usage_statement(&self, license_id: &str, day: &str) -> Result<UsageStatement> {
        let license_id = checked_id("license", license_id)?;
        // `day` was checked as a date by the command; a segment is percent-encoded anyway.
        self.get(
            &[
                "api",
                "v1",
                "admin",
                "licenses",
                license_id,
                "statements",
                day,
            ],
            &[],
        )
        .await
    }

    /// The most recent audit events.
    pub async fn audit_events(&self, limit: Option<u32>) -> Result<Vec<AuditEvent>> {
        let query: Vec<_> = limit
            .map(|l| ("limit", l.to_string()))
            .into_iter()
            .collect();
        let list: Items<AuditEvent> = self
            .get(&["api", "v1", "admin", "audit-events"], &query)
            .await?;
        Ok(list.items)
    }

    /// Up to `limit` entries of the seat-event log numbered after `after`, and the `after`
    /// of the next range.
    pub async fn event_log(&self, after: u64, limit: u32) -> Result<EventLogPage> {
        let query = [("after", after.to_string()), ("limit", limit.to_string())];
        self.get(&["api", "v1", "admin", "events"], &query).await
    }

    /// A checkpoint of entry `seq` of the seat-event log, signed now with the tenant's key.
    pub async fn event_checkpoint(&self, seq: u64) -> Result<EventCheckpoint> {
        let query = [("seq", seq.to_string())];
        self.get(&["api", "v1", "admin", "events", "checkpoint"], &query)
            .await
    }

    // --- Client: leases (license-client) ----------------------------------------------

    fn credential(&self) -> Result<()> {
        self.token.as_ref().map(drop).ok_or(ClientError::NoToken)
    }

    /// Takes a seat.
    pub async fn acquire(&self, request: &AcquireRequest) -> Result<Lease> {
        self.credential()?;
        Ok(self.seat.acquire(request).await?)
    }

    /// The client of the seat routes (license-client), for what needs its own types: waiting
    /// in the queue, whose end is its own error.
    pub fn seats(&self) -> Result<&license_client::Client> {
        self.credential()?;
        Ok(&self.seat)
    }

    /// Borrows a seat for offline work.
    pub async fn borrow(&self, request: &BorrowRequest) -> Result<Lease> {
        self.credential()?;
        Ok(self.seat.borrow(request).await?)
    }

    /// Returns a borrowed seat; `secret` is the session's, for sessions that have one.
    pub async fn return_borrowed(
        &self,
        session_id: &str,
        secret: Option<&str>,
    ) -> Result<Returned> {
        let session_id = checked_id("session", session_id)?;
        self.credential()?;
        Ok(self.seat.return_borrowed(session_id, secret).await?)
    }

    /// Renews a seat; `secret` is the session's, for sessions that have one.
    pub async fn heartbeat(&self, session_id: &str, secret: Option<&str>) -> Result<Renewed> {
        let session_id = checked_id("session", session_id)?;
        self.credential()?;
        Ok(self.seat.heartbeat(session_id, secret).await?)
    }

    /// Releases a seat; `secret` is the session's, for sessions that have one.
    pub async fn release(&self, session_id: &str, secret: Option<&str>) -> Result<Released> {
        let session_id = checked_id("session", session_id)?;
        self.credential()?;
        Ok(self.seat.release(session_id, secret).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_path_segment_each() {
        let connection = Connection {
            server: "http://127.0.0.1:8080/prefix".into(),
            token: None,
            tenant: None,
        };
        let client = Client::new(&connection).unwrap();
        let url = client.url(&["api", "licenses", "../x?y"]).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/prefix/api/licenses/..%2Fx%3Fy"
        );
    }

    #[test]
    fn ids_are_checked_before_anything_is_sent() {
        assert!(checked_id("license", "01a2103b-2291-70ee-b931-dfa586c36195").is_ok());
        assert!(checked_id("license", "01a2103b229170eeb931dfa586c36195").is_ok());
        for bad in [
            "nope",
            "",
            "01a2103b-2291-70ee-b931-dfa586c3619",
            "01a2103b2-291-70ee-b931-dfa586c36195",
        ] {
            assert!(
                matches!(
                    checked_id("license", bad),
                    Err(ClientError::InvalidId { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn base_urls_must_be_http() {
        assert!(parse_base_url("ftp://host").is_err());
        assert!(parse_base_url("127.0.0.1:8080").is_err());
        assert!(parse_base_url("https://licenses.example.com").is_ok());
    }
}
