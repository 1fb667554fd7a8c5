//! Usage reports and signed daily statements over HTTP (ADR 0031): a scripted history
//! (acquire, deny, release, evict, expire) gives the figures worked out by hand, per user in
//! CSV; a day's statement verifies offline against the tenant's keys; bad input is 400
//! naming the field; a store outage is 503.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use license_core::usage_statement::verify_statement;
use serde_json::{Value, json};

use crate::helpers::{Fixture, TestApp, spawn_app};

/// An acquire by `user` on machine `hw` (shared with `event_record`).
pub(crate) async fn acquire(
    app: &TestApp,
    f: &Fixture,
    hw: &str,
    user: &str,
) -> crate::helpers::Reply {
    app.send(
        reqwest::Method::POST,
        "/api/v1/licenses/acquire",
        Some(&f.client),
        Some(json!({ "license_key": f.license_key, "hardware_id": hw, "user_email": user })),
    )
    .await
}

/// Two seats held two hours without a heartbeat: the history needs none.
async fn two_hour_seats(app: &TestApp) -> Fixture {
    app.fixture_with(
        "Acme",
        json!({ "product": "CAD Pro", "seats_total": 2, "ttl_seconds": 7_200 }),
    )
    .await
}

/// `at`'s UTC day as the API writes it.
pub(crate) fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// The history, from the app's (manual) clock at `t0`: ada 0–30 min (released), bob 10–40
/// min (evicted), cy refused at 20 min, then 50 min until her seat's expiry (no heartbeat;
/// the reaper ends it a day later). Returns cy's seat time in seconds.
async fn history(app: &TestApp, f: &Fixture) -> i64 {
    let step = || app.clock.advance(TimeDelta::minutes(10));
    let ada = acquire(app, f, "hw-1", "ada@example.com").await.expect(200);
    step();
    let bob = acquire(app, f, "hw-2", "bob@example.com").await.expect(200);
    step();
    acquire(app, f, "hw-3", "cy@example.com")
        .await
        .expect_error(402, "no_seats_available");
    step();
    app.release(&f.client, &ada.str("session_id"))
        .await
        .expect(200);
    step();
    app.evict(&f.admin, &bob.str("session_id"), "?reason=audit")
        .await
        .expect(200);
    step();
    let cy = acquire(app, f, "hw-3", "cy@example.com").await.expect(200);
    let acquired: DateTime<Utc> = app.clock_now();
    let expires: DateTime<Utc> = cy.str("expires_at").parse().unwrap();
    // Past the write-behind slack: the reaper proves cy's session dead.
    app.clock.advance(TimeDelta::days(2));
    let reaped = license_server::reaper::reap_step(&app.state, 100)
        .await
        .unwrap();
    assert_eq!(reaped.expired, 1);
    app.state.recorder.write_pending().await.unwrap();
    (expires - acquired).num_seconds()
}

/// Sums of each user's rows (a history near midnight spans two days).
fn per_key(rows: &[Value]) -> BTreeMap<String, (u64, u64, u64)> {
    let mut sums = BTreeMap::new();
    for row in rows {
        let key = row["key"].as_str().unwrap_or("-").to_owned();
        let e: &mut (u64, u64, u64) = sums.entry(key).or_default();
        e.0 = e.0.max(row["peak_seats"].as_u64().unwrap());
        e.1 += row["seat_seconds"].as_u64().unwrap();
        e.2 += row["denials"].as_u64().unwrap();
    }
    sums
}

#[tokio::test]
async fn a_scripted_history_reports_per_user_as_counted_by_hand() {
    let app = spawn_app().await;
    let f = two_hour_seats(&app).await;
    let t0 = app.clock_now();
    let cy_seconds = history(&app, &f).await as u64;
    let period = format!("?from={}&to={}", day(t0), day(t0 + TimeDelta::days(2)));

    let whole = app
        .report(&f.admin, &f.license_id, &period)
        .await
        .expect(200);
    assert_eq!(whole.body["by"], "license");
    assert_eq!(whole.body["events_lost"], 0);
    let rows = whole.body["rows"].as_array().unwrap();
    let sums = per_key(rows);
    // ada and bob overlap 10–30 min: the peak is 2; 30 + 30 min + cy's seat.
    assert_eq!(sums["-"], (2, 3_600 + cy_seconds, 1), "{}", whole.body);

    let by_user = app
        .report(&f.admin, &f.license_id, &format!("{period}&by=user"))
        .await
        .expect(200);
    let users = per_key(by_user.body["rows"].as_array().unwrap());
    assert_eq!(
        users,
        BTreeMap::from([
            ("ada@example.com".into(), (1, 1_800, 0)),
            ("bob@example.com".into(), (1, 1_800, 0)),
            ("cy@example.com".into(), (1, cy_seconds, 1)),
        ])
    );

    // The same rows as CSV: a header, then one line per user and day.
    let (status, content_type, csv) = app
        .report_text(
            &f.admin,
            &f.license_id,
            &format!("{period}&by=user&format=csv"),
        )
        .await;
    assert_eq!(status, 200, "{csv}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "start,user,peak_seats,seat_hours,seat_seconds,overdraft_seat_seconds,denials,\
             queue_waits,queue_waits_seated,queue_wait_seconds"
        )
    );
    let ada_line = lines
        .clone()
        .find(|l| l.contains("ada@example.com"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        ada_line.contains(",ada@example.com,1,0.500,1800,0,0,0,0,0"),
        "{csv}"
    );
    assert_eq!(
        lines.count(),
        by_user.body["rows"].as_array().unwrap().len()
    );

    // NDJSON: one row per line, the same as JSON's.
    let (status, content_type, ndjson) = app
        .report_text(
            &f.admin,
            &f.license_id,
            &format!("{period}&by=user&format=ndjson"),
        )
        .await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/x-ndjson")
    );
    let parsed: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(&parsed, by_user.body["rows"].as_array().unwrap());

    // Hourly: ada and bob both in t0's first hour or the next; the peak of 2 is somewhere.
    let hourly = app
        .report(&f.admin, &f.license_id, &format!("{period}&bucket=hour"))
        .await
        .expect(200);
    let peaks: Vec<u64> = hourly.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["peak_seats"].as_u64().unwrap())
        .collect();
    assert_eq!(peaks.iter().max(), Some(&2));
    assert!(peaks.len() >= 2, "cy's seat spans hours: {peaks:?}");
}

#[tokio::test]
async fn a_signed_statement_verifies_offline_and_matches_the_report() {
    let app = spawn_app().await;
    let f = two_hour_seats(&app).await;
    let t0 = app.clock_now();
    history(&app, &f).await;
    let signed = app
        .statement(&f.admin, &f.license_id, &day(t0))
        .await
        .expect(200);
    let report = app
        .report(
            &f.admin,
            &f.license_id,
            &format!("?from={0}&to={0}", day(t0)),
        )
        .await
        .expect(200);
    let row = &report.body["rows"][0];
    for figure in [
        "peak_seats",
        "seat_seconds",
        "denials",
        "overdraft_seat_seconds",
    ] {
        assert_eq!(signed.body[figure], row[figure], "{figure}");
    }
    assert_eq!(signed.body["seats_total"], 2);
    assert_eq!(signed.body["overdraft_peak"], 0);
    // A settled day's statement does not change as the log grows: the same figures, the same
    // last entry bearing on the day.
    acquire(&app, &f, "hw-9", "dee@example.com")
        .await
        .expect(200);
    app.state.recorder.write_pending().await.unwrap();
    let again = app
        .statement(&f.admin, &f.license_id, &day(t0))
        .await
        .expect(200);
    for field in [
        "peak_seats",
        "seat_seconds",
        "denials",
        "through_seq",
        "through_hash",
    ] {
        assert_eq!(again.body[field], signed.body[field], "{field}");
    }

    // Offline: the tenant's published keys, checked against the pinned root.
    let roots: license_core::Jwks =
        serde_json::from_value(app.jwks().await.expect(200).body).unwrap();
    let published: license_core::TenantJwks =
        serde_json::from_value(app.tenant_jwks(&f.tenant_id).await.expect(200).body).unwrap();
    let tenant: license_core::TenantId = f.tenant_id.parse().unwrap();
    let keys = published
        .certified_keys(&roots, "license-server", tenant, Utc::now())
        .unwrap();
    let claims =
        verify_statement(&keys, &signed.str("statement"), "license-server", tenant).unwrap();
    assert_eq!(claims.lic.to_string(), f.license_id);
    assert_eq!(
        u64::from(claims.peak_seats),
        row["peak_seats"].as_u64().unwrap()
    );
    assert_eq!(
        claims.through_seq,
        signed.body["through_seq"].as_u64().unwrap()
    );
    // Another tenant's statement does not pass for this one's.
    let other = app.fixture("Other", 1).await;
    let theirs = app
        .statement(&other.admin, &other.license_id, &day(t0))
        .await
        .expect(200);
    assert!(verify_statement(&keys, &theirs.str("statement"), "license-server", tenant).is_err());

    // A day that has not ended yet has no statement.
    let today = day(app.clock_now());
    let reply = app
        .statement(&f.admin, &f.license_id, &today)
        .await
        .expect_error(400, "invalid_input");
    assert_eq!(reply.body["field"], "day");
}

/// The log's retention (ADR 0034): once the history's days are trimmed from the log, the
/// reports by day, the CSV and the day's statement read as before; the log's numbering goes
/// on after the cut; hourly figures of a trimmed day are refused naming `from`.
#[tokio::test]
async fn a_trimmed_log_reports_and_states_its_old_days_as_before() {
    let app = spawn_app().await;
    let f = two_hour_seats(&app).await;
    let t0 = app.clock_now();
    history(&app, &f).await;
    assert_eq!(app.state.service.checkpoint_event_logs().await.unwrap(), 1);
    app.state.recorder.write_pending().await.unwrap();
    let period = format!("?from={}&to={}", day(t0), day(t0 + TimeDelta::days(3)));
    let read = || async {
        let mut all = Vec::new();
        for by in ["license", "user", "host", "group"] {
            let query = format!("{period}&by={by}");
            all.push(
                app.report(&f.admin, &f.license_id, &query)
                    .await
                    .expect(200)
                    .body,
            );
        }
        let csv = app
            .report_text(
                &f.admin,
                &f.license_id,
                &format!("{period}&by=user&format=csv"),
            )
            .await;
        (all, csv.2)
    };
    let (before, csv_before) = read().await;
    let statement = app
        .statement(&f.admin, &f.license_id, &day(t0))
        .await
        .expect(200);
    let head = app.events(&f.admin, "?after=0&limit=500").await.expect(200);
    let logged = head.body["entries"].as_array().unwrap().len() as u64;

    // Three days on, keep two: the history's days leave the log.
    app.clock.advance(TimeDelta::days(3));
    let trimmed = app.state.service.trim_event_logs(2).await.unwrap();
    assert!(trimmed.entries > 0 && trimmed.days > 0, "{trimmed:?}");
    let (after, csv_after) = read().await;
    assert_eq!(after, before);
    assert_eq!(csv_after, csv_before);
    assert!(csv_after.contains("cy@example.com"), "{csv_after}");
    let again = app
        .statement(&f.admin, &f.license_id, &day(t0))
        .await
        .expect(200);
    for field in [
        "peak_seats",
        "seat_seconds",
        "denials",
        "events_lost",
        "through_seq",
        "through_hash",
    ] {
        assert_eq!(again.body[field], statement.body[field], "{field}");
    }

    // The whole history went (it ended with the checkpoint entry); numbering goes on.
    let kept = app.events(&f.admin, "?after=0&limit=500").await.expect(200);
    assert_eq!(kept.body["entries"], json!([]), "{}", kept.body);
    acquire(&app, &f, "hw-9", "dee@example.com")
        .await
        .expect(200);
    app.state.recorder.write_pending().await.unwrap();
    let kept = app.events(&f.admin, "?after=0&limit=500").await.expect(200);
    assert_eq!(
        kept.body["entries"][0]["seq"],
        json!(logged + 1),
        "{}",
        kept.body
    );

    let hourly = app
        .report(
            &f.admin,
            &f.license_id,
            &format!("?from={0}&to={0}&bucket=hour", day(t0)),
        )
        .await
        .expect_error(400, "invalid_input");
    assert_eq!(hourly.body["field"], "from", "{}", hourly.body);
}

#[tokio::test]
async fn bad_report_input_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let f = app.fixture("Acme", 1).await;
    let cases = [
        ("?bucket=week", "bucket"),
        ("?by=planet", "by"),
        ("?format=xml", "format"),
        ("?from=2026-13-01", "from"),
        ("?from=2026-11-10&to=2026-11-01", "to"),
        ("?from=2025-01-01&to=2026-11-01", "to"),
        ("?from=2026-10-01&to=2026-11-15&bucket=hour", "to"),
    ];
    for (query, field) in cases {
        let reply = app
            .report(&f.admin, &f.license_id, query)
            .await
            .expect_error(400, "invalid_input");
        assert_eq!(reply.body["field"], field, "{query}: {}", reply.body);
    }
    let reply = app
        .statement(&f.admin, &f.license_id, "yesterday")
        .await
        .expect_error(400, "invalid_input");
    assert_eq!(reply.body["field"], "day", "{}", reply.body);
    let unknown = uuid::Uuid::now_v7().to_string();
    app.report(&f.admin, &unknown, "")
        .await
        .expect_error(404, "license_not_found");
    app.statement(&f.admin, &unknown, "2026-01-01")
        .await
        .expect_error(404, "license_not_found");
    app.report(&f.client, &f.license_id, "")
        .await
        .expect_error(403, "forbidden");
    let other = app.fixture("Other", 1).await;
    app.report(&other.admin, &f.license_id, "")
        .await
        .expect_error(404, "license_not_found");

    app.store.set_unavailable(true);
    app.report(&f.admin, &f.license_id, "")
        .await
        .expect_error(503, "unavailable");
    app.statement(&f.admin, &f.license_id, "2026-01-01")
        .await
        .expect_error(503, "unavailable");
    app.store.set_unavailable(false);
}
