//! What is sent and how: the Standard Webhooks message of a log entry, its signature, the
//! backoff after a failure, and the delivery record.

use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::event_log::LogEntry;
use crate::ids::{TenantId, WebhookDeliveryId, WebhookId};
use crate::webhooks::endpoint::WebhookSecret;

/// One log entry as a webhook message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookMessage {
    /// `webhook-id`: `msg_<tenant uuid, simple>_<seq>`, the same at every retry and
    /// redelivery, so a receiver deduplicates on it.
    pub id: String,
    /// The event's `type` (`unknown` for an entry whose body is not an event object).
    pub event_type: String,
    /// The log number.
    pub seq: u64,
    /// The JSON body: `{"type", "timestamp", "data": {"seq", "event"}}`.
    pub body: String,
}

/// The `webhook-id` of a tenant's entry `seq`.
pub fn message_id(tenant: TenantId, seq: u64) -> String {
    format!("msg_{}_{seq}", tenant.as_uuid().simple())
}

impl WebhookMessage {
    /// The message for `entry` of `tenant`'s log. The event is the entry's JSON, parsed (a
    /// body that is not an object is sent as a string, typed `unknown`, rather than held back).
    pub fn of_entry(tenant: TenantId, entry: &LogEntry) -> Self {
        let event: Value = serde_json::from_str(&entry.body)
            .ok()
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::String(entry.body.clone()));
        let event_type = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned();
        let timestamp = event
            .get("at")
            .cloned()
            .unwrap_or_else(|| json!(entry.at.to_rfc3339()));
        let body = json!({
            "type": event_type,
            "timestamp": timestamp,
            "data": {"seq": entry.seq, "event": event},
        })
        .to_string();
        WebhookMessage {
            id: message_id(tenant, entry.seq),
            event_type,
            seq: entry.seq,
            body,
        }
    }
}

/// The `webhook-signature` header value: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))
/// (Standard Webhooks).
///
/// ```
/// use license_core::webhooks::{WebhookSecret, sign};
/// // The specification's published test vector.
/// let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
/// assert_eq!(
///     sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#),
///     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
/// );
/// ```
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.key_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(ctx.sign().as_ref()))
}

/// How long to wait after failures (the server's `webhooks.*` settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; doubled after each further one.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
    /// An endpoint failing without a success for this long is disabled.
    pub disable_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(5),
            max: Duration::from_secs(3_600),
            disable_after: Duration::from_secs(72 * 3_600),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `attempts`-th consecutive failure (1 for the first):
    /// `min(base · 2^(attempts − 1), max)`, spread by `jitter` in `[-1, 1]` over ±20 % so
    /// endpoints that failed together do not retry together.
    pub fn backoff(&self, attempts: u32, jitter: f64) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        let plain = self
            .base
            .saturating_mul(1u32 << doublings)
            .min(self.max)
            .as_secs_f64();
        Duration::from_secs_f64((plain * (1.0 + 0.2 * jitter.clamp(-1.0, 1.0))).max(0.0))
    }

    /// [`backoff`](Self::backoff) with jitter from the OS generator.
    pub fn backoff_random(&self, attempts: u32) -> Duration {
        let unit = crate::random::bytes::<4>()
            .map(|b| f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX))
            .unwrap_or(0.5);
        self.backoff(attempts, unit * 2.0 - 1.0)
    }

    /// Whether an endpoint failing since `failing_since` is to be disabled at `now`.
    pub fn should_disable(&self, failing_since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        TimeDelta::from_std(self.disable_after)
            .is_ok_and(|limit| now.signed_duration_since(failing_since) >= limit)
    }
}

/// One attempt to deliver a message, as the delivery log keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Its id.
    pub id: WebhookDeliveryId,
    /// The endpoint.
    pub endpoint_id: WebhookId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The log number delivered.
    pub seq: u64,
    /// The `webhook-id` sent.
    pub webhook_id: String,
    /// When it was sent.
    pub attempted_at: DateTime<Utc>,
    /// The HTTP status answered, if any.
    pub status_code: Option<u16>,
    /// Why it failed without a status (timeout, refused address…), or the status's reason.
    pub error: Option<String>,
    /// Whether the receiver took it (a 2xx).
    pub ok: bool,
    /// How long the attempt took.
    pub duration_ms: u64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::event_log::{ChainHash, NewLogEntry};

    #[test]
    fn the_signature_matches_the_specification_vector() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            sign(
                &secret,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn backoff_doubles_to_the_cap_within_the_jitter() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1, 0.0), Duration::from_secs(5));
        assert_eq!(p.backoff(2, 0.0), Duration::from_secs(10));
        assert_eq!(p.backoff(4, 0.0), Duration::from_secs(40));
        assert_eq!(p.backoff(20, 0.0), Duration::from_secs(3_600));
        assert_eq!(p.backoff(u32::MAX, 0.0), Duration::from_secs(3_600));
        assert_eq!(p.backoff(1, 1.0), Duration::from_secs(6));
        assert_eq!(p.backoff(1, -1.0), Duration::from_secs(4));
        for n in 1..40 {
            let d = p.backoff_random(n).as_secs_f64();
            let plain = p.backoff(n, 0.0).as_secs_f64();
            assert!(
                d >= plain * 0.8 - 1e-9 && d <= plain * 1.2 + 1e-9,
                "{n}: {d}"
            );
        }
    }

    #[test]
    fn endpoints_are_disabled_after_the_limit() {
        let p = RetryPolicy::default();
        let now = Utc::now();
        assert!(!p.should_disable(now - TimeDelta::hours(71), now));
        assert!(p.should_disable(now - TimeDelta::hours(72), now));
    }

    #[test]
    fn a_message_wraps_the_event_and_keeps_its_id_per_entry() {
        let tenant = TenantId::new();
        let entry = LogEntry::link(
            7,
            &ChainHash::GENESIS,
            NewLogEntry {
                at: Utc::now(),
                replica: "r".into(),
                body: r#"{"at":"2026-11-27T09:30:00Z","type":"granted","in_use":3}"#.into(),
            },
        );
        let m = WebhookMessage::of_entry(tenant, &entry);
        assert_eq!(m.id, format!("msg_{}_7", tenant.as_uuid().simple()));
        assert_eq!(m.event_type, "granted");
        let body: Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(body["type"], "granted");
        assert_eq!(body["timestamp"], "2026-11-27T09:30:00Z");
        assert_eq!(body["data"]["seq"], 7);
        assert_eq!(body["data"]["event"]["in_use"], 3);
        let odd = LogEntry {
            body: "not json".into(),
            ..entry
        };
        assert_eq!(WebhookMessage::of_entry(tenant, &odd).event_type, "unknown");
    }
}
