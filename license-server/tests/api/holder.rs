//! Sessions bound to their holder (ADR 0023): random session ids; a user's session answers only
//! to that user; a license may require a session secret, shown once; a refusal is the 404 of
//! an unknown session and changes nothing; client releases are in the audit log.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Api, Caller, Fixture, Reply, spawn_app};
use crate::oidc::{IdentityProvider, app_trusting};

fn items(body: &Value) -> &Vec<Value> {
    body["items"].as_array().unwrap()
}

/// A heartbeat or release (`op`) naming `session_id`, with `secret` when given.
async fn touch(
    api: &Api,
    op: &str,
    caller: &Caller,
    session_id: &str,
    secret: Option<&str>,
) -> Reply {
    let mut body = json!({ "session_id": session_id });
    if let Some(secret) = secret {
        body["session_secret"] = json!(secret);
    }
    api.send(
        Method::POST,
        &format!("/api/v1/licenses/{op}"),
        Some(caller),
        Some(body),
    )
    .await
}

/// The license's one live session as the admin list shows it.
async fn only_session(api: &Api, fixture: &Fixture) -> Value {
    let live = api
        .license_sessions(&fixture.admin, &fixture.license_id)
        .await
        .expect(200);
    assert_eq!(items(&live.body).len(), 1, "{}", live.body);
    items(&live.body)[0].clone()
}

/// The audit events with this action, newest first.
async fn audited(api: &Api, fixture: &Fixture, action: &str) -> Vec<Value> {
    let log = api.audit(&fixture.admin).await.expect(200);
    items(&log.body)
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

/// The answer for a session that does not exist, to compare refusals with.
async fn unknown(api: &Api, op: &str, caller: &Caller) -> Reply {
    let missing = uuid::Uuid::new_v4().to_string();
    touch(api, op, caller, &missing, None)
        .await
        .expect_error(404, "session_not_found")
}

#[tokio::test]
async fn session_ids_are_random_v4_and_distinct() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 200).await;
    let mut ids = HashSet::new();
    for i in 0..200 {
        let lease = app
            .acquire(&acme.client, &acme.license_key, &format!("pc-{i}"))
            .await
            .expect(200);
        let id: uuid::Uuid = lease.str("session_id").parse().unwrap();
        assert_eq!(id.get_version_num(), 4, "{id}");
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{id}");
        ids.insert(id);
    }
    assert_eq!(ids.len(), 200, "no two sessions share an id");
}

#[tokio::test]
async fn another_user_cannot_renew_or_release_a_users_session() {
    let idp = IdentityProvider::start().await;
    let app = app_trusting(&idp).await;
    let acme = app.fixture("Acme", 3).await;
    let ada = Caller::bearer(idp.token(&acme.tenant_id, json!({ "sub": "ada" })).await);
    let bob = Caller::bearer(idp.token(&acme.tenant_id, json!({ "sub": "bob" })).await);

    let lease = app
        .acquire(&ada, &acme.license_key, "ws-1")
        .await
        .expect(200);
    assert!(lease.body.get("session_secret").is_none(), "{}", lease.body);
    let session = lease.str("session_id");
    let before = only_session(&app, &acme).await;
    assert_eq!(before["holder"], "user:ada");

    // Bob, and the tenant's client API key, get the answer of an unknown session.
    for intruder in [&bob, &acme.client] {
        for op in ["heartbeat", "release"] {
            let refused = touch(&app, op, intruder, &session, None)
                .await
                .expect_error(404, "session_not_found");
            assert_eq!(refused.body, unknown(&app, op, intruder).await.body, "{op}");
        }
    }
    // Bob cannot take Ada's machine either (acquire is idempotent per machine).
    app.acquire(&bob, &acme.license_key, "ws-1")
        .await
        .expect_error(409, "conflict");

    // Nothing changed: Ada's session is live, untouched, and still hers to renew and release.
    assert_eq!(only_session(&app, &acme).await, before);
    assert!(audited(&app, &acme, "session.release").await.is_empty());
    touch(&app, "heartbeat", &ada, &session, None)
        .await
        .expect(200);
    touch(&app, "release", &ada, &session, None)
        .await
        .expect(200);
    let released = audited(&app, &acme, "session.release").await;
    assert_eq!(released.len(), 1);
    assert_eq!(released[0]["actor"], "user:ada");
}

#[tokio::test]
async fn a_license_may_require_a_session_secret_shown_once() {
    let app = spawn_app().await;
    let acme = app
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 2, "require_session_secret": true }),
        )
        .await;
    let license = app
        .get_license(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    assert_eq!(license.body["require_session_secret"], true);

    let lease = app
        .acquire(&acme.client, &acme.license_key, "pc-1")
        .await
        .expect(200);
    let session = lease.str("session_id");
    let secret = lease.str("session_secret");
    assert!(secret.starts_with("ss_") && secret.len() == 46, "{secret}");
    app.clock.advance(chrono::TimeDelta::seconds(30));
    let before = only_session(&app, &acme).await;

    // Without the secret, or with a wrong one: the 404 of an unknown session, and no change.
    let wrong = format!("ss_{}", "A".repeat(43));
    for op in ["heartbeat", "release"] {
        for presented in [None, Some(wrong.as_str())] {
            let refused = touch(&app, op, &acme.client, &session, presented)
                .await
                .expect_error(404, "session_not_found");
            assert_eq!(refused.body, unknown(&app, op, &acme.client).await.body);
        }
        // A malformed secret is bad input, whatever the session.
        let bad = touch(&app, op, &acme.client, &session, Some("hunter2"))
            .await
            .expect_error(400, "invalid_input");
        assert_eq!(bad.body["field"], "session_secret");
    }
    assert_eq!(only_session(&app, &acme).await, before, "nothing changed");
    assert!(audited(&app, &acme, "session.release").await.is_empty());

    // With it: renewed, and the secret is never given again.
    let renewed = touch(&app, "heartbeat", &acme.client, &session, Some(&secret))
        .await
        .expect(200);
    assert!(
        renewed.body.get("session_secret").is_none(),
        "{}",
        renewed.body
    );
    let time = |v: &Value| {
        v.as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    };
    assert!(time(&renewed.body["expires_at"]) > time(&before["expires_at"]));
    let listed = app
        .license_sessions(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    let audit = app.audit(&acme.admin).await.expect(200);
    for body in [&renewed.body, &listed.body, &audit.body] {
        assert!(!body.to_string().contains(&secret[3..]), "{body}");
    }
    touch(&app, "release", &acme.client, &session, Some(&secret))
        .await
        .expect(200);
    let live = app
        .license_sessions(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    assert!(items(&live.body).is_empty());
}

#[tokio::test]
async fn a_retried_acquire_gets_a_new_secret_and_the_old_one_stops_working() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 2).await;
    // Off by default; switched on by an update, for sessions acquired from then on.
    let plain = app
        .acquire(&acme.client, &acme.license_key, "pc-1")
        .await
        .expect(200);
    assert!(plain.body.get("session_secret").is_none());
    let changed = app
        .update_license(
            &acme.admin,
            &acme.license_id,
            json!({ "require_session_secret": true }),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["require_session_secret"], true);

    let first = app
        .acquire(&acme.client, &acme.license_key, "pc-2")
        .await
        .expect(200);
    let retry = app
        .acquire(&acme.client, &acme.license_key, "pc-2")
        .await
        .expect(200);
    assert_eq!(first.str("session_id"), retry.str("session_id"));
    let (old, new) = (first.str("session_secret"), retry.str("session_secret"));
    assert_ne!(old, new);
    let session = retry.str("session_id");
    touch(&app, "heartbeat", &acme.client, &session, Some(&old))
        .await
        .expect_error(404, "session_not_found");
    touch(&app, "heartbeat", &acme.client, &session, Some(&new))
        .await
        .expect(200);
}

#[tokio::test]
async fn client_releases_and_evictions_are_audited_with_their_actor() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 2).await;
    let lease = app
        .acquire(&acme.client, &acme.license_key, "pc-1")
        .await
        .expect(200);
    let session = lease.str("session_id");
    app.release(&acme.client, &session).await.expect(200);
    app.release(&acme.client, &session).await.expect(200);
    let released = audited(&app, &acme, "session.release").await;
    assert_eq!(released.len(), 1, "a repeated release records nothing");
    assert_eq!(
        released[0]["actor"],
        format!("api_key:{}", acme.client_key_id)
    );
    assert_eq!(released[0]["target"], format!("session:{session}"));
    assert_eq!(released[0]["details"]["hardware_id"], "pc-1");
    assert_eq!(
        released[0]["details"]["license_id"],
        acme.license_id.as_str()
    );

    let other = app
        .acquire(&acme.client, &acme.license_key, "pc-2")
        .await
        .expect(200);
    let evicted = other.str("session_id");
    app.force_release(&acme.admin, &evicted).await.expect(200);
    let forced = audited(&app, &acme, "session.force_release").await;
    assert_eq!(forced.len(), 1);
    assert_eq!(forced[0]["actor"], format!("api_key:{}", acme.admin_key_id));
    assert_eq!(forced[0]["target"], format!("session:{evicted}"));
}
