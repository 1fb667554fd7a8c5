//! Webhooks over HTTP (ADR 0032): a real receiver on 127.0.0.1 checks every signature with
//! the Standard Webhooks reference library and records what arrives. Seat events arrive once
//! per `webhook-id`, typed, filtered by subscription; a failing receiver is retried after a
//! backoff and the delivery log shows both; redelivery resends the same ids; internal
//! addresses are refused; and an endpoint whose replica dies mid-delivery is taken over by
//! another once the claim expires, losing nothing.
//!
//! Tests drive the dispatcher's step (`dispatch_once`) with the background loop off, except
//! where two replicas on PostgreSQL take turns.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use poem::http::{HeaderMap, StatusCode};
use poem::listener::TcpAcceptor;
use poem::web::Data;
use poem::{EndpointExt, Route, Server, handler, post};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::helpers::{Api, Caller, TestApp, signing_key, spawn_app_with, spawn_composed_with};
use license_server::Config;

/// What the receiver does with the next requests.
#[derive(Default)]
struct Script {
    /// Answer 500 to this many more requests.
    fail: usize,
    /// Hold the next request without answering (a receiver that stalls).
    stall_next: bool,
}

#[derive(Default)]
pub(crate) struct Inbox {
    secret: Option<String>,
    script: Script,
    /// Every request, in arrival order: its `webhook-id` and body.
    pub(crate) seen: Vec<(String, Value)>,
    /// Requests whose signature did not verify.
    pub(crate) forged: usize,
    /// `webhook-id`s of requests held without an answer.
    stalled: Vec<String>,
}

#[derive(Clone, Default)]
pub(crate) struct Receiver {
    inbox: Arc<Mutex<Inbox>>,
    url: String,
}

impl Receiver {
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Inbox) -> T) -> T {
        f(&mut self.inbox.lock().unwrap())
    }

    pub(crate) fn ids(&self) -> Vec<String> {
        self.with(|i| i.seen.iter().map(|(id, _)| id.clone()).collect())
    }

    pub(crate) fn types(&self) -> Vec<String> {
        self.with(|i| {
            i.seen
                .iter()
                .map(|(_, b)| b["type"].as_str().unwrap().to_owned())
                .collect()
        })
    }
}

#[handler]
async fn receive(receiver: Data<&Receiver>, headers: &HeaderMap, body: Vec<u8>) -> StatusCode {
    let (verdict, stall) = receiver.with(|inbox| {
        // Verified independently: the reference library, not the server's code.
        let secret = inbox.secret.clone().unwrap_or_default();
        let verified = standardwebhooks::Webhook::new(&secret)
            .unwrap()
            .verify(&body, headers);
        if verified.is_err() {
            inbox.forged += 1;
            return (StatusCode::BAD_REQUEST, false);
        }
        let id = headers["webhook-id"].to_str().unwrap().to_owned();
        inbox
            .seen
            .push((id.clone(), serde_json::from_slice(&body).unwrap()));
        if std::mem::take(&mut inbox.script.stall_next) {
            inbox.stalled.push(id);
            return (StatusCode::NO_CONTENT, true);
        }
        if inbox.script.fail > 0 {
            inbox.script.fail -= 1;
            return (StatusCode::INTERNAL_SERVER_ERROR, false);
        }
        (StatusCode::NO_CONTENT, false)
    });
    if stall {
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    verdict
}

/// A receiver listening on 127.0.0.1 (a free port) at `/hook`.
pub(crate) async fn receiver() -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = Receiver {
        url: format!("http://{addr}/hook"),
        ..Receiver::default()
    };
    let app = Route::new()
        .at("/hook", post(receive))
        .data(receiver.clone());
    let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    receiver
}

/// Loopback receivers allowed, the dispatcher's loop off (tests run its step).
pub(crate) fn local(config: &mut Config) {
    config.webhooks.enabled = false;
    config.webhooks.allow_http = true;
    config.webhooks.allow_private_addresses = true;
}

/// Creates a webhook to `receiver` (all types when `types` is empty) and hands the receiver
/// its secret; returns the webhook's id.
pub(crate) async fn subscribe(
    api: &Api,
    admin: &Caller,
    receiver: &Receiver,
    types: &[&str],
) -> String {
    let created = api
        .send(
            Method::POST,
            "/api/v1/admin/webhooks",
            Some(admin),
            Some(json!({"url": receiver.url, "event_types": types, "description": "test"})),
        )
        .await
        .expect(201);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    receiver.with(|i| i.secret = Some(secret));
    let id = created.body["id"].as_str().unwrap().to_owned();
    let shown = api
        .send(
            Method::GET,
            &format!("/api/v1/admin/webhooks/{id}"),
            Some(admin),
            None,
        )
        .await
        .expect(200);
    assert!(
        shown.body.get("secret").is_none(),
        "the secret is shown once"
    );
    id
}

/// Writes the queued events to the log, then runs one dispatcher step.
pub(crate) async fn dispatch(app: &TestApp) {
    app.state.recorder.write_pending().await.unwrap();
    let (_stop, stopped) = watch::channel(false);
    app.state.dispatcher.dispatch_once(&stopped).await.unwrap();
}

async fn deliveries(api: &Api, admin: &Caller, id: &str) -> Vec<Value> {
    let reply = api
        .send(
            Method::GET,
            &format!("/api/v1/admin/webhooks/{id}/deliveries?limit=100"),
            Some(admin),
            None,
        )
        .await
        .expect(200);
    reply.body["items"].as_array().unwrap().clone()
}

pub(crate) fn webhook_id(tenant: &str, seq: u64) -> String {
    format!("msg_{}_{seq}", tenant.replace('-', ""))
}

#[tokio::test]
async fn seat_events_arrive_signed_typed_and_once_per_id() {
    let receiver = receiver().await;
    let app = spawn_app_with(local).await;
    let f = app.fixture("Hooked", 1).await;
    let id = subscribe(&app, &f.admin, &receiver, &[]).await;
    let first = app
        .acquire(&f.client, &f.license_key, "hw-1")
        .await
        .expect(200);
    app.acquire(&f.client, &f.license_key, "hw-2")
        .await
        .expect_error(402, "no_seats_available");
    app.release(&f.client, first.body["session_id"].as_str().unwrap())
        .await
        .expect(200);

    dispatch(&app).await;
    dispatch(&app).await;

    let seats: Vec<String> = receiver
        .types()
        .into_iter()
        .filter(|t| t != "admin_change" && t != "rebuilt")
        .collect();
    assert_eq!(seats, ["granted", "denied", "released"]);
    let ids = receiver.ids();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len(), "each webhook-id once: {ids:?}");
    assert_eq!(receiver.with(|i| i.forged), 0, "every signature verifies");
    let (wid, body) = receiver.with(|i| {
        i.seen
            .iter()
            .find(|(_, b)| b["type"] == "denied")
            .cloned()
            .unwrap()
    });
    let seq = body["data"]["seq"].as_u64().unwrap();
    assert_eq!(wid, webhook_id(&f.tenant_id, seq));
    assert_eq!(body["data"]["event"]["reason"], "no_seats");
    assert_eq!(body["data"]["event"]["tenant_id"], f.tenant_id.as_str());
    assert!(body["timestamp"].is_string());
    let log = deliveries(&app, &f.admin, &id).await;
    assert_eq!(log.len(), ids.len());
    assert!(
        log.iter()
            .all(|d| d["ok"] == true && d["status_code"] == 204)
    );
    let shown = app
        .send(
            Method::GET,
            &format!("/api/v1/admin/webhooks/{id}"),
            Some(&f.admin),
            None,
        )
        .await
        .expect(200);
    assert_eq!(shown.body["attempts"], 0);
    assert!(app.metrics().await.contains(&format!(
        "license_webhook_deliveries_total{{outcome=\"ok\"}} {}",
        ids.len()
    )));
}

/// The delivery log is kept `webhooks.delivery_log_days` (30): older attempts go at the
/// next prune, newer ones stay.
/// A rotated secret: shown once; for the overlap every delivery carries a signature by the
/// old secret and one by the new, so a receiver verifies with either; audited.
#[tokio::test]
async fn a_rotated_secret_signs_next_to_the_old_one_during_the_overlap() {
    let receiver = receiver().await;
    let app = spawn_app_with(local).await;
    let f = app.fixture("Hooked", 3).await;
    let id = subscribe(&app, &f.admin, &receiver, &["granted"]).await;
    let old = receiver.with(|i| i.secret.clone()).unwrap();
    let rotate = |webhook: String| {
        let app = &app;
        let admin = f.admin.clone();
        async move {
            app.send(
                Method::POST,
                &format!("/api/v1/admin/webhooks/{webhook}/rotate-secret"),
                Some(&admin),
                None,
            )
            .await
        }
    };
    let rotated = rotate(id.clone()).await.expect(200);
    let new = rotated.str("secret");
    assert!(new.starts_with("whsec_") && new != old, "{new}");
    assert_eq!(rotated.body["id"], id.as_str());
    assert!(rotated.body["previous_secret_until"].is_string());

    // A receiver still on the old secret verifies, and one on the new secret too.
    app.acquire(&f.client, &f.license_key, "hw-1")
        .await
        .expect(200);
    dispatch(&app).await;
    receiver.with(|i| i.secret = Some(new.clone()));
    app.acquire(&f.client, &f.license_key, "hw-2")
        .await
        .expect(200);
    dispatch(&app).await;
    assert_eq!(receiver.with(|i| i.forged), 0);
    assert_eq!(receiver.types(), ["granted", "granted"]);

    let shown = app
        .send(
            Method::GET,
            &format!("/api/v1/admin/webhooks/{id}"),
            Some(&f.admin),
            None,
        )
        .await
        .expect(200);
    assert!(shown.body.get("secret").is_none(), "shown once");
    let audit = app.audit(&f.admin).await.expect(200);
    assert!(
        audit.body.to_string().contains("webhook.rotate_secret"),
        "{}",
        audit.body
    );
    let missing = uuid::Uuid::now_v7().to_string();
    rotate(missing).await.expect_error(404, "webhook_not_found");
    let other = app.fixture("Other", 1).await;
    app.send(
        Method::POST,
        &format!("/api/v1/admin/webhooks/{id}/rotate-secret"),
        Some(&other.admin),
        None,
    )
    .await
    .expect_error(404, "webhook_not_found");
}

#[tokio::test]
async fn the_delivery_log_is_pruned_after_its_retention() {
    let receiver = receiver().await;
    let app = spawn_app_with(local).await;
    let f = app.fixture("Hooked", 2).await;
    let id = subscribe(&app, &f.admin, &receiver, &["granted"]).await;
    app.acquire(&f.client, &f.license_key, "hw-1")
        .await
        .expect(200);
    dispatch(&app).await;
    let old = deliveries(&app, &f.admin, &id).await.len();
    assert!(old > 0);
    assert_eq!(
        app.state.dispatcher.prune_deliveries().await.unwrap(),
        0,
        "all recent"
    );

    app.clock.advance(TimeDelta::days(29));
    app.acquire(&f.client, &f.license_key, "hw-2")
        .await
        .expect(200);
    dispatch(&app).await;
    // (The receiver refuses this one: its timestamp is 29 days ahead of the receiver's own
    // clock. The attempt is on record all the same.)
    let total = deliveries(&app, &f.admin, &id).await.len();
    assert!(total > old);
    app.clock.advance(TimeDelta::days(2));
    assert_eq!(
        app.state.dispatcher.prune_deliveries().await.unwrap(),
        old as u64
    );
    let kept = deliveries(&app, &f.admin, &id).await;
    assert_eq!(kept.len(), total - old, "the recent ones stay");
}

#[tokio::test]
async fn only_subscribed_types_are_sent_and_the_cursor_moves_past_the_rest() {
    let receiver = receiver().await;
    let app = spawn_app_with(local).await;
    let f = app.fixture("Picky", 2).await;
    let id = subscribe(&app, &f.admin, &receiver, &["released"]).await;
    for hw in ["hw-1", "hw-2"] {
        let s = app.acquire(&f.client, &f.license_key, hw).await.expect(200);
        app.release(&f.client, s.body["session_id"].as_str().unwrap())
            .await
            .expect(200);
    }
    dispatch(&app).await;
    assert_eq!(receiver.types(), ["released", "released"]);
    let head = app
        .events(&f.admin, "?after=0&limit=1000")
        .await
        .expect(200)
        .body["next_after"]
        .as_u64()
        .unwrap();
    let shown = app
        .send(
            Method::GET,
            &format!("/api/v1/admin/webhooks/{id}"),
            Some(&f.admin),
            None,
        )
        .await
        .expect(200);
    assert_eq!(
        shown.body["cursor"], head,
        "skipped entries are handled too"
    );
    assert_eq!(shown.body["event_types"], json!(["released"]));
}

#[tokio::test]
async fn a_failing_receiver_is_retried_after_a_backoff_with_the_same_id() {
    let receiver = receiver().await;
    let app = spawn_app_with(local).await;
    let f = app.fixture("Flaky", 1).await;
    let id = subscribe(&app, &f.admin, &receiver, &["granted"]).await;
    receiver.with(|i| i.script.fail = 1);
    app.acquire(&f.client, &f.license_key, "hw-1")
        .await
        .expect(200);

    dispatch(&app).await;
    let shown = app
        .send(
            Method::GET,
            &format!("/api/v1/admin/webhooks/{id}"),
            Some(&f.admin),
            None,
        )
        .await
        .expect(200);
    assert_eq!(shown.body["attempts"], 1);
    assert!(shown.body["next_attempt_at"].is_string());
    assert!(shown.body["failing_since"].is_string());
    dispatch(&app).await;
    assert_eq!(
        receiver.ids().len(),
        1,
        "not retried before the backoff ends"
    );

    // The first wait is 5 s, give or take 20 %.
    app.clock.advance(chrono::TimeDelta::seconds(7));
    dispatch(&app).await;
    let ids = receiver.ids();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1], "a retry keeps its webhook-id");
    let log = deliveries(&app, &f.admin, &id).await;
    assert_eq!(log.len(), 2);
    assert_eq!(
        (&log[0]["ok"], &log[0]["status_code"]),
        (&json!(true), &json!(204)),
        "newest first"
    );
    assert_eq!(
        (&log[1]["ok"], &log[1]["status_code"]),
        (&json!(false), &json!(500))
    );
    assert_eq!(log[0]["webhook_id"], log[1]["webhook_id"]);
    let metrics = app.metrics().await;
    assert!(metrics.contains("license_webhook_deliveries_total{outcome=\"failed\"} 1"));
    let shown = app
        .send(
            Method::GET,
            &format!("/api/v1/admin/webhooks/{id}"),
            Some(&f.admin),
            None,
        )
        .await
        .expect(200);
    assert_eq!(shown.body["attempts"], 0, "a success clears the failure");
}

#[tokio::test]
async fn redelivery_sends_the_same_ids_again_and_is_audited() {
    let receiver = receiver().await;
    let app = spawn_app_with(local).await;
    let f = app.fixture("Again", 1).await;
    let id = subscribe(&app, &f.admin, &receiver, &["granted"]).await;
    app.acquire(&f.client, &f.license_key, "hw-1")
        .await
        .expect(200);
    dispatch(&app).await;
    let first = receiver.ids();
    assert_eq!(first.len(), 1);
    let seq = receiver.with(|i| i.seen[0].1["data"]["seq"].as_u64().unwrap());

    let path = format!("/api/v1/admin/webhooks/{id}/redeliver");
    let bad = app
        .send(
            Method::POST,
            &path,
            Some(&f.admin),
            Some(json!({"from_seq": 0})),
        )
        .await
        .expect_error(400, "invalid_input");
    assert_eq!(bad.body["field"], "from_seq");
    app.send(
        Method::POST,
        &path,
        Some(&f.admin),
        Some(json!({"from_seq": seq})),
    )
    .await
    .expect(204);
    dispatch(&app).await;
    let ids = receiver.ids();
    assert_eq!(ids, [first[0].clone(), first[0].clone()]);
    let audit = app.audit(&f.admin).await.expect(200);
    assert!(
        audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "webhook.redeliver"),
        "{}",
        audit.body
    );
}

#[tokio::test]
async fn endpoints_are_managed_per_tenant_with_typed_errors() {
    let app = spawn_app_with(local).await;
    let f = app.fixture("Admin", 1).await;
    let other = app.fixture("Other", 1).await;
    let receiver = receiver().await;
    let id = subscribe(&app, &f.admin, &receiver, &["granted"]).await;
    let path = format!("/api/v1/admin/webhooks/{id}");
    app.send(Method::GET, &path, Some(&other.admin), None)
        .await
        .expect_error(404, "webhook_not_found");
    let bad = app
        .send(
            Method::PATCH,
            &path,
            Some(&f.admin),
            Some(json!({"event_types": ["renewed"]})),
        )
        .await
        .expect_error(400, "invalid_input");
    assert_eq!(bad.body["field"], "event_types");
    let changed = app
        .send(
            Method::PATCH,
            &path,
            Some(&f.admin),
            Some(json!({"enabled": false, "description": "paused"})),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["enabled"], false);
    assert_eq!(changed.body["description"], "paused");
    let list = app
        .send(Method::GET, "/api/v1/admin/webhooks", Some(&f.admin), None)
        .await
        .expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let theirs = app
        .send(
            Method::GET,
            "/api/v1/admin/webhooks",
            Some(&other.admin),
            None,
        )
        .await
        .expect(200);
    assert_eq!(theirs.body["items"], json!([]));
    app.send(Method::DELETE, &path, Some(&other.admin), None)
        .await
        .expect_error(404, "webhook_not_found");
    app.send(Method::DELETE, &path, Some(&f.admin), None)
        .await
        .expect(204);
    app.send(Method::GET, &path, Some(&f.admin), None)
        .await
        .expect_error(404, "webhook_not_found");
}

#[tokio::test]
async fn internal_addresses_are_refused_at_creation_and_at_delivery() {
    // The defaults: https only, no private addresses.
    let strict = spawn_app_with(|c| c.webhooks.enabled = false).await;
    let f = strict.fixture("Strict", 1).await;
    for url in [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
    ] {
        let reply = strict
            .send(
                Method::POST,
                "/api/v1/admin/webhooks",
                Some(&f.admin),
                Some(json!({"url": url})),
            )
            .await
            .expect_error(400, "invalid_input");
        assert_eq!(reply.body["field"], "url", "{url}");
    }

    // A host name is checked where it resolves, at delivery.
    let receiver = receiver().await;
    let app = spawn_app_with(|c| {
        c.webhooks.enabled = false;
        c.webhooks.allow_http = true;
    })
    .await;
    let f = app.fixture("Rebound", 1).await;
    let by_name = Receiver {
        url: receiver.url.replace("127.0.0.1", "localhost"),
        ..receiver.clone()
    };
    let id = subscribe(&app, &f.admin, &by_name, &["granted"]).await;
    app.acquire(&f.client, &f.license_key, "hw-1")
        .await
        .expect(200);
    dispatch(&app).await;
    assert!(receiver.ids().is_empty(), "nothing reached the receiver");
    let log = deliveries(&app, &f.admin, &id).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["ok"], false);
    assert!(
        log[0]["error"].as_str().unwrap().contains("refused"),
        "{}",
        log[0]
    );
    assert!(
        app.metrics()
            .await
            .contains("license_webhook_deliveries_total{outcome=\"refused\"} 1")
    );
}

/// Two replicas on one PostgreSQL store. The first claims the endpoint and is killed while
/// the receiver holds its request; the second delivers everything once the claim expires.
/// The receiver sees every id; only the one in flight when the first died arrives twice.
#[tokio::test]
async fn a_replica_killed_mid_delivery_is_taken_over_after_its_claim_expires() {
    let url = crate::real_services::fresh_database("webhooks_takeover").await;
    let key = signing_key();
    let configure = |c: &mut Config| {
        local(c);
        c.webhooks.lease_seconds = 5;
        c.webhooks.timeout_seconds = 2;
    };
    let one = spawn_composed_with(&url, "memory://", &key, configure).await;
    let two = spawn_composed_with(&url, "memory://", &key, configure).await;
    let receiver = receiver().await;
    let f = one.fixture("Takeover", 5).await;
    subscribe(&one, &f.admin, &receiver, &[]).await;
    for hw in ["hw-1", "hw-2", "hw-3"] {
        let s = one.acquire(&f.client, &f.license_key, hw).await.expect(200);
        one.release(&f.client, s.body["session_id"].as_str().unwrap())
            .await
            .expect(200);
    }
    one.state.recorder.write_pending().await.unwrap();
    receiver.with(|i| i.script.stall_next = true);

    let dispatcher = one.state.dispatcher.clone();
    let (_stop, stopped) = watch::channel(false);
    let first = tokio::spawn(async move { dispatcher.dispatch_once(&stopped).await });
    let started = Instant::now();
    while receiver.with(|i| i.stalled.is_empty()) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nothing arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.abort();
    let stalled = receiver.with(|i| i.stalled[0].clone());

    let (_stop, stopped) = watch::channel(false);
    let claimed_at_once = two.state.dispatcher.dispatch_once(&stopped).await.unwrap();
    assert_eq!(claimed_at_once.endpoints, 0, "the claim still holds");
    let log: Vec<u64> = one
        .events(&f.admin, "?after=0&limit=1000")
        .await
        .expect(200)
        .body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    let cursor_at_creation = receiver.with(|i| i.seen[0].1["data"]["seq"].as_u64().unwrap()) - 1;
    let expected: Vec<String> = log
        .iter()
        .filter(|s| **s > cursor_at_creation)
        .map(|s| webhook_id(&f.tenant_id, *s))
        .collect();
    let started = Instant::now();
    loop {
        two.state.dispatcher.dispatch_once(&stopped).await.unwrap();
        let seen = receiver.ids();
        if expected.iter().all(|id| seen.contains(id)) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not taken over: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for id in receiver.ids() {
        *counts.entry(id).or_default() += 1;
    }
    let twice: HashMap<&String, &usize> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert_eq!(
        twice,
        HashMap::from([(&stalled, &2)]),
        "only the id in flight arrives again"
    );
    assert_eq!(receiver.with(|i| i.forged), 0);
}

#[tokio::test]
async fn an_endpoint_failing_for_72_hours_is_disabled_with_an_event() {
    let receiver = receiver().await;
    let app = spawn_app_with(local).await;
    let f = app.fixture("Gone", 1).await;
    let id = subscribe(&app, &f.admin, &receiver, &["granted"]).await;
    receiver.with(|i| i.script.fail = usize::MAX);
    app.acquire(&f.client, &f.license_key, "hw-1")
        .await
        .expect(200);
    dispatch(&app).await;
    app.clock.advance(chrono::TimeDelta::hours(72));
    dispatch(&app).await;

    let path = format!("/api/v1/admin/webhooks/{id}");
    let shown = app
        .send(Method::GET, &path, Some(&f.admin), None)
        .await
        .expect(200);
    assert_eq!(shown.body["enabled"], false);
    assert!(
        shown.body["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("72 hours"),
        "{}",
        shown.body
    );
    assert_eq!(shown.body["attempts"], 2);
    app.state.recorder.write_pending().await.unwrap();
    let log = app
        .events(&f.admin, "?after=0&limit=1000")
        .await
        .expect(200);
    let disabled: Vec<Value> = log.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str::<Value>(e["body"].as_str().unwrap()).unwrap())
        .filter(|e| e["type"] == "webhook_disabled")
        .collect();
    assert_eq!(disabled.len(), 1, "one webhook_disabled event");
    assert_eq!(disabled[0]["endpoint_id"], id.as_str());
    let attempts = receiver.ids().len();
    app.clock.advance(chrono::TimeDelta::hours(2));
    dispatch(&app).await;
    assert_eq!(
        receiver.ids().len(),
        attempts,
        "a disabled endpoint gets nothing"
    );

    let enabled = app
        .send(
            Method::PATCH,
            &path,
            Some(&f.admin),
            Some(json!({"enabled": true})),
        )
        .await
        .expect(200);
    assert_eq!(enabled.body["attempts"], 0);
    assert!(enabled.body.get("disabled_reason").is_none());
    assert!(enabled.body.get("next_attempt_at").is_none());
}
