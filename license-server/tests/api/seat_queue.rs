//! Issue #20 (part 2) over HTTP: waiting for a seat in a license's queue (ADR 0029) — the
//! 202 and its ticket, polls, leaving, the refusals naming the queue, bad input; and the
//! done-when scenario: 10 clients queued on a 2-seat license on PostgreSQL + Redis, seated in
//! priority-then-arrival order across 3 replicas, one of them killed mid-run.

use license_testkit::redis::RedisServer;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Api, Fixture, Reply, spawn_app};
use crate::real_services::{fresh_database, replicas};

/// Asks for a seat for `hardware_id` with `extra` fields (`wait_seconds`, `queue_ticket`,
/// `host_name`).
async fn acquire(api: &Api, fixture: &Fixture, hardware_id: &str, extra: Value) -> Reply {
    let mut body = json!({ "license_key": fixture.license_key, "hardware_id": hardware_id });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    api.send(
        Method::POST,
        "/api/v1/licenses/acquire",
        Some(&fixture.client),
        Some(body),
    )
    .await
}

async fn wait(api: &Api, fixture: &Fixture, hardware_id: &str) -> Reply {
    acquire(api, fixture, hardware_id, json!({ "wait_seconds": 600 })).await
}

async fn poll(api: &Api, fixture: &Fixture, hardware_id: &str, ticket: &str) -> Reply {
    acquire(api, fixture, hardware_id, json!({ "queue_ticket": ticket })).await
}

async fn release(api: &Api, fixture: &Fixture, session_id: &str) {
    api.release(&fixture.client, session_id).await.expect(200);
}

#[track_caller]
fn position(reply: &Reply) -> u64 {
    assert_eq!(reply.status, 202, "should wait: {}", reply.body);
    reply.body["position"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_waiter_gets_a_ticket_polls_it_and_is_seated_in_turn() {
    let app = spawn_app().await;
    let fx = app
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 1, "max_wait_seconds": 600, "max_queue_length": 5 }),
        )
        .await;
    let license = app.get_license(&fx.admin, &fx.license_id).await.expect(200);
    assert_eq!(license.body["max_wait_seconds"], 600);
    assert_eq!(license.body["max_queue_length"], 5);

    let first = acquire(&app, &fx, "pc-1", json!({})).await.expect(200);
    let b = wait(&app, &fx, "pc-2").await;
    let c = wait(&app, &fx, "pc-3").await;
    assert_eq!((position(&b), position(&c)), (1, 2));
    assert!(
        b.body["poll_after_seconds"].as_u64().unwrap()
            < b.body["poll_within_seconds"].as_u64().unwrap()
    );
    assert!(b.body["wait_until"].is_string());
    let (b_ticket, c_ticket) = (b.str("queue_ticket"), c.str("queue_ticket"));
    let listing = app
        .send(
            Method::GET,
            &format!("/api/v1/admin/licenses/{}/queue", fx.license_id),
            Some(&fx.admin),
            None,
        )
        .await
        .expect(200);
    let waiting: Vec<(u64, String, String)> = listing.body["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["position"].as_u64().unwrap(),
                w["hardware_id"].as_str().unwrap().to_owned(),
                w["queue_ticket"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        waiting,
        [
            (1, "pc-2".to_owned(), b_ticket.clone()),
            (2, "pc-3".to_owned(), c_ticket.clone())
        ],
        "the admin's view of the queue"
    );
    // Clients may not look; another tenant's admin sees no such license.
    let other = app.fixture("Other", 1).await;
    for caller in [&fx.client, &other.admin] {
        let reply = app
            .send(
                Method::GET,
                &format!("/api/v1/admin/licenses/{}/queue", fx.license_id),
                Some(caller),
                None,
            )
            .await;
        assert!(
            matches!(reply.status, 403 | 404),
            "{} {}",
            reply.status,
            reply.body
        );
    }

    // Every seat taken: a plain acquire names the seats; once one is free, the queue.
    let refused = acquire(&app, &fx, "pc-4", json!({})).await;
    assert_eq!(
        refused.expect_error(402, "no_seats_available").body["limit_reached"],
        "seats"
    );
    release(&app, &fx, &first.str("session_id")).await;
    let refused = acquire(&app, &fx, "pc-4", json!({})).await;
    assert_eq!(
        refused.expect_error(402, "no_seats_available").body["limit_reached"],
        "queued"
    );

    assert_eq!(position(&poll(&app, &fx, "pc-3", &c_ticket).await), 2);
    let seated = poll(&app, &fx, "pc-2", &b_ticket).await.expect(200);
    assert_eq!(
        seated.str("session_id"),
        b_ticket,
        "the ticket becomes the session"
    );
    assert_eq!(position(&poll(&app, &fx, "pc-3", &c_ticket).await), 1);

    // Leaving: the place is given up, a poll finds it gone, leaving again says so.
    let leave = |ticket: String| {
        let (app, fx) = (&app, &fx);
        async move {
            app.send(
                Method::POST,
                "/api/v1/licenses/queue/leave",
                Some(&fx.client),
                Some(json!({ "license_key": fx.license_key, "queue_ticket": ticket })),
            )
            .await
            .expect(200)
        }
    };
    assert_eq!(leave(c_ticket.clone()).await.body["left"], true);
    assert_eq!(leave(c_ticket.clone()).await.body["left"], false);
    poll(&app, &fx, "pc-3", &c_ticket)
        .await
        .expect_error(410, "queue_ticket_gone");
    // The queue is empty: the seat freed by the seated waiter goes to a plain acquire.
    release(&app, &fx, &seated.str("session_id")).await;
    acquire(&app, &fx, "pc-4", json!({})).await.expect(200);
}

#[tokio::test]
async fn a_full_queue_and_a_license_without_one_refuse_at_once() {
    let app = spawn_app().await;
    let fx = app
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 1, "max_wait_seconds": 60, "max_queue_length": 1 }),
        )
        .await;
    acquire(&app, &fx, "pc-1", json!({})).await.expect(200);
    position(&wait(&app, &fx, "pc-2").await);
    let full = wait(&app, &fx, "pc-3").await;
    assert_eq!(
        full.expect_error(402, "no_seats_available").body["limit_reached"],
        "queue_full"
    );

    let other = app.fixture("Other", 1).await;
    acquire(&app, &other, "pc-1", json!({})).await.expect(200);
    let refused = wait(&app, &other, "pc-2").await;
    assert_eq!(
        refused.expect_error(402, "no_seats_available").body["limit_reached"],
        "seats"
    );
}

#[tokio::test]
async fn bad_queue_input_is_a_400_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let fx = app.fixture("Acme", 1).await;
    for (body, field) in [
        (
            json!({ "product": "CAD", "seats_total": 1, "max_wait_seconds": 86_401 }),
            "max_wait_seconds",
        ),
        (
            json!({ "product": "CAD", "seats_total": 1, "max_queue_length": 0 }),
            "max_queue_length",
        ),
    ] {
        let reply = app
            .create_license(&fx.admin, body)
            .await
            .expect_error(400, "invalid_input");
        assert_eq!(reply.body["field"], field, "{}", reply.body);
    }
    let reply = app
        .update_license(
            &fx.admin,
            &fx.license_id,
            json!({ "max_queue_length": 10_001 }),
        )
        .await
        .expect_error(400, "invalid_input");
    assert_eq!(reply.body["field"], "max_queue_length");
    for (extra, field) in [
        (json!({ "wait_seconds": 86_401 }), "wait_seconds"),
        (json!({ "queue_ticket": "not-a-ticket" }), "queue_ticket"),
    ] {
        let reply = acquire(&app, &fx, "pc-1", extra)
            .await
            .expect_error(400, "invalid_input");
        assert_eq!(reply.body["field"], field, "{}", reply.body);
    }
    let usage = app.usage(&fx.admin, &fx.license_id, "").await.expect(200);
    assert_eq!(usage.body["live_seats"], 0, "nothing was granted");
    // A priority rule: level 1–1000, with a group.
    let reply = app
        .send(
            Method::PUT,
            &format!("/api/v1/admin/licenses/{}/policy", fx.license_id),
            Some(&fx.admin),
            Some(json!({
                "groups": [{ "name": "ops", "members": [{ "kind": "host", "value": "pager" }] }],
                "rules": [{ "rule": "priority", "group": "ops" }],
            })),
        )
        .await
        .expect_error(400, "invalid_input");
    assert_eq!(reply.body["field"], "rules", "{}", reply.body);
}

/// The done-when scenario of issue #20's queue: 2 seats, 10 waiters on 3 replicas over
/// PostgreSQL + Redis, the `vip` group's two first by priority, the rest by arrival; each
/// freed seat goes to the next in line however the others poll, and a replica killed mid-run
/// loses no place.
#[tokio::test]
async fn ten_waiters_on_two_seats_are_seated_in_priority_then_arrival_order_across_replicas() {
    let store_url = fresh_database("seat_queue").await;
    let redis = RedisServer::start();
    let mut apps = replicas(3, &store_url, &redis.url()).await;
    let fx = apps[0]
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 2, "max_wait_seconds": 600 }),
        )
        .await;
    apps[0]
        .send(
            Method::PUT,
            &format!("/api/v1/admin/licenses/{}/policy", fx.license_id),
            Some(&fx.admin),
            Some(json!({
                "groups": [{ "name": "vip", "members": [{ "kind": "host", "value": "vip" }] }],
                "rules": [{ "rule": "priority", "level": 5, "group": "vip" }],
            })),
        )
        .await
        .expect(200);

    let mut holders: Vec<String> = Vec::new();
    for machine in ["holder-0", "holder-1"] {
        let lease = acquire(&apps[0], &fx, machine, json!({})).await.expect(200);
        holders.push(lease.str("session_id"));
    }
    // Waiters 0–9 join in order through the replicas in turn; 7 and 8 are in `vip`.
    let vip = |i: usize| i == 7 || i == 8;
    let mut tickets = Vec::new();
    for i in 0..10 {
        let mut extra = json!({ "wait_seconds": 600 });
        if vip(i) {
            extra["host_name"] = json!("vip");
        }
        let reply = acquire(&apps[i % 3], &fx, &format!("waiter-{i}"), extra).await;
        position(&reply);
        tickets.push(reply.str("queue_ticket"));
    }
    let expected: Vec<usize> = [7, 8, 0, 1, 2, 3, 4, 5, 6, 9].into();
    let mut waiting = expected.clone();
    let mut seated_order = Vec::new();
    for round in 0..10 {
        if round == 4 {
            // A replica dies mid-run: its clients go on through the others.
            drop(apps.pop());
        }
        let freed = holders.remove(0);
        release(&apps[round % apps.len()], &fx, &freed).await;
        // Everyone polls, last in line first: only the next in line may get the seat.
        let mut seated = Vec::new();
        for (place, &i) in waiting.iter().enumerate().rev() {
            let api = &apps[i % apps.len()];
            let mut extra = json!({ "queue_ticket": tickets[i] });
            if vip(i) {
                extra["host_name"] = json!("vip");
            }
            let reply = acquire(api, &fx, &format!("waiter-{i}"), extra).await;
            match reply.status {
                200 => {
                    assert_eq!(reply.str("session_id"), tickets[i]);
                    seated.push(i);
                    holders.push(reply.str("session_id"));
                }
                202 => assert_eq!(
                    reply.body["position"].as_u64(),
                    Some(place as u64 + 1),
                    "round {round}: waiter {i}'s place"
                ),
                _ => panic!("round {round}: waiter {i}: {} {}", reply.status, reply.body),
            }
        }
        assert_eq!(
            seated.len(),
            1,
            "round {round}: one seat freed, seated {seated:?}"
        );
        seated_order.push(seated[0]);
        waiting.retain(|i| *i != seated[0]);
    }
    assert_eq!(seated_order, expected, "priority, then arrival");
    let usage = apps[0]
        .usage(&fx.admin, &fx.license_id, "")
        .await
        .expect(200);
    assert_eq!(
        usage.body["live_seats"], 2,
        "never more than the seats: {}",
        usage.body
    );
}

/// Redis loses everything mid-queue (ADR 0029, "Record and rebuild"): on PostgreSQL + Redis,
/// three clients wait behind a taken seat; Redis is flushed; their next polls (through either
/// replica) rebuild the ledger from the store, seats and tickets, and each keeps its place; a
/// newcomer stands behind them, and the seat goes to them in their original order.
#[tokio::test]
async fn waiters_keep_their_places_when_redis_is_flushed_mid_queue() {
    let store_url = fresh_database("seat_queue_flush").await;
    let redis = RedisServer::start();
    let apps = replicas(2, &store_url, &redis.url()).await;
    let fx = apps[0]
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 1, "max_wait_seconds": 600 }),
        )
        .await;
    let holder = acquire(&apps[0], &fx, "holder", json!({}))
        .await
        .expect(200)
        .str("session_id");
    let mut tickets = Vec::new();
    for i in 0..3 {
        let reply = wait(&apps[i % 2], &fx, &format!("waiter-{i}")).await;
        assert_eq!(position(&reply), i as u64 + 1);
        tickets.push(reply.str("queue_ticket"));
    }

    redis.flushall();

    // Last in line first: the first poll finds the ledger empty and rebuilds it.
    for i in (0..3).rev() {
        let reply = poll(&apps[(i + 1) % 2], &fx, &format!("waiter-{i}"), &tickets[i]).await;
        assert_eq!(position(&reply), i as u64 + 1, "waiter {i} kept its place");
    }
    let newcomer = wait(&apps[1], &fx, "newcomer").await;
    assert_eq!(
        position(&newcomer),
        4,
        "a join after the rebuild stands behind"
    );
    // The holder's seat came back from the store too: nobody was seated past it.
    release(&apps[1], &fx, &holder).await;
    let mut seated_order = Vec::new();
    let mut waiting: Vec<usize> = (0..3).collect();
    while !waiting.is_empty() {
        let mut seated = Vec::new();
        for (place, &i) in waiting.iter().enumerate().rev() {
            let reply = poll(&apps[i % 2], &fx, &format!("waiter-{i}"), &tickets[i]).await;
            match reply.status {
                200 => {
                    assert_eq!(reply.str("session_id"), tickets[i]);
                    seated.push((i, reply.str("session_id")));
                }
                202 => assert_eq!(reply.body["position"].as_u64(), Some(place as u64 + 1)),
                _ => panic!("waiter {i}: {} {}", reply.status, reply.body),
            }
        }
        assert_eq!(seated.len(), 1, "one seat, seated {seated:?}");
        let (i, session) = seated.remove(0);
        seated_order.push(i);
        waiting.retain(|w| *w != i);
        release(&apps[0], &fx, &session).await;
    }
    assert_eq!(seated_order, vec![0, 1, 2], "the original order");
}
