//! Admin commands against a real server: tenants, licenses, sessions, API keys, usage, audit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use license_core::event_log::{LogEntry, NewLogEntry};
use support::{Fixture, Server};

const UNKNOWN_ID: &str = "01a2103b-0000-7000-8000-000000000000";

#[test]
fn tenants_are_created_with_a_first_admin_key_and_listed() {
    let server = Server::start();
    let created = server
        .operator()
        .run(&["-o", "json", "tenant", "create", "Acme CAD"])
        .success()
        .json();
    let secret = created["admin_api_key"]["secret"].as_str().unwrap();
    assert!(secret.starts_with("lk_"), "{secret}");
    assert_eq!(created["admin_api_key"]["scopes"][0], "admin");

    let table = server.operator().run(&["tenant", "list"]).success();
    assert!(table.stdout.starts_with("ID"), "{}", table.stdout);
    assert!(table.stdout.contains("Acme CAD"));
    let list = server
        .operator()
        .run(&["-o", "json", "tenant", "list"])
        .success()
        .json();
    assert_eq!(list[0]["id"], created["tenant"]["id"]);

    // Only the operator manages tenants; a duplicate name is a conflict.
    server
        .cli()
        .env("LICENSE_TOKEN", secret)
        .run(&["tenant", "create", "Other"])
        .fails(1, "(forbidden)");
    server
        .operator()
        .run(&["tenant", "create", "Acme CAD"])
        .fails(1, "(conflict)");
}

#[test]
fn the_operator_acts_on_the_tenant_it_names() {
    let fixture = Fixture::new(2);
    let shown = fixture
        .server
        .operator()
        .run(&[
            "--as-tenant",
            &fixture.tenant,
            "-o",
            "json",
            "license",
            "show",
            &fixture.license_id,
        ])
        .success()
        .json();
    assert_eq!(shown["license_key"], fixture.license_key.as_str());
    fixture
        .server
        .operator()
        .env("LICENSE_TENANT", UNKNOWN_ID)
        .run(&["license", "list"])
        .fails(1, "(tenant_not_found)");
}

#[test]
fn a_license_goes_through_its_whole_lifecycle() {
    let fixture = Fixture::new(2);
    let admin = || fixture.admin();
    let id = fixture.license_id.as_str();

    let shown = admin().run(&["license", "show", id]).success();
    assert!(
        shown
            .stdout
            .contains("license key:        CADPRO-7QX2M-9KD4P-VTH8W"),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("entitlements:       export"));

    let list = admin().run(&["license", "list"]).success();
    assert!(
        list.stdout
            .lines()
            .nth(1)
            .unwrap()
            .contains("CADPRO-7QX2M-9KD4P-VTH8W"),
        "{}",
        list.stdout
    );
    let page = admin()
        .run(&["-o", "json", "license", "list", "--all", "--limit", "1"])
        .success()
        .json();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    let updated = admin()
        .run(&[
            "-o",
            "json",
            "license",
            "update",
            id,
            "--seats",
            "5",
            "--expires-at",
            "2099-01-01",
            "--entitlement",
            "render",
        ])
        .success()
        .json();
    assert_eq!(updated["seats_total"], 5);
    assert_eq!(updated["expires_at"], "2099-01-01T00:00:00Z");
    assert_eq!(updated["entitlements"], serde_json::json!(["render"]));
    let perpetual = admin()
        .run(&["-o", "json", "license", "update", id, "--perpetual"])
        .success()
        .json();
    assert!(perpetual["expires_at"].is_null());
    admin()
        .run(&["license", "update", id])
        .fails(2, "nothing to change");

    let suspended = admin()
        .run(&["-o", "json", "license", "suspend", id])
        .success()
        .json();
    assert_eq!(suspended["status"], "suspended");
    fixture
        .client()
        .run(&[
            "acquire",
            "--license-key",
            &fixture.license_key,
            "--hardware-id",
            "pc-1",
        ])
        .fails(1, "(license_suspended)");
    let reinstated = admin()
        .run(&["-o", "json", "license", "reinstate", id])
        .success()
        .json();
    assert_eq!(reinstated["status"], "active");
    let revoked = admin()
        .run(&["-o", "json", "license", "revoke", id])
        .success()
        .json();
    assert_eq!(revoked["status"], "revoked");
    admin()
        .run(&["license", "reinstate", id])
        .fails(1, "(conflict)");
}

#[test]
fn an_unknown_license_is_license_not_found() {
    let fixture = Fixture::new(1);
    fixture
        .admin()
        .run(&["license", "show", UNKNOWN_ID])
        .fails(1, "license not found (license_not_found)");
    fixture
        .admin()
        .run(&["license", "suspend", UNKNOWN_ID])
        .fails(1, "(license_not_found)");
    // Not a UUID: refused before anything is sent.
    fixture
        .admin()
        .run(&["license", "show", "not-an-id"])
        .fails(2, "expected a UUID");
    // Invalid terms are the server's 400.
    fixture
        .admin()
        .run(&["license", "create", "--product", "X", "--seats", "0"])
        .fails(1, "(invalid_input)");
}

#[test]
fn sessions_are_listed_and_force_released() {
    let fixture = Fixture::new(2);
    let lease = fixture.acquire("workstation-7");
    let session = lease["session_id"].as_str().unwrap();

    let table = fixture
        .admin()
        .run(&["session", "list", &fixture.license_id])
        .success();
    assert!(table.stdout.contains("workstation-7"), "{}", table.stdout);

    let released = fixture
        .admin()
        .run(&["-o", "json", "session", "release", session])
        .success()
        .json();
    assert_eq!(released["end_reason"], "evicted");
    assert!(fixture.live_sessions().is_empty());
    // The client's next heartbeat learns it was evicted (exit 5).
    fixture
        .client()
        .run(&["heartbeat", session])
        .fails(5, "(evicted)");
    fixture
        .admin()
        .run(&["session", "release", UNKNOWN_ID])
        .fails(1, "(session_not_found)");
    fixture
        .admin()
        .run(&["session", "list", UNKNOWN_ID])
        .fails(1, "(license_not_found)");
}

#[test]
fn api_keys_are_created_listed_and_revoked() {
    let fixture = Fixture::new(1);
    let created = fixture
        .admin()
        .run(&[
            "-o", "json", "api-key", "create", "--name", "ci", "--scope", "client", "--scope",
            "admin",
        ])
        .success()
        .json();
    let id = created["id"].as_str().unwrap();
    let secret = created["secret"].as_str().unwrap();
    let mut scopes: Vec<&str> = created["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["admin", "client"]);

    let list = fixture.admin().run(&["api-key", "list"]).success();
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with(id))
        .expect("the new key is listed");
    assert!(
        row.contains("admin,client") || row.contains("client,admin"),
        "{row}"
    );
    assert!(!list.stdout.contains(secret), "secrets are never listed");

    let revoked = fixture
        .admin()
        .run(&["-o", "json", "api-key", "revoke", id])
        .success()
        .json();
    assert_eq!(revoked["revoked"], true);
    fixture
        .server
        .cli()
        .env("LICENSE_TOKEN", secret)
        .run(&["api-key", "list"])
        .fails(1, "(unauthenticated)");
    fixture
        .admin()
        .run(&["api-key", "revoke", UNKNOWN_ID])
        .fails(1, "(api_key_not_found)");
    // A client key cannot administer.
    fixture
        .client()
        .run(&["api-key", "list"])
        .fails(1, "(forbidden)");
}

#[test]
fn usage_shows_live_seats_peaks_and_denials() {
    let fixture = Fixture::new(1);
    fixture.acquire("pc-1");
    fixture
        .client()
        .run(&[
            "acquire",
            "--license-key",
            &fixture.license_key,
            "--hardware-id",
            "pc-2",
        ])
        .fails(3, "(no_seats_available)");

    // The day's peak reaches the store with the server's next write-behind flush (every
    // second, ADR 0017): ask until it is there, for at most 10 s.
    let mut usage = serde_json::Value::Null;
    for _ in 0..50 {
        usage = fixture
            .admin()
            .run(&["-o", "json", "usage", &fixture.license_id])
            .success()
            .json();
        let peak = &usage["days"].as_array().and_then(|d| d.last().cloned());
        if peak.as_ref().is_some_and(|day| day["peak_seats"] == 1) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(usage["live_seats"], 1);
    let today = &usage["days"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["peak_seats"], 1);
    assert_eq!(today["denials"], 1);

    let table = fixture
        .admin()
        .run(&["usage", &fixture.license_id])
        .success();
    assert!(table.stdout.contains("live seats: 1"), "{}", table.stdout);
    assert!(table.stdout.contains("PEAK SEATS"));
    fixture
        .admin()
        .run(&["usage", UNKNOWN_ID])
        .fails(1, "(license_not_found)");
    fixture
        .admin()
        .run(&["usage", &fixture.license_id, "--from", "yesterday"])
        .fails(2, "YYYY-MM-DD");
}

#[test]
fn the_audit_log_records_admin_changes() {
    let fixture = Fixture::new(1);
    fixture
        .admin()
        .run(&["license", "suspend", &fixture.license_id])
        .success();
    let events = fixture
        .admin()
        .run(&["-o", "json", "audit", "--limit", "50"])
        .success()
        .json();
    let actions: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"license.create"), "{actions:?}");
    assert!(actions.len() >= 3, "{actions:?}");
    fixture
        .admin()
        .run(&["audit", "--limit", "0"])
        .fails(1, "(invalid_input)");
}

#[test]
fn a_signing_key_rotation_with_revocation_makes_old_leases_fail_verification() {
    let fixture = Fixture::new(2);
    let lease = fixture.acquire("ws-1");
    let token = lease["token"].as_str().unwrap().to_owned();
    let verify = |token: &str| {
        fixture
            .server
            .cli()
            .run(&["verify", token, "--tenant", &fixture.tenant])
    };
    verify(&token).success();

    // A manual rotation keeps the old key published: the lease still verifies.
    let kept = fixture.admin().run(&["signing-key", "rotate"]).success();
    assert!(kept.stdout.contains("generation:"), "{}", kept.stdout);
    assert!(
        kept.stdout.contains("earlier keys stay published"),
        "{}",
        kept.stdout
    );
    verify(&token).success();

    // After a leak: the earlier keys are revoked, the lease no longer verifies (exit 4).
    let revoked = fixture
        .admin()
        .run(&["-o", "json", "signing-key", "rotate", "--revoke-previous"])
        .success()
        .json();
    assert_eq!(revoked["generation"], 3);
    verify(&token).fails(4, "unknown key id");
    // A client key may not rotate.
    fixture
        .client()
        .run(&["signing-key", "rotate"])
        .fails(1, "(forbidden)");
}

#[test]
fn the_event_log_is_exported_and_verified_offline() {
    let fixture = Fixture::new(1);
    let lease = fixture.acquire("hw-1");
    let session = lease["session_id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.ndjson");
    let path = file.to_str().unwrap();
    // The server writes its events every quarter second.
    let exported = support::eventually(std::time::Duration::from_secs(10), || {
        fixture
            .admin()
            .run(&["audit", "export", "--out", path])
            .success();
        std::fs::read_to_string(&file).unwrap().contains(&session)
    });
    assert!(exported, "the grant reached the exported log");
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 4, "admin changes and the grant: {text}");
    let verified = fixture
        .server
        .cli()
        .run(&["-o", "json", "audit", "verify", path])
        .success()
        .json();
    assert_eq!(verified["intact"], true);
    assert_eq!(verified["entries"], lines.len());
    assert_eq!(verified["first"], 1);

    let write = |name: &str, lines: &[String]| {
        let out = dir.path().join(name);
        std::fs::write(&out, lines.join("\n")).unwrap();
        out.to_str().unwrap().to_owned()
    };
    let owned: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    let granted = owned.iter().position(|l| l.contains(&session)).unwrap();
    // An altered entry, a removed one, a range that follows the wrong entry: exit 4, named.
    let mut altered = owned.clone();
    altered[granted] = altered[granted].replace("hw-1", "hw-9");
    let altered = write("altered.ndjson", &altered);
    fixture
        .server
        .cli()
        .run(&["audit", "verify", &altered])
        .fails(4, &format!("entry {} was altered", granted + 1));
    let mut removed = owned.clone();
    removed.remove(1);
    let removed = write("removed.ndjson", &removed);
    fixture
        .server
        .cli()
        .run(&["audit", "verify", &removed])
        .fails(4, "entries 2 to 2 are missing");
    let tail = write("tail.ndjson", &owned[2..]);
    let hash_of = |line: &str| {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        entry["hash"].as_str().unwrap().to_owned()
    };
    fixture
        .server
        .cli()
        .run(&[
            "audit",
            "verify",
            &tail,
            "--after-hash",
            &hash_of(&owned[1]),
        ])
        .success();
    fixture
        .server
        .cli()
        .run(&[
            "audit",
            "verify",
            &tail,
            "--after-hash",
            &hash_of(&owned[0]),
        ])
        .fails(4, "entry 3 does not follow");
    fixture
        .server
        .cli()
        .run(&["audit", "verify", &tail, "--after-hash", "xyz"])
        .fails(2, "--after-hash");

    // A checkpoint signed by the tenant's key, checked against the pinned root.
    let checkpoint = dir.path().join("checkpoint.json");
    let checkpoint = checkpoint.to_str().unwrap();
    fixture
        .admin()
        .run(&["audit", "export", "--out", path, "--checkpoint", checkpoint])
        .success();
    let root = format!("{}/.well-known/jwks.json", fixture.server.url);
    let with_checkpoint = |file: &str| {
        fixture.server.cli().run(&[
            "-o",
            "json",
            "audit",
            "verify",
            file,
            "--checkpoint",
            checkpoint,
            "--tenant",
            &fixture.tenant,
            "--root",
            &root,
        ])
    };
    let vouched = with_checkpoint(path).success().json();
    let exported = std::fs::read_to_string(&file).unwrap();
    assert_eq!(vouched["checkpoint"]["seq"], exported.lines().count());
    assert_eq!(vouched["checkpoint"]["tid"], fixture.tenant.as_str());
    // A forged history re-hashed from the altered entry on: the chain holds, the checkpoint
    // does not.
    let mut entries: Vec<LogEntry> = exported
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut prev = entries[granted].prev_hash;
    for entry in &mut entries[granted..] {
        let new = NewLogEntry {
            at: entry.at,
            replica: entry.replica.clone(),
            body: entry.body.replace("hw-1", "hw-9"),
        };
        *entry = LogEntry::link(entry.seq, &prev, new);
        prev = entry.hash;
    }
    let forged: Vec<String> = entries
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    let forged = write("forged.ndjson", &forged);
    fixture
        .server
        .cli()
        .run(&["audit", "verify", &forged])
        .success();
    with_checkpoint(&forged).fails(4, "but the checkpoint vouches for");
    // A checkpoint of an entry the range does not hold.
    let head = write("head.ndjson", &owned[..1]);
    with_checkpoint(&head).fails(4, "which is not in the range");
    // Another tenant's keys do not vouch for it.
    let other = Fixture::new(1);
    fixture
        .server
        .cli()
        .run(&[
            "audit",
            "verify",
            path,
            "--checkpoint",
            checkpoint,
            "--tenant",
            &fixture.tenant,
            "--jwks",
            &format!(
                "{}/api/v1/tenants/{}/jwks.json",
                other.server.url, other.tenant
            ),
        ])
        .fails(4, "tenant");
}

#[test]
fn usage_reports_come_per_user_in_csv_and_statements_verify_offline() {
    let fixture = Fixture::new(2);
    fixture
        .client()
        .run(&[
            "acquire",
            "--license-key",
            &fixture.license_key,
            "--hardware-id",
            "hw-1",
            "--user-email",
            "ada@example.com",
        ])
        .success();
    let id = fixture.license_id.as_str();
    // The server writes its events every quarter second.
    let mut csv = String::new();
    let reported = support::eventually(std::time::Duration::from_secs(10), || {
        csv = fixture
            .admin()
            .run(&["usage", id, "--by", "user", "--format", "csv"])
            .success()
            .stdout;
        csv.contains("ada@example.com")
    });
    assert!(reported, "the grant reached the report: {csv}");
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("start,user,peak_seats,seat_hours,"),
        "{csv}"
    );
    assert!(
        lines.next().unwrap().contains(",ada@example.com,1,"),
        "{csv}"
    );
    let table = fixture
        .admin()
        .run(&["usage", id, "--by", "host", "--bucket", "hour"])
        .success()
        .stdout;
    assert!(table.contains("HOST") && table.contains("hw-1"), "{table}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.ndjson");
    fixture
        .admin()
        .run(&[
            "usage",
            id,
            "--format",
            "ndjson",
            "--out",
            out.to_str().unwrap(),
        ])
        .success();
    let row: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(row["peak_seats"], 1);
    fixture
        .admin()
        .run(&["usage", id, "--from", "2026-13-01", "--by", "user"])
        .fails(2, "invalid day");

    // Yesterday's statement (no seats then), signed, checked against the pinned root.
    let statement = dir.path().join("statement.json");
    let statement = statement.to_str().unwrap();
    let signed = fixture
        .admin()
        .run(&["-o", "json", "usage", "statement", id, "--out", statement])
        .success()
        .json();
    assert_eq!(signed["peak_seats"], 0);
    let root = format!("{}/.well-known/jwks.json", fixture.server.url);
    let verify = |file: &str, tenant: &str| {
        fixture.server.cli().run(&[
            "-o",
            "json",
            "usage",
            "verify-statement",
            file,
            "--tenant",
            tenant,
            "--root",
            &root,
        ])
    };
    let claims = verify(statement, &fixture.tenant).success().json();
    assert_eq!(claims["lic"], id);
    assert_eq!(claims["day"], signed["day"]);
    assert_eq!(claims["through_seq"], signed["through_seq"]);
    // Altered figures break the signature; another tenant's statement is refused.
    let jws = signed["statement"].as_str().unwrap();
    let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload: serde_json::Value =
        serde_json::from_slice(&engine.decode(&parts[1]).unwrap()).unwrap();
    payload["overdraft_seat_seconds"] = 0.into();
    payload["peak_seats"] = 99.into();
    parts[1] = engine.encode(serde_json::to_vec(&payload).unwrap());
    let forged = dir.path().join("forged.jws");
    std::fs::write(&forged, parts.join(".")).unwrap();
    verify(forged.to_str().unwrap(), &fixture.tenant).fails(4, "does not verify");
    let other = Fixture::new(1);
    let theirs = format!(
        "{}/api/v1/tenants/{}/jwks.json",
        other.server.url, other.tenant
    );
    fixture
        .server
        .cli()
        .run(&[
            "usage",
            "verify-statement",
            statement,
            "--tenant",
            &other.tenant,
            "--jwks",
            &theirs,
        ])
        .fails(4, "does not verify");
    fixture
        .admin()
        .run(&["usage", "statement", id, "--day", "2999-01-01"])
        .fails(1, "a statement is for a UTC day that has ended");
}

#[test]
fn checkpoint_entries_in_an_exported_range_are_verified_with_the_tenant() {
    let fixture = Fixture::new(1);
    fixture.acquire("hw-1");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.ndjson");
    let path = file.to_str().unwrap();
    let exported = support::eventually(std::time::Duration::from_secs(10), || {
        fixture
            .admin()
            .run(&["audit", "export", "--out", path])
            .success();
        std::fs::read_to_string(&file).unwrap().contains("granted")
    });
    assert!(exported);
    let mut entries: Vec<LogEntry> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The entry the server's checkpointer would append: the head, signed by the tenant's key.
    let head = entries.last().unwrap().clone();
    let signed = fixture
        .admin()
        .run(&[
            "-o",
            "json",
            "audit",
            "checkpoint",
            "--seq",
            &head.seq.to_string(),
        ])
        .success()
        .json();
    let body = serde_json::json!({
        "at": "2026-11-27T10:00:00Z",
        "tenant_id": fixture.tenant,
        "type": "checkpoint",
        "seq": head.seq,
        "hash": head.hash.to_string(),
        "checkpoint": signed["checkpoint"],
    });
    let entry = |body: &serde_json::Value, prev: &LogEntry| {
        LogEntry::link(
            prev.seq + 1,
            &prev.hash,
            NewLogEntry {
                at: prev.at,
                replica: "r1".into(),
                body: body.to_string(),
            },
        )
    };
    entries.push(entry(&body, &head));
    let write = |name: &str, entries: &[LogEntry]| {
        let out = dir.path().join(name);
        let lines: Vec<String> = entries
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        std::fs::write(&out, lines.join("\n")).unwrap();
        out.to_str().unwrap().to_owned()
    };
    let with_checkpoint = write("with-checkpoint.ndjson", &entries);
    let root = format!("{}/.well-known/jwks.json", fixture.server.url);
    let verify = |file: &str| {
        fixture.server.cli().run(&[
            "-o",
            "json",
            "audit",
            "verify",
            file,
            "--tenant",
            &fixture.tenant,
            "--root",
            &root,
        ])
    };
    let verified = verify(&with_checkpoint).success().json();
    assert_eq!(verified["embedded_checkpoints"][0]["seq"], head.seq);
    let unchecked = fixture
        .server
        .cli()
        .run(&["-o", "json", "audit", "verify", &with_checkpoint])
        .success()
        .json();
    assert_eq!(unchecked["unchecked_checkpoints"], 1);

    // The history before it rewritten and re-hashed: the chain holds, the checkpoint does not.
    let mut forged = entries.clone();
    let mut prev = forged[0].prev_hash;
    for e in &mut forged {
        let new = NewLogEntry {
            at: e.at,
            replica: e.replica.clone(),
            body: e.body.replace("hw-1", "hw-9"),
        };
        *e = LogEntry::link(e.seq, &prev, new);
        prev = e.hash;
    }
    let forged = write("forged.ndjson", &forged);
    fixture
        .server
        .cli()
        .run(&["audit", "verify", &forged])
        .success();
    verify(&forged).fails(
        4,
        &format!("the checkpoint in entry {} vouches for", head.seq + 1),
    );
    // A checkpoint entry whose JWS is not the tenant's: exit 4, named.
    let mut bad = entries[..entries.len() - 1].to_vec();
    let mut tampered = body.clone();
    tampered["checkpoint"] = "e30.e30.AAAA".into();
    bad.push(entry(&tampered, &head));
    let bad = write("bad.ndjson", &bad);
    verify(&bad).fails(
        4,
        &format!("the checkpoint in entry {} does not verify", head.seq + 1),
    );
}
