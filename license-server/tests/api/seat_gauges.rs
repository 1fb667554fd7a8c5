//! The per-license seat gauges: the background task's step is driven directly, and time by
//! the manual clock.

use chrono::TimeDelta;
use license_server::seat_gauges::{GaugeOutcome, WINDOW, gauge_step};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app_with};

/// A server whose gauge task ticks once at start (nothing served yet) and not again during
/// the test: the test runs the step itself.
async fn app() -> TestApp {
    spawn_app_with(|config| config.metrics.seat_gauge_seconds = 3600).await
}

/// The value of `name{…license_id="<license>"}` on `/metrics`, if the series is there.
async fn gauge(app: &TestApp, name: &str, license: &str) -> Option<i64> {
    let text = app.metrics().await;
    let label = format!("license_id=\"{license}\"");
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix('{')?;
        let (labels, value) = rest.split_once("} ")?;
        labels.contains(&label).then(|| value.parse().unwrap())
    })
}

async fn seats(app: &TestApp, license: &str) -> Option<(i64, i64, i64)> {
    Some((
        gauge(app, "license_seats_in_use", license).await?,
        gauge(app, "license_seats_limit", license).await?,
        gauge(app, "license_seats_sold", license).await?,
    ))
}

#[tokio::test]
async fn gauges_show_live_seats_and_the_limit_and_drop_licenses_no_longer_served() {
    let app = app().await;
    let acme = app
        .fixture_with(
            "Acme",
            json!({ "product": "CAD Pro", "seats_total": 2, "overdraft": 1 }),
        )
        .await;
    let beta = app.fixture("Beta", 1).await;
    assert_eq!(seats(&app, &acme.license_id).await, None);

    for machine in ["m1", "m2"] {
        app.acquire(&acme.client, &acme.license_key, machine)
            .await
            .expect(200);
    }
    app.acquire(&beta.client, &beta.license_key, "m1")
        .await
        .expect(200);
    let outcome = gauge_step(&app.state).await;
    assert_eq!(
        outcome,
        GaugeOutcome {
            set: 2,
            skipped: 0,
            dropped: 0
        }
    );
    assert_eq!(seats(&app, &acme.license_id).await, Some((2, 3, 2)));
    assert_eq!(seats(&app, &beta.license_id).await, Some((1, 1, 1)));
    let text = app.metrics().await;
    assert!(
        text.contains(&format!(
            "license_seats_in_use{{tenant_id=\"{}\",license_id=\"{}\"}} 2",
            acme.tenant_id, acme.license_id
        )),
        "{text}"
    );

    // Past the window: the first seats expired at their TTL, Acme serves a new machine and
    // Beta nothing, so Beta's series go.
    app.clock.advance(WINDOW + TimeDelta::minutes(1));
    app.acquire(&acme.client, &acme.license_key, "m3")
        .await
        .expect(200);
    let outcome = gauge_step(&app.state).await;
    assert_eq!(
        outcome,
        GaugeOutcome {
            set: 1,
            skipped: 0,
            dropped: 1
        }
    );
    assert_eq!(seats(&app, &acme.license_id).await, Some((1, 3, 2)));
    assert_eq!(
        gauge(&app, "license_seats_in_use", &beta.license_id).await,
        None
    );
    assert_eq!(
        gauge(&app, "license_seats_limit", &beta.license_id).await,
        None
    );
    assert_eq!(
        gauge(&app, "license_seats_sold", &beta.license_id).await,
        None
    );
}

#[tokio::test]
async fn a_license_whose_ledger_fails_keeps_its_last_figures_for_the_round() {
    let app = app().await;
    let acme = app.fixture("Acme", 3).await;
    app.acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    gauge_step(&app.state).await;
    assert_eq!(seats(&app, &acme.license_id).await, Some((1, 3, 3)));

    // Lost state is not rebuilt by a gauge read: skipped, the last figures stay.
    app.ledger.lose_state();
    let outcome = gauge_step(&app.state).await;
    assert_eq!((outcome.set, outcome.skipped, outcome.dropped), (0, 1, 0));
    assert_eq!(seats(&app, &acme.license_id).await, Some((1, 3, 3)));

    // A ledger that does not answer: the same.
    app.ledger.set_unavailable(true);
    assert_eq!(gauge_step(&app.state).await.skipped, 1);
    app.ledger.set_unavailable(false);

    // The next acquire rebuilds the ledger from the store; the next round reads it.
    app.acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect(200);
    gauge_step(&app.state).await;
    assert_eq!(seats(&app, &acme.license_id).await, Some((2, 3, 3)));
}

#[tokio::test]
async fn no_seat_gauges_when_switched_off() {
    let app = spawn_app_with(|config| config.metrics.seat_gauge_seconds = 0).await;
    let acme = app.fixture("Acme", 1).await;
    app.acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    assert_eq!(gauge_step(&app.state).await, GaugeOutcome::default());
    assert_eq!(seats(&app, &acme.license_id).await, None);
}
