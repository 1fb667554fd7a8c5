//! One webhook POST: the Standard Webhooks headers, and the SSRF guard — `https` unless
//! allowed, literal addresses checked before sending, host names resolved by a resolver that
//! drops forbidden addresses (so the address connected to is the address checked), no
//! redirects, no proxy.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use license_core::webhooks::{WebhookEndpoint, WebhookMessage, is_forbidden, sign};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::WebhooksConfig;

/// Most bytes of a receiver's answer or an error kept in the delivery log.
const MAX_ERROR_LEN: usize = 300;

/// A name that resolved only to addresses webhooks may not reach.
#[derive(Debug, thiserror::Error)]
#[error("refused address: {0} resolves only to private, loopback or link-local addresses")]
struct RefusedAddress(String);

/// Resolves through the system, then drops every forbidden address, so a host name cannot
/// point a delivery inside the network, however it resolves at the time (DNS rebinding).
#[derive(Debug)]
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_forbidden(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(RefusedAddress(host)) as _);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// How one attempt went.
#[derive(Debug)]
pub(super) enum Sent {
    /// A 2xx.
    Ok(u16),
    /// Another status, with what the receiver said.
    Status(u16, String),
    /// No answer: refused address or scheme, connection error, timeout.
    Failed {
        /// Refused by the SSRF guard.
        refused: bool,
        /// Why.
        error: String,
    },
}

/// The HTTP client webhooks are sent with.
#[derive(Debug)]
pub(super) struct Sender {
    client: reqwest::Client,
    allow_http: bool,
    allow_private_addresses: bool,
}

impl Sender {
    pub(super) fn new(config: &WebhooksConfig) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds))
            // A redirect could lead anywhere, the checked address being the first hop only.
            .redirect(reqwest::redirect::Policy::none())
            // Through a proxy the target's address is never resolved here, so never checked.
            .no_proxy()
            .user_agent(concat!(
                "license-server-webhooks/",
                env!("CARGO_PKG_VERSION")
            ));
        if !config.allow_private_addresses {
            builder = builder.dns_resolver(PublicOnly);
        }
        Ok(Self {
            client: builder.build()?,
            allow_http: config.allow_http,
            allow_private_addresses: config.allow_private_addresses,
        })
    }

    /// POSTs `message` to `endpoint`, signed at `at`.
    pub(super) async fn send(
        &self,
        endpoint: &WebhookEndpoint,
        message: &WebhookMessage,
        at: DateTime<Utc>,
    ) -> Sent {
        let refused = |error: String| Sent::Failed {
            refused: true,
            error,
        };
        let url = match reqwest::Url::parse(endpoint.url.as_str()) {
            Ok(url) => url,
            Err(e) => return refused(format!("invalid url: {e}")),
        };
        if url.scheme() != "https" && !(url.scheme() == "http" && self.allow_http) {
            return refused("refused: the url is not https (webhooks.allow_http is off)".into());
        }
        // A literal IP is never resolved, so the resolver cannot check it.
        let literal: Option<IpAddr> = url
            .host_str()
            .and_then(|h| h.trim_start_matches('[').trim_end_matches(']').parse().ok());
        if !self.allow_private_addresses && literal.is_some_and(is_forbidden) {
            return refused(
                "refused address: private, loopback or link-local (webhooks.allow_private_addresses is off)"
                    .into(),
            );
        }
        let timestamp = at.timestamp();
        // After a rotation, one signature per secret still signing, space-separated: a
        // receiver holding either one verifies (Standard Webhooks).
        let signature = endpoint
            .signing_secrets(at)
            .into_iter()
            .map(|secret| sign(secret, &message.id, timestamp, &message.body))
            .collect::<Vec<_>>()
            .join(" ");
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &message.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(message.body.clone())
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => Sent::Ok(r.status().as_u16()),
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                Sent::Status(status, clip(&format!("HTTP {status}: {text}")))
            }
            Err(e) => {
                let kind = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "could not connect"
                } else {
                    "failed"
                };
                Sent::Failed {
                    refused: has_refused_address(&e),
                    error: clip(&format!("{kind}: {}", error_chain(&e))),
                }
            }
        }
    }
}

fn has_refused_address(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if err.is::<RefusedAddress>() {
            return true;
        }
        source = err.source();
    }
    false
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(err) = source {
        parts.push(err.to_string());
        source = err.source();
    }
    parts.join(": ")
}

fn clip(text: &str) -> String {
    if text.len() <= MAX_ERROR_LEN {
        return text.to_owned();
    }
    let mut end = MAX_ERROR_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn the_default_resolver_refuses_internal_names() {
        for host in [
            "localhost",
            "127.0.0.1",
            "10.0.0.1",
            "169.254.169.254",
            "::1",
        ] {
            let name: Name = host.parse().unwrap();
            let err = match PublicOnly.resolve(name).await {
                Err(e) => e,
                Ok(addrs) => panic!("{host}: {:?}", addrs.collect::<Vec<_>>()),
            };
            assert!(err.is::<RefusedAddress>(), "{host}: {err}");
        }
    }

    #[test]
    fn errors_are_clipped_on_a_character_boundary() {
        let long = "é".repeat(400);
        let clipped = clip(&long);
        assert!(clipped.len() <= MAX_ERROR_LEN + 3);
        assert!(clipped.ends_with('…'));
    }

    /// Literal addresses, however spelt (decimal, octal, IPv4-mapped), are refused before
    /// anything is sent: the URL parser normalises them to the address they mean.
    #[tokio::test]
    async fn the_default_refuses_literal_internal_addresses_in_any_spelling() {
        use license_core::TenantId;
        use license_core::event_log::{ChainHash, LogEntry, NewLogEntry};
        use license_core::webhooks::{EventTypes, WebhookSecret, WebhookUrl};

        let sender = Sender::new(&WebhooksConfig::default()).unwrap();
        let tenant = TenantId::new();
        let entry = LogEntry::link(
            1,
            &ChainHash::GENESIS,
            NewLogEntry {
                at: Utc::now(),
                replica: "r".into(),
                body: r#"{"type":"granted"}"#.into(),
            },
        );
        let message = WebhookMessage::of_entry(tenant, &entry);
        for url in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0177.0.0.1/",
            "https://10.0.0.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "http://example.com/",
        ] {
            let endpoint = WebhookEndpoint::new(
                tenant,
                WebhookUrl::from_stored(url.into()),
                EventTypes::all(),
                WebhookSecret::generate().unwrap(),
                "",
                Utc::now(),
            )
            .unwrap();
            match sender.send(&endpoint, &message, Utc::now()).await {
                Sent::Failed { refused: true, .. } => {}
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
