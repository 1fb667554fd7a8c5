//! Webhooks in the `Store` contract: endpoints start at the log head, claims are exclusive and
//! expire, cursors never go back, deliveries are listed newest first, tenants are isolated.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use futures::future::join_all;

use super::store::{assert_not_found, audit, now, ok, tenant};
use crate::error::{Error, Resource};
use crate::event_log::NewLogEntry;
use crate::ids::{TenantId, WebhookDeliveryId, WebhookId};
use crate::store::Store;
use crate::webhooks::{
    Delivery, DeliveryFailure, EventTypes, UrlPolicy, WebhookClaim, WebhookEndpoint, WebhookSecret,
    WebhookUrl,
};

fn endpoint(tenant: TenantId, n: usize) -> WebhookEndpoint {
    let url = ok(
        WebhookUrl::parse(
            &format!("https://hooks.example.com/{n}"),
            UrlPolicy::default(),
        ),
        "url",
    );
    ok(
        WebhookEndpoint::new(
            tenant,
            url,
            ok(EventTypes::parse(&["granted", "released"]), "types"),
            ok(WebhookSecret::generate(), "secret"),
            &format!("endpoint {n}"),
            now(),
        ),
        "endpoint",
    )
}

async fn append(store: &dyn Store, t: TenantId, n: usize) -> u64 {
    let entries = (0..n)
        .map(|i| NewLogEntry {
            at: now(),
            replica: "r1".into(),
            body: format!(r#"{{"type":"granted","n":{i}}}"#),
        })
        .collect();
    ok(store.append_events(t, entries).await, "append")
}

fn claim(by: &str, at: DateTime<Utc>) -> WebhookClaim {
    WebhookClaim {
        by: by.into(),
        now: at,
        until: at + TimeDelta::seconds(30),
    }
}

fn delivery(e: &WebhookEndpoint, seq: u64, at: DateTime<Utc>, good: bool) -> Delivery {
    Delivery {
        id: WebhookDeliveryId::new(),
        endpoint_id: e.id,
        tenant_id: e.tenant_id,
        seq,
        webhook_id: crate::webhooks::message_id(e.tenant_id, seq),
        attempted_at: at,
        status_code: if good { Some(204) } else { None },
        error: if good { None } else { Some("timed out".into()) },
        ok: good,
        duration_ms: 12,
    }
}

/// Ours among what a claim returned (the store may hold other tests' endpoints).
fn mine(claimed: Vec<WebhookEndpoint>, ids: &HashSet<WebhookId>) -> Vec<WebhookEndpoint> {
    claimed
        .into_iter()
        .filter(|e| ids.contains(&e.id))
        .collect()
}

pub(super) async fn webhooks(store: &dyn Store) {
    endpoints(store).await;
    claims_and_deliveries(store).await;
    concurrent_claims_are_exclusive(store).await;
}

async fn endpoints(store: &dyn Store) {
    let a = tenant(store, "Hooks A").await;
    let b = tenant(store, "Hooks B").await;
    append(store, a.id, 3).await;
    let new = endpoint(a.id, 1);
    let created = ok(
        store
            .create_webhook(&new, &audit(a.id, "webhook.create", now()))
            .await,
        "create_webhook",
    );
    assert_eq!(created.cursor, 3, "a new endpoint starts at the log head");
    assert_eq!(
        WebhookEndpoint {
            cursor: 0,
            ..created.clone()
        },
        new
    );
    assert_eq!(ok(store.get_webhook(a.id, new.id).await, "get"), created);
    assert_not_found(
        store.get_webhook(b.id, new.id).await,
        Resource::Webhook,
        "another tenant's webhook",
    );
    assert_not_found(
        store.get_webhook(a.id, WebhookId::new()).await,
        Resource::Webhook,
        "a missing webhook",
    );
    match store
        .create_webhook(
            &endpoint(TenantId::new(), 2),
            &audit(a.id, "webhook.create", now()),
        )
        .await
    {
        Err(Error::NotFound(Resource::Tenant)) => {}
        other => panic!("a webhook of no tenant: {other:?}"),
    }
    let second = ok(
        store
            .create_webhook(&endpoint(a.id, 2), &audit(a.id, "webhook.create", now()))
            .await,
        "second",
    );
    let list = ok(store.list_webhooks(a.id).await, "list");
    assert_eq!(list, [created.clone(), second.clone()], "oldest first");
    rotation(store, &second).await;
    assert_eq!(ok(store.list_webhooks(b.id).await, "b's"), []);

    let changed = WebhookEndpoint {
        url: ok(
            WebhookUrl::parse("https://other.example.com/x", UrlPolicy::default()),
            "url",
        ),
        event_types: EventTypes::all(),
        enabled: false,
        description: "changed".into(),
        disabled_reason: Some("by hand".into()),
        ..created.clone()
    };
    ok(
        store
            .update_webhook(&changed, true, &audit(a.id, "webhook.update", now()))
            .await,
        "update",
    );
    assert_eq!(
        ok(store.get_webhook(a.id, created.id).await, "read"),
        changed
    );
    // Settings only: a stale read's state (enabled, backoff) does not overwrite the stored one.
    let stale = WebhookEndpoint {
        description: "settings only".into(),
        enabled: true,
        disabled_reason: None,
        attempts: 7,
        ..changed.clone()
    };
    ok(
        store
            .update_webhook(&stale, false, &audit(a.id, "webhook.update", now()))
            .await,
        "update settings",
    );
    let read = ok(store.get_webhook(a.id, created.id).await, "read");
    assert_eq!(read.description, "settings only");
    assert_eq!(
        (read.enabled, read.disabled_reason.clone(), read.attempts),
        (false, Some("by hand".into()), changed.attempts),
        "the state is left as it was"
    );
    assert_not_found(
        store
            .update_webhook(
                &WebhookEndpoint {
                    tenant_id: b.id,
                    ..changed.clone()
                },
                true,
                &audit(b.id, "webhook.update", now()),
            )
            .await,
        Resource::Webhook,
        "updating another tenant's webhook",
    );
    assert_not_found(
        store
            .delete_webhook(b.id, second.id, &audit(b.id, "webhook.delete", now()))
            .await,
        Resource::Webhook,
        "deleting another tenant's webhook",
    );
    ok(
        store
            .delete_webhook(a.id, second.id, &audit(a.id, "webhook.delete", now()))
            .await,
        "delete",
    );
    assert_not_found(
        store.get_webhook(a.id, second.id).await,
        Resource::Webhook,
        "a deleted webhook",
    );
    assert_not_found(
        store.list_webhook_deliveries(b.id, created.id, 10).await,
        Resource::Webhook,
        "another tenant's deliveries",
    );
}

async fn claims_and_deliveries(store: &dyn Store) {
    let t = tenant(store, "Hooks C").await;
    let e = ok(
        store
            .create_webhook(&endpoint(t.id, 1), &audit(t.id, "webhook.create", now()))
            .await,
        "create",
    );
    let ids = HashSet::from([e.id]);
    let at = now();
    assert_eq!(
        mine(
            ok(
                store.claim_due_webhooks(&claim("r1", at), 1000).await,
                "claim"
            ),
            &ids
        ),
        [],
        "nothing after the cursor: nothing to claim"
    );
    append(store, t.id, 5).await;
    let claimed = mine(
        ok(
            store.claim_due_webhooks(&claim("r1", at), 1000).await,
            "claim",
        ),
        &ids,
    );
    assert_eq!(
        claimed.len(),
        1,
        "an endpoint with entries after its cursor is due"
    );
    assert_eq!(claimed[0].claimed_by.as_deref(), Some("r1"));
    assert_eq!(claimed[0].claim_until, Some(at + TimeDelta::seconds(30)));
    assert_eq!(
        mine(
            ok(
                store.claim_due_webhooks(&claim("r2", at), 1000).await,
                "again"
            ),
            &ids
        ),
        [],
        "a claimed endpoint is not claimed again before its claim ends"
    );
    match store
        .record_webhook_progress(t.id, e.id, "r2", 1, Some(&delivery(&e, 1, at, true)))
        .await
    {
        Err(Error::Conflict(_)) => {}
        other => panic!("progress by a replica without the claim: {other:?}"),
    }
    for (seq, secs) in [(1, 1), (2, 2)] {
        let d = delivery(&e, seq, at + TimeDelta::seconds(secs), true);
        ok(
            store
                .record_webhook_progress(t.id, e.id, "r1", seq, Some(&d))
                .await,
            "progress",
        );
    }
    ok(
        store
            .record_webhook_progress(t.id, e.id, "r1", 1, None)
            .await,
        "progress back",
    );
    assert_eq!(
        ok(store.get_webhook(t.id, e.id).await, "read").cursor,
        2,
        "the cursor never goes back"
    );
    let failed = delivery(&e, 3, at + TimeDelta::seconds(3), false);
    let failure = DeliveryFailure {
        delivery: failed.clone(),
        next_attempt_at: at + TimeDelta::seconds(60),
        disabled_reason: None,
    };
    ok(
        store
            .record_webhook_failure(t.id, e.id, "r1", &failure)
            .await,
        "failure",
    );
    let again = DeliveryFailure {
        delivery: Delivery {
            id: WebhookDeliveryId::new(),
            ..failed.clone()
        },
        ..failure.clone()
    };
    ok(
        store.record_webhook_failure(t.id, e.id, "r1", &again).await,
        "failure again",
    );
    let read = ok(store.get_webhook(t.id, e.id).await, "read");
    assert_eq!(
        (
            read.cursor,
            read.attempts,
            read.failing_since,
            read.next_attempt_at
        ),
        (
            2,
            2,
            Some(failed.attempted_at),
            failure.next_attempt_at.into()
        ),
        "a failure counts, keeps the cursor and backs off"
    );
    let log = ok(
        store.list_webhook_deliveries(t.id, e.id, 3).await,
        "deliveries",
    );
    assert_eq!(log.len(), 3, "the limit holds");
    assert_eq!(
        log.iter().map(|d| d.seq).collect::<Vec<_>>(),
        [3, 3, 2],
        "newest first"
    );
    assert_eq!(log[2], delivery_like(&log[2], &e, 2));
    assert!(!log[0].ok && log[0].error.is_some() && log[0].status_code.is_none());
    ok(
        store.release_webhook_claim(t.id, e.id, "r2").await,
        "not mine",
    );
    assert_eq!(
        ok(store.get_webhook(t.id, e.id).await, "read")
            .claimed_by
            .as_deref(),
        Some("r1"),
        "another replica's release leaves the claim"
    );
    ok(
        store.release_webhook_claim(t.id, e.id, "r1").await,
        "release",
    );
    let read = ok(store.get_webhook(t.id, e.id).await, "read");
    assert_eq!((read.claimed_by, read.claim_until), (None, None));
    assert_eq!(
        mine(
            ok(
                store.claim_due_webhooks(&claim("r2", at), 1000).await,
                "backoff"
            ),
            &ids
        ),
        [],
        "not due before the next attempt"
    );
    let later = at + TimeDelta::seconds(61);
    assert_eq!(
        mine(
            ok(
                store.claim_due_webhooks(&claim("r2", later), 1000).await,
                "due"
            ),
            &ids
        )
        .len(),
        1,
        "due after the backoff"
    );
    let expired = later + TimeDelta::seconds(31);
    let taken = mine(
        ok(
            store.claim_due_webhooks(&claim("r3", expired), 1000).await,
            "takeover",
        ),
        &ids,
    );
    assert_eq!(taken.len(), 1, "an expired claim is claimed again");
    assert_eq!(taken[0].claimed_by.as_deref(), Some("r3"));
    let disable = DeliveryFailure {
        delivery: delivery(&e, 3, expired, false),
        disabled_reason: Some("failing for 72 hours".into()),
        ..failure
    };
    ok(
        store
            .record_webhook_failure(t.id, e.id, "r3", &disable)
            .await,
        "disable",
    );
    ok(
        store.release_webhook_claim(t.id, e.id, "r3").await,
        "release",
    );
    let read = ok(store.get_webhook(t.id, e.id).await, "read");
    assert!(!read.enabled && read.disabled_reason.is_some());
    let far = expired + TimeDelta::days(1);
    assert_eq!(
        mine(
            ok(
                store.claim_due_webhooks(&claim("r1", far), 1000).await,
                "off"
            ),
            &ids
        ),
        [],
        "a disabled endpoint is not claimed"
    );
    ok(
        store
            .redeliver_webhook(t.id, e.id, 2, &audit(t.id, "webhook.redeliver", now()))
            .await,
        "redeliver",
    );
    let read = ok(store.get_webhook(t.id, e.id).await, "read");
    assert_eq!(
        (
            read.cursor,
            read.enabled,
            read.attempts,
            read.failing_since,
            read.next_attempt_at
        ),
        (1, true, 0, None, None),
        "a redelivery moves the cursor back and clears the failure"
    );
    assert_eq!(read.disabled_reason, None);
    assert_not_found(
        store
            .redeliver_webhook(TenantId::new(), e.id, 1, &audit(t.id, "x", now()))
            .await,
        Resource::Webhook,
        "redelivering another tenant's webhook",
    );
    assert_eq!(
        mine(
            ok(
                store.claim_due_webhooks(&claim("r1", far), 1000).await,
                "again"
            ),
            &ids
        )
        .len(),
        1
    );
    ok(
        store.release_webhook_claim(t.id, e.id, "r1").await,
        "release",
    );
    prune_deliveries(store, t.id, &e, at).await;
}

/// The delivery log's retention: what was attempted before the cutoff goes, `limit` at a
/// time; another tenant's name prunes nothing.
async fn prune_deliveries(store: &dyn Store, t: TenantId, e: &WebhookEndpoint, at: DateTime<Utc>) {
    let seqs = |log: Vec<Delivery>| log.iter().map(|d| d.seq).collect::<Vec<_>>();
    let before = ok(store.list_webhook_deliveries(t, e.id, 100).await, "all");
    assert_eq!(seqs(before), [3, 3, 3, 2, 1], "the log so far");
    let other = tenant(store, "Hooks D").await;
    let cutoff = at + TimeDelta::seconds(60);
    assert_eq!(
        ok(
            store
                .prune_webhook_deliveries(other.id, e.id, cutoff, 10)
                .await,
            "other"
        ),
        0,
        "another tenant prunes nothing of this one's"
    );
    assert_eq!(
        ok(
            store
                .prune_webhook_deliveries(t, e.id, at + TimeDelta::seconds(2), 10)
                .await,
            "prune"
        ),
        1,
        "only what was attempted before the cutoff"
    );
    let left = ok(store.list_webhook_deliveries(t, e.id, 100).await, "left");
    assert_eq!(seqs(left), [3, 3, 3, 2]);
    assert_eq!(
        ok(
            store.prune_webhook_deliveries(t, e.id, cutoff, 2).await,
            "limit"
        ),
        2,
        "at most `limit`, oldest first"
    );
    let left = ok(store.list_webhook_deliveries(t, e.id, 100).await, "left");
    assert_eq!(seqs(left), [3, 3], "seq 2 and the oldest attempt at 3 went");
}

/// A rotation keeps the replaced secret and until when it signs; another tenant's name finds
/// nothing.
async fn rotation(store: &dyn Store, e: &WebhookEndpoint) {
    let t = e.tenant_id;
    let until = now() + TimeDelta::hours(24);
    let secret = ok(WebhookSecret::generate(), "secret");
    let rotated = ok(
        store
            .rotate_webhook_secret(
                t,
                e.id,
                &secret,
                until,
                &audit(t, "webhook.rotate_secret", now()),
            )
            .await,
        "rotate",
    );
    assert_eq!(rotated.secret, secret);
    assert_eq!(rotated.previous_secret.as_ref(), Some(&e.secret));
    assert_eq!(rotated.previous_secret_until, Some(until));
    assert_eq!(ok(store.get_webhook(t, e.id).await, "read"), rotated);
    assert_eq!(
        rotated.signing_secrets(until - TimeDelta::seconds(1)).len(),
        2
    );
    assert_eq!(
        rotated.signing_secrets(until),
        [&secret],
        "the old one stops at `until`"
    );
    let other = ok(WebhookSecret::generate(), "secret");
    assert_not_found(
        store
            .rotate_webhook_secret(TenantId::new(), e.id, &other, until, &audit(t, "x", now()))
            .await,
        Resource::Webhook,
        "another tenant's webhook",
    );
    assert_eq!(
        ok(store.get_webhook(t, e.id).await, "unchanged").secret,
        secret
    );
}

/// What `expected` would read back as: the same row, by value.
fn delivery_like(read: &Delivery, e: &WebhookEndpoint, seq: u64) -> Delivery {
    Delivery {
        endpoint_id: e.id,
        tenant_id: e.tenant_id,
        seq,
        webhook_id: crate::webhooks::message_id(e.tenant_id, seq),
        ..read.clone()
    }
}

/// Eight replicas claiming at once: each due endpoint goes to exactly one.
async fn concurrent_claims_are_exclusive(store: &dyn Store) {
    let t = tenant(store, "Hooks D").await;
    let mut ids = HashSet::new();
    for n in 0..12 {
        let e = ok(
            store
                .create_webhook(&endpoint(t.id, n), &audit(t.id, "webhook.create", now()))
                .await,
            "create",
        );
        ids.insert(e.id);
    }
    append(store, t.id, 1).await;
    // Later than any other check's claims, so every endpoint of this tenant is due.
    let at = now() + TimeDelta::days(3);
    let claims = join_all((0..8).map(|r| {
        let c = claim(&format!("r{r}"), at);
        async move { ok(store.claim_due_webhooks(&c, 3).await, "concurrent claim") }
    }))
    .await;
    let mut seen = HashSet::new();
    for claimed in claims {
        for e in mine(claimed, &ids) {
            assert!(seen.insert(e.id), "an endpoint claimed twice");
        }
    }
    assert!(!seen.is_empty(), "someone claimed");
    for id in &seen {
        let e = ok(store.get_webhook(t.id, *id).await, "read");
        assert!(e.claimed_by.is_some());
    }
}
