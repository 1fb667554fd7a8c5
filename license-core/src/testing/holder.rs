//! Who may touch a session, as the store keeps it: the holder and the secret hash survive a
//! round trip, a secret can be replaced (tenant-scoped), a license's `require_session_secret`
//! is stored and changed, an ending writes its audit record once, and live sessions come
//! oldest first although their ids are random (ADR 0023).

use chrono::TimeDelta;

use super::store::{assert_not_found, audit, license, now, ok, session, tenant};
use crate::SessionEnd;
use crate::audit::{Actor, AuditEvent};
use crate::error::Resource;
use crate::holder::SessionSecret;
use crate::ids::{ApiKeyId, SessionId};
use crate::quota::TenantQuotas;
use crate::session::EndReason;
use crate::store::Store;

pub(super) async fn holders_and_secrets(store: &dyn Store) {
    let a = tenant(store, "Soylent").await;
    let b = tenant(store, "Wonka").await;
    let mut l = license(a.id, "SOYL-KEY-0001", 10);
    l.require_session_secret = true;
    ok(
        store
            .create_license(
                &l,
                &TenantQuotas::UNLIMITED,
                &audit(a.id, "license.create", now()),
            )
            .await,
        "license requiring secrets",
    );
    assert!(
        ok(store.get_license(a.id, l.id).await, "get").require_session_secret,
        "require_session_secret is stored"
    );
    l.require_session_secret = false;
    ok(
        store
            .update_license(
                &l,
                &TenantQuotas::UNLIMITED,
                &audit(a.id, "license.update", now()),
            )
            .await,
        "update",
    );
    assert!(
        !ok(store.get_license(a.id, l.id).await, "get").require_session_secret,
        "require_session_secret is changed"
    );

    // Every kind of holder, and none (a session from before holders were recorded).
    let t0 = now();
    let expiry = t0 + TimeDelta::seconds(300);
    let subject = "google-oauth2|1234567890 ünïcode/+=";
    let holders = [
        Some(Actor::User(subject.into())),
        Some(Actor::ApiKey(ApiKeyId::new())),
        Some(Actor::System),
        None,
    ];
    for (i, holder) in holders.into_iter().enumerate() {
        let mut s = session(&l, &format!("hw-{i}"), expiry);
        s.holder = holder;
        ok(store.insert_session(&s, 0).await, "insert");
        assert_eq!(
            ok(store.get_session(a.id, s.id).await, "get").holder,
            s.holder,
            "the holder is kept"
        );
    }

    // The secret's hash is kept, and replaced only within the tenant.
    let first = ok(SessionSecret::generate(), "secret");
    let guarded = session(&l, "hw-guarded", expiry).with_secret(Some(first.hash()));
    ok(store.insert_session(&guarded, 0).await, "insert guarded");
    let read = ok(store.get_session(a.id, guarded.id).await, "get guarded");
    assert_eq!(read, guarded, "holder and secret hash round-trip");
    assert!(read.secret_hash.is_some_and(|h| h.matches(&first)));
    let second = ok(SessionSecret::generate(), "secret");
    assert_not_found(
        store
            .set_session_secret(b.id, guarded.id, &second.hash())
            .await,
        Resource::Session,
        "set_session_secret foreign",
    );
    assert_not_found(
        store
            .set_session_secret(a.id, SessionId::new(), &second.hash())
            .await,
        Resource::Session,
        "set_session_secret missing",
    );
    let unchanged = ok(store.get_session(a.id, guarded.id).await, "get");
    assert!(unchanged.secret_hash.is_some_and(|h| h.matches(&first)));
    ok(
        store
            .set_session_secret(a.id, guarded.id, &second.hash())
            .await,
        "set_session_secret",
    );
    let replaced = ok(store.get_session(a.id, guarded.id).await, "get");
    assert!(replaced.secret_hash.is_some_and(|h| h.matches(&second)));
    assert!(replaced.secret_hash.is_some_and(|h| !h.matches(&first)));

    // An ending's audit record is written by the call that ends the session, once.
    let release = |at| {
        AuditEvent::new(
            a.id,
            Actor::User(subject.into()),
            "session.release",
            format!("session:{}", guarded.id),
            at,
            serde_json::json!({}),
        )
    };
    let t1 = t0 + TimeDelta::seconds(5);
    let ended = ok(
        store
            .end_session(
                a.id,
                guarded.id,
                &SessionEnd::new(t1, EndReason::Released),
                Some(&release(t1)),
            )
            .await,
        "end with audit",
    );
    assert!(ended.by_this_call);
    let again = ok(
        store
            .end_session(
                a.id,
                guarded.id,
                &SessionEnd::new(t1 + TimeDelta::seconds(1), EndReason::Released),
                Some(&release(t1 + TimeDelta::seconds(1))),
            )
            .await,
        "end again with audit",
    );
    assert!(!again.by_this_call);
    let audited: Vec<_> = ok(store.list_audit(a.id, 500).await, "audit")
        .into_iter()
        .filter(|e| e.action == "session.release")
        .collect();
    assert_eq!(audited.len(), 1, "a repeated release records nothing");
    assert_eq!(audited[0].actor, Actor::User(subject.into()));
    assert_eq!(audited[0].at, t1);

    // Live sessions come oldest first, by start then id: ids carry no time.
    let other = license(a.id, "SOYL-KEY-0002", 10);
    ok(
        store
            .create_license(
                &other,
                &TenantQuotas::UNLIMITED,
                &audit(a.id, "license.create", now()),
            )
            .await,
        "license",
    );
    let mut started = Vec::new();
    for i in 0..6_i64 {
        let mut s = session(&other, &format!("pc-{i}"), expiry);
        // Inserted newest first; each start is shared by two sessions.
        s.acquired_at = t0 - TimeDelta::seconds(10 * (1 + i / 2));
        s.last_heartbeat_at = s.acquired_at;
        ok(store.insert_session(&s, 0).await, "insert");
        started.push((s.acquired_at, s.id));
    }
    started.sort();
    let live: Vec<_> = ok(store.live_sessions(a.id, other.id, t0).await, "live")
        .iter()
        .map(|s| (s.acquired_at, s.id))
        .collect();
    assert_eq!(live, started, "oldest first, then by id");
}
