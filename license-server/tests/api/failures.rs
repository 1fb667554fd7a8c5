//! Dependencies failing and coming back: 503 naming the dependency, then recovery without a
//! restart.

use crate::helpers::spawn_app;

#[tokio::test]
async fn ledger_down_is_503_naming_it_and_recovers() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 2).await;
    let held = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);

    app.ledger.set_unavailable(true);
    let ready = app.ready().await.expect_error(503, "unavailable");
    assert_eq!(ready.body["dependency"], "ledger");
    let refused = app
        .acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect_error(503, "unavailable");
    assert_eq!(refused.body["dependency"], "ledger");
    assert!(
        !refused.body["message"]
            .as_str()
            .unwrap()
            .contains("switched off"),
        "no cause"
    );
    app.health().await.expect(200);

    app.ledger.set_unavailable(false);
    app.ready().await.expect(200);
    app.acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect(200);
    app.heartbeat(&acme.client, &held.str("session_id"))
        .await
        .expect(200);
}

#[tokio::test]
async fn a_ledger_that_lost_its_state_is_rebuilt_from_the_store() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    let held = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    app.ledger.lose_state();
    app.acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect_error(402, "no_seats_available");
    app.heartbeat(&acme.client, &held.str("session_id"))
        .await
        .expect(200);
    assert!(
        app.metrics()
            .await
            .contains("license_ledger_rebuilds_total")
    );
}

#[tokio::test]
async fn store_down_is_503_naming_it_and_recovers() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 2).await;

    app.store.set_unavailable(true);
    let ready = app.ready().await.expect_error(503, "unavailable");
    assert_eq!(ready.body["dependency"], "store");
    let refused = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect_error(503, "unavailable");
    assert_eq!(refused.body["dependency"], "store");
    app.list_licenses(&acme.admin, "")
        .await
        .expect_error(503, "unavailable");

    app.store.set_unavailable(false);
    app.ready().await.expect(200);
    app.acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
}
