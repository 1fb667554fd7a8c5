//! The seat-event log over HTTP (ADR 0030): a scripted history produces its events in order,
//! numbered and hash-chained per tenant, readable in ranges and verifiable offline; bad ranges
//! are 400 naming the field; a store outage is 503 and loses no event.

use license_core::event_checkpoint::verify_checkpoint;
use license_core::event_log::{LogEntry, verify_chain};
use serde_json::{Value, json};

use crate::helpers::{Caller, TestApp, spawn_app};

/// Every entry of the tenant's log, read in ranges of `page`.
async fn whole_log(app: &TestApp, caller: &Caller, page: u32) -> Vec<LogEntry> {
    let mut entries = Vec::new();
    let mut after = 0;
    loop {
        let reply = app
            .events(caller, &format!("?after={after}&limit={page}"))
            .await
            .expect(200);
        let range: Vec<LogEntry> = serde_json::from_value(reply.body["entries"].clone()).unwrap();
        if range.is_empty() {
            assert_eq!(reply.body["next_after"], after, "an empty range stays put");
            return entries;
        }
        after = reply.body["next_after"].as_u64().unwrap();
        assert_eq!(after, range.last().unwrap().seq);
        entries.extend(range);
    }
}

fn kinds(entries: &[LogEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            let event: Value = serde_json::from_str(&e.body).unwrap();
            match event["type"].as_str().unwrap() {
                "denied" => format!("denied:{}", event["reason"].as_str().unwrap()),
                "admin_change" => format!("admin:{}", event["action"].as_str().unwrap()),
                other => other.to_owned(),
            }
        })
        .collect()
}

#[tokio::test]
async fn a_scripted_history_is_on_record_in_order_and_verifies() {
    let app = spawn_app().await;
    let f = app.fixture("Acme", 1).await;
    let other = app.fixture("Other", 1).await;
    let first = app
        .acquire(&f.client, &f.license_key, "hw-1")
        .await
        .expect(200);
    let session = first.body["session_id"].as_str().unwrap().to_owned();
    app.heartbeat(&f.client, &session).await.expect(200);
    app.acquire(&f.client, &f.license_key, "hw-2")
        .await
        .expect_error(402, "no_seats_available");
    app.release(&f.client, &session).await.expect(200);
    let second = app
        .acquire(&f.client, &f.license_key, "hw-2")
        .await
        .expect(200);
    let evicted = second.body["session_id"].as_str().unwrap().to_owned();
    app.evict(&f.admin, &evicted, "?reason=audit&hold_seconds=60")
        .await
        .expect(200);
    // A seat whose client stops heartbeating expires; its next heartbeat finds it gone.
    let third = app
        .acquire(&f.client, &f.license_key, "hw-3")
        .await
        .expect(200);
    app.clock.advance(chrono::TimeDelta::seconds(3_600));
    app.heartbeat(&f.client, third.body["session_id"].as_str().unwrap())
        .await
        .expect_error(410, "session_expired");
    app.acquire(&other.client, &other.license_key, "hw-9")
        .await
        .expect(200);
    app.state.recorder.write_pending().await.unwrap();

    let log = whole_log(&app, &f.admin, 2).await;
    assert_eq!(verify_chain(&log, None), Ok(()), "one unbroken chain");
    assert_eq!(
        log.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=log.len() as u64).collect::<Vec<_>>()
    );
    let seen = kinds(&log);
    let seats: Vec<&str> = seen
        .iter()
        .map(String::as_str)
        .filter(|k| !k.starts_with("admin:"))
        .collect();
    assert_eq!(
        seats,
        // The ledger's first look at the license rebuilds it (from nothing).
        [
            "rebuilt",
            "granted",
            "denied:no_seats",
            "released",
            "granted",
            "evicted",
            "granted",
            "expired"
        ],
        "renewals are not logged one by one"
    );
    for change in [
        "admin:tenant.create",
        "admin:api_key.create",
        "admin:license.create",
    ] {
        assert!(seen.iter().any(|k| k == change), "{change} in {seen:?}");
    }
    let granted: Value =
        serde_json::from_str(&log[seen.iter().position(|k| k == "granted").unwrap()].body).unwrap();
    assert_eq!(granted["session_id"], json!(session));
    assert_eq!(granted["hardware_id"], "hw-1");
    assert_eq!(
        granted["user"], "ada@example.com",
        "the person the seat is for"
    );
    assert_eq!(granted["license_id"], json!(f.license_id));

    // The other tenant's log is its own, and chained from its own start.
    let theirs = whole_log(&app, &other.admin, 100).await;
    assert_eq!(theirs[0].seq, 1);
    assert!(theirs.iter().all(|e| !e.body.contains(&f.tenant_id)));
    assert_eq!(verify_chain(&theirs, None), Ok(()));
    // The operator reads any tenant's log by naming it.
    let as_operator = app.operator().acting_for(&f.tenant_id);
    let via_operator = app.events(&as_operator, "?limit=1000").await.expect(200);
    assert_eq!(
        via_operator.body["entries"].as_array().unwrap().len(),
        log.len()
    );

    // A tampered range names the first entry at fault.
    let denial = seen.iter().position(|k| k == "denied:no_seats").unwrap();
    let mut tampered = log.clone();
    tampered[denial].body = tampered[denial].body.replace("no_seats", "excluded");
    assert_eq!(
        verify_chain(&tampered, None).map_err(|b| b.seq()),
        Err(log[denial].seq)
    );
    assert!(app.metric("license_event_log_written_total").await >= log.len() as u64);
}

#[tokio::test]
async fn bad_ranges_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let f = app.fixture("Acme", 1).await;
    for query in ["?limit=0", "?limit=1001", "?limit=x"] {
        let reply = app
            .events(&f.admin, query)
            .await
            .expect_error(400, "invalid_input");
        assert_eq!(reply.body["field"], "limit", "{query}: {}", reply.body);
    }
    let reply = app
        .events(&f.admin, "?after=-1")
        .await
        .expect_error(400, "invalid_input");
    assert_eq!(reply.body["field"], "after");
    app.events(&f.client, "")
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn a_store_outage_is_503_and_loses_no_event() {
    let app = spawn_app().await;
    let f = app.fixture("Acme", 2).await;
    app.acquire(&f.client, &f.license_key, "hw-1")
        .await
        .expect(200);
    app.store.set_unavailable(true);
    assert!(app.state.recorder.write_pending().await.is_err());
    app.events(&f.admin, "")
        .await
        .expect_error(503, "unavailable");
    app.store.set_unavailable(false);
    app.state.recorder.write_pending().await.unwrap();
    let log = whole_log(&app, &f.admin, 100).await;
    assert!(
        kinds(&log).contains(&"granted".to_owned()),
        "{:?}",
        kinds(&log)
    );
    assert!(app.metric("license_event_log_failed_appends_total").await >= 1);
}

#[tokio::test]
async fn a_signed_checkpoint_vouches_for_a_range_against_the_tenant_keys() {
    let app = spawn_app().await;
    let f = app.fixture("Acme", 1).await;
    app.acquire(&f.client, &f.license_key, "hw-1")
        .await
        .expect(200);
    app.state.recorder.write_pending().await.unwrap();
    let log = whole_log(&app, &f.admin, 100).await;
    let last = log.last().unwrap();
    let signed = app
        .events_checkpoint(&f.admin, &format!("?seq={}", last.seq))
        .await
        .expect(200);
    assert_eq!(signed.body["seq"], last.seq);
    assert_eq!(signed.str("hash"), last.hash.to_string());

    // Offline: the tenant's published keys, checked against the pinned root.
    let roots: license_core::Jwks =
        serde_json::from_value(app.jwks().await.expect(200).body).unwrap();
    let published: license_core::TenantJwks =
        serde_json::from_value(app.tenant_jwks(&f.tenant_id).await.expect(200).body).unwrap();
    let tenant: license_core::TenantId = f.tenant_id.parse().unwrap();
    let keys = published
        .certified_keys(&roots, "license-server", tenant, chrono::Utc::now())
        .unwrap();
    let claims =
        verify_checkpoint(&keys, &signed.str("checkpoint"), "license-server", tenant).unwrap();
    assert_eq!((claims.seq, claims.hash), (last.seq, last.hash));
    // Another tenant's checkpoint does not vouch for this one's log.
    let other = app.fixture("Other", 1).await;
    app.state.recorder.write_pending().await.unwrap();
    let theirs = app
        .events_checkpoint(&other.admin, "?seq=1")
        .await
        .expect(200);
    assert!(verify_checkpoint(&keys, &theirs.str("checkpoint"), "license-server", tenant).is_err());

    // Bad input names the field; an entry not written yet is refused the same way.
    for query in ["?seq=0", "?seq=x", "", &format!("?seq={}", last.seq + 1000)] {
        let reply = app
            .events_checkpoint(&f.admin, query)
            .await
            .expect_error(400, "invalid_input");
        assert_eq!(reply.body["field"], "seq", "{query}: {}", reply.body);
    }
}

/// An open SSE stream: reads `(id, entry)` pairs as they come.
struct Stream(reqwest::Response, String);

impl Stream {
    async fn open(app: &TestApp, caller: &Caller, query: &str, last_id: Option<u64>) -> Self {
        let mut request = app
            .http
            .get(app.url(&format!("/api/v1/admin/events/stream{query}")))
            .bearer_auth(&caller.token);
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self(response, String::new())
    }

    /// The next entry, within 5 s.
    async fn next(&mut self) -> (u64, LogEntry) {
        loop {
            if let Some(end) = self.1.find("\n\n") {
                let event: String = self.1.drain(..end + 2).collect();
                let field = |name: &str| {
                    event
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(str::trim)
                        .map(str::to_owned)
                };
                // Keep-alive comments carry no data.
                let Some(data) = field("data:") else { continue };
                assert_eq!(field("event:").as_deref(), Some("entry"));
                let id = field("id:").unwrap().parse().unwrap();
                return (id, serde_json::from_str(&data).unwrap());
            }
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), self.0.chunk())
                .await
                .expect("an entry within 5 s")
                .unwrap()
                .expect("the stream is open");
            self.1.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

#[tokio::test]
async fn the_live_stream_sends_new_entries_and_resumes_after_the_last_id() {
    let app = spawn_app().await;
    let f = app.fixture("Acme", 2).await;
    app.acquire(&f.client, &f.license_key, "hw-1")
        .await
        .expect(200);
    app.state.recorder.write_pending().await.unwrap();
    let log = whole_log(&app, &f.admin, 100).await;
    let mut stream = Stream::open(&app, &f.admin, "", None).await;
    let mut seen = Vec::new();
    for _ in 0..log.len() {
        let (id, entry) = stream.next().await;
        assert_eq!(id, entry.seq, "the SSE id is the entry's number");
        seen.push(entry);
    }
    assert_eq!(seen, log, "the log so far, in order");

    // A grant after the stream opened arrives on it.
    app.acquire(&f.client, &f.license_key, "hw-2")
        .await
        .expect(200);
    app.state.recorder.write_pending().await.unwrap();
    let (id, granted) = stream.next().await;
    assert_eq!(id, log.last().unwrap().seq + 1);
    assert!(granted.body.contains("\"hw-2\""), "{}", granted.body);
    seen.push(granted);
    assert_eq!(verify_chain(&seen, None), Ok(()));

    // A client that reconnects with its last id gets what follows it, nothing twice.
    let mut resumed = Stream::open(&app, &f.admin, "?after=0", Some(2)).await;
    let (id, entry) = resumed.next().await;
    assert_eq!((id, entry.seq), (3, 3));

    // Another tenant's stream holds its own entries only.
    let other = app.fixture("Other", 1).await;
    app.state.recorder.write_pending().await.unwrap();
    let mut theirs = Stream::open(&app, &other.admin, "", None).await;
    let (_, first) = theirs.next().await;
    assert!(!first.body.contains(&f.tenant_id), "{}", first.body);

    // Refusals are answers, not empty streams.
    app.get("/api/v1/admin/events/stream", &f.client)
        .await
        .expect_error(403, "forbidden");
    let bad = app
        .http
        .get(app.url("/api/v1/admin/events/stream"))
        .bearer_auth(&f.admin.token)
        .header("Last-Event-ID", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    app.store.set_unavailable(true);
    app.get("/api/v1/admin/events/stream", &f.admin)
        .await
        .expect_error(503, "unavailable");
    app.store.set_unavailable(false);
}

#[tokio::test]
async fn the_live_stream_ends_when_the_server_stops() {
    let app = spawn_app().await;
    let f = app.fixture("Acme", 1).await;
    app.state.recorder.write_pending().await.unwrap();
    let mut stream = Stream::open(&app, &f.admin, "", None).await;
    stream.next().await;
    let _ = app.state.stopping.send(true);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.0.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ended at once");
}

#[tokio::test]
async fn periodic_checkpoints_are_on_record_in_the_log_and_catch_a_rewritten_history() {
    use license_core::event_checkpoint::{EmbeddedBreak, verify_embedded};
    use license_core::event_log::NewLogEntry;

    let app = spawn_app().await;
    let f = app.fixture("Acme", 1).await;
    app.acquire(&f.client, &f.license_key, "hw-1")
        .await
        .expect(200);
    app.state.recorder.write_pending().await.unwrap();
    let head = whole_log(&app, &f.admin, 100).await.last().unwrap().clone();
    assert_eq!(app.state.service.checkpoint_event_logs().await.unwrap(), 1);
    app.state.recorder.write_pending().await.unwrap();
    // An idle log gets one checkpoint, not one per pass.
    assert_eq!(app.state.service.checkpoint_event_logs().await.unwrap(), 0);
    app.acquire(&f.client, &f.license_key, "hw-2")
        .await
        .expect_error(402, "no_seats_available");
    app.state.recorder.write_pending().await.unwrap();
    assert_eq!(app.state.service.checkpoint_event_logs().await.unwrap(), 1);
    app.state.recorder.write_pending().await.unwrap();

    let log = whole_log(&app, &f.admin, 100).await;
    let kinds = kinds(&log);
    assert_eq!(kinds[head.seq as usize], "checkpoint", "{kinds:?}");
    assert_eq!(kinds.last().unwrap(), "checkpoint");
    let roots: license_core::Jwks =
        serde_json::from_value(app.jwks().await.expect(200).body).unwrap();
    let published: license_core::TenantJwks =
        serde_json::from_value(app.tenant_jwks(&f.tenant_id).await.expect(200).body).unwrap();
    let tenant: license_core::TenantId = f.tenant_id.parse().unwrap();
    let keys = published
        .certified_keys(&roots, "license-server", tenant, chrono::Utc::now())
        .unwrap();
    let vouched = verify_embedded(&log, &keys, "license-server", tenant).unwrap();
    assert_eq!(vouched.len(), 2);
    assert_eq!((vouched[0].seq, vouched[0].hash), (head.seq, head.hash));

    // A history rewritten and re-hashed from the grant on: the chain holds, the checkpoints
    // do not.
    let granted = kinds.iter().position(|k| k == "granted").unwrap();
    let mut forged = log.clone();
    let mut prev = forged[granted].prev_hash;
    for entry in &mut forged[granted..] {
        let new = NewLogEntry {
            at: entry.at,
            replica: entry.replica.clone(),
            body: entry.body.replace("hw-1", "hw-9"),
        };
        *entry = LogEntry::link(entry.seq, &prev, new);
        prev = entry.hash;
    }
    assert_eq!(verify_chain(&forged, None), Ok(()));
    assert!(matches!(
        verify_embedded(&forged, &keys, "license-server", tenant),
        Err(EmbeddedBreak::Mismatch { vouched, .. }) if vouched == head.seq
    ));
    // Another tenant's keys do not verify them.
    let other = app.fixture("Other", 1).await;
    // Its key is made when it first signs.
    app.acquire(&other.client, &other.license_key, "hw-1")
        .await
        .expect(200);
    let theirs: license_core::TenantJwks =
        serde_json::from_value(app.tenant_jwks(&other.tenant_id).await.expect(200).body).unwrap();
    let other_id: license_core::TenantId = other.tenant_id.parse().unwrap();
    let their_keys = theirs
        .certified_keys(&roots, "license-server", other_id, chrono::Utc::now())
        .unwrap();
    assert!(matches!(
        verify_embedded(&log, &their_keys, "license-server", tenant),
        Err(EmbeddedBreak::Unverified { .. })
    ));
}
