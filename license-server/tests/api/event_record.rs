//! Issue #21's scenario from end to end, over HTTP: acquire, deny, release, expire and evict
//! on one license produce the matching seat events; the log range verifies offline with its
//! signed checkpoint; the usage report in CSV has a row per user; the day's signed statement
//! verifies offline; and a webhook receiver checks every delivery's signature with the
//! Standard Webhooks reference library and sees each log entry once.

use std::collections::BTreeMap;

use chrono::{TimeDelta, Utc};
use license_core::event_checkpoint::verify_embedded;
use license_core::event_log::{LogEntry, verify_chain};
use license_core::usage_statement::verify_statement;
use serde_json::{Value, json};

use crate::helpers::{Fixture, TestApp, spawn_app_with};
use crate::reports::{acquire, day};
use crate::webhooks::{dispatch, local, receiver, subscribe, webhook_id};

const ISSUER: &str = "license-server";

/// The tenant's whole log, as exported.
async fn log(app: &TestApp, f: &Fixture) -> Vec<LogEntry> {
    let reply = app
        .events(&f.admin, "?after=0&limit=1000")
        .await
        .expect(200);
    serde_json::from_value(reply.body["entries"].clone()).unwrap()
}

/// The types of the license's seat events, in log order.
fn seat_events(entries: &[LogEntry], license: &str) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| serde_json::from_str::<Value>(&e.body).unwrap())
        .filter(|b| b["license_id"] == license)
        .map(|b| {
            let user = b["user"].as_str().unwrap_or("-").to_owned();
            (b["type"].as_str().unwrap().to_owned(), user)
        })
        .collect()
}

#[tokio::test]
async fn acquire_deny_release_expire_evict_are_on_record_reported_stated_and_delivered() {
    let hooks = receiver().await;
    let app = spawn_app_with(local).await;
    let f = app
        .fixture_with(
            "Acme",
            json!({ "product": "CAD Pro", "seats_total": 2, "ttl_seconds": 600 }),
        )
        .await;
    // The set-up's entries on record first: the endpoint starts after them (no history).
    app.state.recorder.write_pending().await.unwrap();
    let before = log(&app, &f).await.last().map_or(0, |e| e.seq);
    let hook = subscribe(&app, &f.admin, &hooks, &[]).await;
    // Early in a UTC day, so the whole scenario is on one day.
    let t0 = app.clock_now();
    let start = (t0 + TimeDelta::days(1))
        .date_naive()
        .and_hms_opt(1, 0, 0)
        .unwrap()
        .and_utc();
    app.clock.advance(start - t0);
    let step = |minutes| app.clock.advance(TimeDelta::minutes(minutes));

    // ada and bob take the two seats; cy is refused; ada leaves; cy gets a seat and is
    // evicted by the administrator; bob's client dies and the reaper finds his seat expired.
    let ada = acquire(&app, &f, "hw-ada", "ada@example.com")
        .await
        .expect(200);
    acquire(&app, &f, "hw-bob", "bob@example.com")
        .await
        .expect(200);
    step(5);
    acquire(&app, &f, "hw-cy", "cy@example.com")
        .await
        .expect_error(402, "no_seats_available");
    step(5);
    app.release(&f.client, &ada.str("session_id"))
        .await
        .expect(200);
    step(5);
    let cy = acquire(&app, &f, "hw-cy", "cy@example.com")
        .await
        .expect(200);
    step(5);
    app.evict(&f.admin, &cy.str("session_id"), "?reason=audit")
        .await
        .expect(200);
    step(60);
    let reaped = license_server::reaper::reap_step(&app.state, 100)
        .await
        .unwrap();
    assert_eq!(reaped.expired, 1, "bob's seat lapsed without a heartbeat");
    app.state.recorder.write_pending().await.unwrap();
    assert_eq!(app.state.service.checkpoint_event_logs().await.unwrap(), 1);
    app.state.recorder.write_pending().await.unwrap();

    // 1. The matching events, in order.
    let entries = log(&app, &f).await;
    let events = seat_events(&entries, &f.license_id);
    let expected = [
        // The first acquire finds the license's seats not yet in the ledger and builds them.
        ("rebuilt", "-"),
        ("granted", "ada@example.com"),
        ("granted", "bob@example.com"),
        ("denied", "cy@example.com"),
        ("released", "ada@example.com"),
        ("granted", "cy@example.com"),
        ("evicted", "cy@example.com"),
        ("expired", "bob@example.com"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(t, u)| ((*t).to_owned(), (*u).to_owned()))
        .collect();
    assert_eq!(events, expected);

    // 2. The range verifies offline: an unbroken chain from the first entry, and the signed
    // checkpoint entry at its end checked against the tenant's keys pinned to the root.
    assert_eq!(verify_chain(&entries, None), Ok(()));
    let roots: license_core::Jwks =
        serde_json::from_value(app.jwks().await.expect(200).body).unwrap();
    let published: license_core::TenantJwks =
        serde_json::from_value(app.tenant_jwks(&f.tenant_id).await.expect(200).body).unwrap();
    let tenant: license_core::TenantId = f.tenant_id.parse().unwrap();
    let keys = published
        .certified_keys(&roots, ISSUER, tenant, app.clock_now())
        .unwrap();
    let checkpoints = verify_embedded(&entries, &keys, ISSUER, tenant).unwrap();
    assert_eq!(checkpoints.len(), 1);
    assert_eq!(
        checkpoints[0].seq,
        entries.len() as u64 - 1,
        "it vouches for all before it"
    );

    // 3. The CSV report by user: one row per user, worked out by hand.
    let today = day(start);
    let (status, _, csv) = app
        .report_text(
            &f.admin,
            &f.license_id,
            &format!("?from={today}&to={today}&by=user&format=csv"),
        )
        .await;
    assert_eq!(status, 200, "{csv}");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: BTreeMap<String, (u64, u64)> = lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let figures = (
                cells[col("seat_seconds")].parse().unwrap(),
                cells[col("denials")].parse().unwrap(),
            );
            (cells[col("user")].to_owned(), figures)
        })
        .collect();
    let bob_seconds = 600; // acquired at 01:00, never renewed: its TTL.
    assert_eq!(
        rows,
        BTreeMap::from([
            ("ada@example.com".to_owned(), (10 * 60, 0)),
            ("bob@example.com".to_owned(), (bob_seconds, 0)),
            ("cy@example.com".to_owned(), (5 * 60, 1)),
        ])
    );

    // 4. The day's statement, once the day has ended, verifies offline.
    app.clock.advance(TimeDelta::days(1));
    let signed = app
        .statement(&f.admin, &f.license_id, &today)
        .await
        .expect(200);
    let claims =
        verify_statement(&keys, &signed.str("statement"), ISSUER, tenant).expect("verifies");
    assert_eq!((claims.peak_seats, claims.denials), (2, 1));
    assert_eq!(claims.seat_seconds, 10 * 60 + bob_seconds + 5 * 60);
    assert_eq!(claims.day.to_string(), today);

    // 5. Webhooks: every entry delivered, each signature verified by the reference library,
    // each webhook-id (the tenant and the entry's number) once. The library holds a
    // delivery's timestamp to the receiver's own clock (5 minutes either way), so the
    // deliveries go out at the real time.
    app.clock.set(Utc::now());
    dispatch(&app).await;
    dispatch(&app).await;
    assert_eq!(hooks.with(|i| i.forged), 0);
    let ids = hooks.ids();
    let want: Vec<String> = entries
        .iter()
        .filter(|e| e.seq > before)
        .map(|e| webhook_id(&f.tenant_id, e.seq))
        .collect();
    assert_eq!(
        ids, want,
        "each entry after the endpoint's creation once, in order"
    );
    let delivered: Vec<String> = hooks.types();
    for kind in [
        "granted",
        "denied",
        "released",
        "evicted",
        "expired",
        "checkpoint",
    ] {
        assert!(
            delivered.iter().any(|t| t == kind),
            "{kind} in {delivered:?}"
        );
    }
    let log_of_deliveries = app
        .send(
            reqwest::Method::GET,
            &format!("/api/v1/admin/webhooks/{hook}/deliveries?limit=100"),
            Some(&f.admin),
            None,
        )
        .await
        .expect(200);
    assert_eq!(
        log_of_deliveries.body["items"].as_array().unwrap().len(),
        ids.len()
    );
}
