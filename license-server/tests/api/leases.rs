//! The client contract: acquire, heartbeat, release, validate.

use chrono::TimeDelta;
use license_core::{Jwks, TokenVerifier};
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn two_seats_refuse_a_third_machine_until_one_is_released() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 2).await;

    let first = app
        .acquire(&acme.client, &acme.license_key, "machine-1")
        .await
        .expect(200);
    assert!(first.body["heartbeat_interval_seconds"].as_u64().unwrap() > 0);
    assert!(first.body["expires_at"].is_string());
    assert!(first.body["token"].is_string());
    app.acquire(&acme.client, &acme.license_key, "machine-2")
        .await
        .expect(200);

    app.acquire(&acme.client, &acme.license_key, "machine-3")
        .await
        .expect_error(402, "no_seats_available");

    let released = app
        .release(&acme.client, &first.str("session_id"))
        .await
        .expect(200);
    assert!(released.body["released_at"].is_string());
    app.acquire(&acme.client, &acme.license_key, "machine-3")
        .await
        .expect(200);
}

#[tokio::test]
async fn heartbeat_renews_the_seat_with_a_fresh_token() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    let lease = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    let session = lease.str("session_id");

    app.clock.advance(TimeDelta::seconds(100));
    let beat = app.heartbeat(&acme.client, &session).await.expect(200);
    assert!(beat.str("expires_at") > lease.str("expires_at"));
    assert_ne!(beat.str("token"), lease.str("token"));

    // Heartbeats keep the seat past the first TTL.
    app.clock.advance(TimeDelta::seconds(300));
    app.heartbeat(&acme.client, &session).await.expect(200);
}

#[tokio::test]
async fn heartbeat_after_the_ttl_is_gone() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    let lease = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);

    app.clock.advance(TimeDelta::seconds(361));
    app.heartbeat(&acme.client, &lease.str("session_id"))
        .await
        .expect_error(410, "session_expired");
    // The zombie's seat is free for another machine.
    app.acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect(200);
}

#[tokio::test]
async fn releasing_twice_answers_the_same() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    let lease = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    let session = lease.str("session_id");

    let first = app.release(&acme.client, &session).await.expect(200);
    app.clock.advance(TimeDelta::seconds(5));
    let again = app.release(&acme.client, &session).await.expect(200);
    assert_eq!(first.body, again.body);
    app.heartbeat(&acme.client, &session)
        .await
        .expect_error(410, "session_expired");
    app.release(&acme.client, "01900000-0000-7000-8000-000000000000")
        .await
        .expect_error(404, "session_not_found");
}

#[tokio::test]
async fn retry_does_not_take_a_second_seat() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    let first = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    app.clock.advance(TimeDelta::seconds(1));
    let retry = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    assert_eq!(first.str("session_id"), retry.str("session_id"));
    app.acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect_error(402, "no_seats_available");
    assert!(
        app.metrics()
            .await
            .contains(r#"license_acquires_total{outcome="idempotent"} 1"#)
    );
}

#[tokio::test]
async fn a_hundred_concurrent_acquisitions_fill_a_hundred_seats_exactly() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 100).await;
    let machines: Vec<String> = (0..100).map(|i| format!("machine-{i}")).collect();
    let replies = futures::future::join_all(
        machines
            .iter()
            .map(|m| app.acquire(&acme.client, &acme.license_key, m)),
    )
    .await;
    assert!(replies.iter().all(|r| r.status == 200), "{replies:?}");
    let mut sessions: Vec<_> = replies.iter().map(|r| r.str("session_id")).collect();
    sessions.sort();
    sessions.dedup();
    assert_eq!(sessions.len(), 100);

    app.acquire(&acme.client, &acme.license_key, "machine-101")
        .await
        .expect_error(402, "no_seats_available");
    let live = app
        .license_sessions(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    assert_eq!(live.body["items"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn inactive_licenses_refuse_with_their_reason() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 5).await;

    app.set_license_status(&acme.admin, &acme.license_id, "suspend")
        .await
        .expect(200);
    app.acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect_error(403, "license_suspended");
    app.set_license_status(&acme.admin, &acme.license_id, "reinstate")
        .await
        .expect(200);
    app.acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);

    let soon = (app.clock_now() + TimeDelta::seconds(60)).to_rfc3339();
    let expiring = app
        .create_license(
            &acme.admin,
            json!({ "product": "Trial", "seats_total": 1, "expires_at": soon }),
        )
        .await
        .expect(201);
    app.clock.advance(TimeDelta::seconds(61));
    app.acquire(&acme.client, &expiring.str("license_key"), "m1")
        .await
        .expect_error(403, "license_expired");

    app.set_license_status(&acme.admin, &acme.license_id, "revoke")
        .await
        .expect(200);
    app.acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect_error(403, "license_revoked");
}

#[tokio::test]
async fn suspending_ends_sessions_at_their_next_heartbeat() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    let lease = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    app.set_license_status(&acme.admin, &acme.license_id, "suspend")
        .await
        .expect(200);
    app.heartbeat(&acme.client, &lease.str("session_id"))
        .await
        .expect_error(403, "license_suspended");
    app.heartbeat(&acme.client, &lease.str("session_id"))
        .await
        .expect_error(410, "session_expired");
}

#[tokio::test]
async fn unknown_license_keys_are_404() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    app.acquire(&acme.client, "NOPE-NOPE-NOPE", "m1")
        .await
        .expect_error(404, "license_not_found");
}

#[tokio::test]
async fn lease_tokens_verify_offline_against_the_published_keys() {
    let app = spawn_app().await;
    let acme = app
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 1, "entitlements": ["pro", "export-pdf"] }),
        )
        .await;
    let lease = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);

    let verifier = app.pinned_verifier(&acme.tenant_id).await;
    let claims = verifier
        .verify(&lease.str("token"), app.clock_now())
        .unwrap();
    assert_eq!(
        claims.aud.map(|t| t.to_string()),
        Some(acme.tenant_id.clone())
    );
    assert_eq!(claims.sub.to_string(), lease.str("session_id"));
    assert_eq!(claims.lic.to_string(), acme.license_id);
    assert_eq!(claims.tid.to_string(), acme.tenant_id);
    assert_eq!(claims.hwid, "m1");
    assert_eq!(claims.ent, ["pro", "export-pdf"]);

    let beat = app
        .heartbeat(&acme.client, &lease.str("session_id"))
        .await
        .expect(200);
    verifier
        .verify(&beat.str("token"), app.clock_now())
        .unwrap();
}

#[tokio::test]
async fn validate_accepts_live_leases_only() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    let lease = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    let token = lease.str("token");

    let valid = app.validate(&acme.client, &token).await.expect(200);
    assert_eq!(valid.str("session_id"), lease.str("session_id"));
    assert_eq!(valid.str("hardware_id"), "m1");

    app.release(&acme.client, &lease.str("session_id"))
        .await
        .expect(200);
    app.validate(&acme.client, &token)
        .await
        .expect_error(410, "session_expired");
    app.validate(&acme.client, "not.a.token")
        .await
        .expect_error(400, "invalid_token");
}

#[tokio::test]
async fn the_reaper_step_marks_zombies_expired() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 3).await;
    app.acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    app.acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect(200);

    // Provably dead only after the write-behind slack; the license is new, so that is the
    // longest TTL plus the lag (ADR 0017).
    app.clock.advance(TimeDelta::seconds(361));
    let early = license_server::reaper::reap_step(&app.state, 1)
        .await
        .unwrap();
    assert_eq!(early.expired, 0, "a renewal may still be on its way");
    app.clock.advance(TimeDelta::days(2));
    let reaped = license_server::reaper::reap_step(&app.state, 1)
        .await
        .unwrap();
    assert_eq!(reaped.expired, 2);
    let live = app
        .license_sessions(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    assert!(live.body["items"].as_array().unwrap().is_empty());
    assert!(
        app.metrics()
            .await
            .contains("license_reaped_sessions_total 2")
    );
}

#[tokio::test]
async fn after_a_root_rotation_the_jwks_still_publishes_the_retired_root() {
    let before = spawn_app().await;
    let acme = before.fixture("Acme", 1).await;
    let lease = before
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    let saved = before.jwks().await.expect(200).body;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("retired-jwks.json");
    std::fs::write(&path, saved.to_string()).unwrap();

    // The rotated server has a new root of its own and publishes the saved one after it.
    let retired = path.display().to_string();
    let after = spawn_app_with(move |config| config.signer.retired_keys = retired).await;
    let jwks: Jwks = serde_json::from_value(after.jwks().await.expect(200).body).unwrap();
    let old: Jwks = serde_json::from_value(saved).unwrap();
    assert_eq!(jwks.keys.len(), 2);
    assert_ne!(jwks.keys[0].kid, old.keys[0].kid);
    assert_eq!(jwks.keys[1], old.keys[0]);
    // The old root still certifies the tenant key that signed the lease.
    let verifier = before.pinned_verifier(&acme.tenant_id).await;
    let published: license_core::TenantJwks =
        serde_json::from_value(before.tenant_jwks(&acme.tenant_id).await.expect(200).body).unwrap();
    let pinned_to_both = TokenVerifier::pinned(
        &jwks,
        &published,
        "license-server",
        acme.tenant_id.parse().unwrap(),
        before.clock_now(),
    )
    .unwrap();
    for v in [verifier, pinned_to_both] {
        let claims = v.verify(&lease.str("token"), before.clock_now()).unwrap();
        assert_eq!(claims.sub.to_string(), lease.str("session_id"));
    }
}
