//! Webhook endpoints: the validated URL, the subscribed event types, the signing secret and
//! the record a store keeps (with the dispatcher's cursor, backoff and claim).

use std::fmt;
use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::ids::{TenantId, WebhookId};
use crate::webhooks::address::is_forbidden;

/// Every `type` a seat event may have (`docs/events.md`), and so every type an endpoint may
/// subscribe to. `renewed` is left out: the log does not keep renewals (ADR 0030).
pub const EVENT_TYPES: [&str; 17] = [
    "granted",
    "held",
    "denied",
    "released",
    "expired",
    "revoked",
    "evicted",
    "borrowed",
    "returned",
    "overdraft",
    "rebuilt",
    "reaped",
    "queued",
    "queue_ended",
    "events_lost",
    "admin_change",
    "webhook_disabled",
];

/// Longest URL accepted: what browsers and proxies reliably carry.
const MAX_URL_LEN: usize = 2_000;
/// Longest description.
const MAX_DESCRIPTION_LEN: usize = 200;

/// What a deployment lets webhook URLs name (the server's `webhooks.allow_http` and
/// `webhooks.allow_private_addresses`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Accept `http://` as well as `https://`.
    pub allow_http: bool,
    /// Accept loopback, private, link-local, CGNAT and unspecified addresses.
    pub allow_private_addresses: bool,
}

/// A webhook URL: `https://` (or `http://` when allowed), a host, no credentials, no
/// whitespace, and — when the host is a literal IP — not a forbidden address. Names the field
/// `url` when refused. Where a host name resolves to is checked again at each delivery.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// Validates `url` under `policy`.
    ///
    /// ```
    /// use license_core::webhooks::{UrlPolicy, WebhookUrl};
    /// let strict = UrlPolicy::default();
    /// assert!(WebhookUrl::parse("https://hooks.example.com/in", strict).is_ok());
    /// assert!(WebhookUrl::parse("http://hooks.example.com/in", strict).is_err());
    /// assert!(WebhookUrl::parse("https://10.0.0.7/in", strict).is_err());
    /// assert!(WebhookUrl::parse("https://user:pw@example.com/", strict).is_err());
    /// ```
    pub fn parse(url: &str, policy: UrlPolicy) -> Result<Self> {
        let invalid = |why: &str| Error::invalid("url", why);
        if url.len() > MAX_URL_LEN {
            return Err(invalid("is longer than 2000 characters"));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain spaces or control characters"));
        }
        let rest = if let Some(rest) = url.strip_prefix("https://") {
            rest
        } else if let Some(rest) = url.strip_prefix("http://") {
            if !policy.allow_http {
                return Err(invalid("must be https (webhooks.allow_http is off)"));
            }
            rest
        } else {
            return Err(invalid("must be an https:// URL"));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(invalid("must not carry credentials"));
        }
        let host = host_of(authority).ok_or_else(|| invalid("must name a host"))?;
        if let Ok(ip) = host.parse::<IpAddr>()
            && !policy.allow_private_addresses
            && is_forbidden(ip)
        {
            return Err(invalid(
                "names a private, loopback or link-local address \
                 (webhooks.allow_private_addresses is off)",
            ));
        }
        Ok(WebhookUrl(url.to_owned()))
    }

    /// A stored URL read back (validated when it was stored).
    pub fn from_stored(url: String) -> Self {
        WebhookUrl(url)
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The host of an authority (`host`, `host:port`, `[v6]`, `[v6]:port`); `None` when empty or
/// malformed.
fn host_of(authority: &str) -> Option<&str> {
    let host = if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        inside
    } else {
        let host = authority.split(':').next().unwrap_or_default();
        if let Some(port) = authority.split_once(':').map(|(_, p)| p)
            && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        host
    };
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    valid.then_some(host)
}

/// The event types an endpoint subscribes to: empty means every type. Each must be one of
/// [`EVENT_TYPES`]; kept sorted and without repeats.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct EventTypes(Vec<String>);

impl EventTypes {
    /// Validates a list of types (field `event_types`).
    pub fn parse<S: AsRef<str>>(types: &[S]) -> Result<Self> {
        let mut out = Vec::with_capacity(types.len());
        for t in types {
            let t = t.as_ref();
            if !EVENT_TYPES.contains(&t) {
                return Err(Error::invalid(
                    "event_types",
                    format!("{t:?} is not an event type (see docs/events.md)"),
                ));
            }
            out.push(t.to_owned());
        }
        out.sort();
        out.dedup();
        Ok(EventTypes(out))
    }

    /// Every type.
    pub fn all() -> Self {
        EventTypes(Vec::new())
    }

    /// Whether an event of type `t` is delivered.
    pub fn includes(&self, t: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|s| s == t)
    }

    /// The types (empty: all).
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// An endpoint's signing secret: Standard Webhooks' `whsec_` + base64 of the key bytes. Shown
/// once at creation; stored, because the server signs with it (ADR 0032). `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// The text prefix.
    pub const PREFIX: &'static str = "whsec_";

    /// 32 random bytes from the OS generator.
    pub fn generate() -> Result<Self> {
        Ok(WebhookSecret(crate::random::bytes::<32>()?.to_vec()))
    }

    /// From its text form (`whsec_` + base64; the prefix may be left out, as Standard
    /// Webhooks' libraries allow).
    pub fn parse(text: &str) -> Result<Self> {
        let b64 = text.strip_prefix(Self::PREFIX).unwrap_or(text);
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| Error::invalid("secret", "must be whsec_ followed by base64"))?;
        if bytes.len() < 24 || bytes.len() > 64 {
            return Err(Error::invalid("secret", "must hold 24 to 64 bytes"));
        }
        Ok(WebhookSecret(bytes))
    }

    /// The text form, `whsec_…`.
    pub fn expose(&self) -> String {
        format!("{}{}", Self::PREFIX, STANDARD.encode(&self.0))
    }

    /// The HMAC key bytes.
    pub fn key_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// A webhook endpoint as a store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: WebhookId,
    /// Whose events it receives.
    pub tenant_id: TenantId,
    /// Where they are POSTed.
    pub url: WebhookUrl,
    /// Which types (empty: all).
    pub event_types: EventTypes,
    /// The signing secret.
    pub secret: WebhookSecret,
    /// The secret before the last rotation: deliveries are signed with it too (a second
    /// signature) until `previous_secret_until`, so a receiver can switch at its own pace.
    pub previous_secret: Option<WebhookSecret>,
    /// Until when `previous_secret` signs.
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// Whether the dispatcher delivers to it.
    pub enabled: bool,
    /// What it is for, as the administrator said it.
    pub description: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The last log number handled (delivered, or skipped as not subscribed). A new endpoint
    /// starts at the tenant's log head: no history is sent.
    pub cursor: u64,
    /// Consecutive failed deliveries.
    pub attempts: u32,
    /// Since when deliveries have failed without a success.
    pub failing_since: Option<DateTime<Utc>>,
    /// Not before then (backoff); `None`: now.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why it was disabled by the server, if it was.
    pub disabled_reason: Option<String>,
    /// The replica delivering to it now, if any.
    pub claimed_by: Option<String>,
    /// Until when that claim holds; an expired claim may be taken by another replica.
    pub claim_until: Option<DateTime<Utc>>,
}

impl WebhookEndpoint {
    /// A new, enabled endpoint with a fresh id and nothing claimed (the store sets `cursor`).
    pub fn new(
        tenant_id: TenantId,
        url: WebhookUrl,
        event_types: EventTypes,
        secret: WebhookSecret,
        description: &str,
        created_at: DateTime<Utc>,
    ) -> Result<Self> {
        Ok(WebhookEndpoint {
            id: WebhookId::new(),
            tenant_id,
            url,
            event_types,
            secret,
            previous_secret: None,
            previous_secret_until: None,
            enabled: true,
            description: parse_description(description)?,
            created_at,
            cursor: 0,
            attempts: 0,
            failing_since: None,
            next_attempt_at: None,
            disabled_reason: None,
            claimed_by: None,
            claim_until: None,
        })
    }
}

impl WebhookEndpoint {
    /// The secrets a delivery at `now` is signed with: the current one, and the one before
    /// the last rotation while it overlaps.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&WebhookSecret> {
        let mut secrets = vec![&self.secret];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until)
            && now < until
        {
            secrets.push(previous);
        }
        secrets
    }
}

/// Validates a description (field `description`): at most 200 characters of readable text.
pub fn parse_description(text: &str) -> Result<String> {
    if text.is_empty() {
        return Ok(String::new());
    }
    crate::text::parse_name("description", text, MAX_DESCRIPTION_LEN).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn field(r: Result<WebhookUrl>) -> &'static str {
        match r {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn urls_are_https_with_a_host_and_no_credentials() {
        let strict = UrlPolicy::default();
        let open = UrlPolicy {
            allow_http: true,
            allow_private_addresses: true,
        };
        for good in [
            "https://example.com",
            "https://example.com:8443/hooks?x=1",
            "https://[2001:db8::1]:443/x",
        ] {
            assert!(WebhookUrl::parse(good, strict).is_ok(), "{good}");
        }
        for bad in [
            "ftp://example.com",
            "http://example.com",
            "https://",
            "https:///path",
            "https://a b.com/",
            "https://u:p@example.com/",
            "https://example.com:x/",
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://169.254.169.254/latest",
            "example.com",
        ] {
            assert_eq!(field(WebhookUrl::parse(bad, strict)), "url", "{bad}");
        }
        assert!(WebhookUrl::parse("http://127.0.0.1:9/x", open).is_ok());
    }

    #[test]
    fn event_types_are_known_sorted_and_distinct() {
        let types = EventTypes::parse(&["released", "granted", "granted"]).unwrap();
        assert_eq!(types.as_slice(), ["granted", "released"]);
        assert!(types.includes("granted") && !types.includes("denied"));
        assert!(EventTypes::all().includes("denied"));
        assert!(EventTypes::parse(&["renewed"]).is_err());
        assert!(EventTypes::parse(&["nope"]).is_err());
    }

    #[test]
    fn secrets_round_trip_and_hide_in_debug() {
        let s = WebhookSecret::generate().unwrap();
        let text = s.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(&text).unwrap(), s);
        assert_eq!(s.key_bytes().len(), 32);
        assert!(!format!("{s:?}").contains(&text[6..]));
        assert!(WebhookSecret::parse("whsec_!!").is_err());
    }
}
