//! Issue #18's small hardening items, from outside: text people read refuses hidden
//! characters, chosen license keys must be hard to guess, a configured operator token has a
//! minimum length, and the data directory and the embedded database are owner-only after
//! every start.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, spawn_app};

/// Characters that change how text around them reads, or hide: bidi overrides, isolates and
/// marks, zero-width and other invisible formatting characters, controls, separators.
const HIDDEN: [char; 12] = [
    '\u{202E}', '\u{202A}', '\u{2066}', '\u{2069}', '\u{200E}', '\u{061C}', '\u{200B}', '\u{200D}',
    '\u{FEFF}', '\u{00AD}', '\u{0007}', '\u{2028}',
];

#[track_caller]
fn assert_refused(reply: &Reply, field: &str, c: char) {
    assert_eq!(reply.status, 400, "U+{:04X}: {}", u32::from(c), reply.body);
    assert_eq!(reply.code(), "invalid_input", "{}", reply.body);
    assert_eq!(reply.body["field"], field, "{}", reply.body);
    let message = reply.body["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("U+{:04X}", u32::from(c))),
        "{message}"
    );
    assert!(
        !message.contains(c),
        "the message names the character, never carries it"
    );
}

fn count(reply: Reply) -> usize {
    reply.expect(200).body["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn names_and_emails_with_hidden_characters_are_400_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    let operator = app.operator();
    let tenants = count(app.list_tenants(&operator).await);
    let keys = count(app.list_api_keys(&acme.admin).await);

    for c in HIDDEN {
        let text = format!("Acme{c}CAD");
        let reply = app.create_tenant(&operator, &text).await;
        assert_refused(&reply, "name", c);
        let reply = app
            .create_license(&acme.admin, json!({ "product": text, "seats_total": 1 }))
            .await;
        assert_refused(&reply, "product", c);
        let reply = app.create_api_key(&acme.admin, &text, &["client"]).await;
        assert_refused(&reply, "name", c);
        let reply = app
            .send(
                Method::POST,
                "/api/v1/licenses/acquire",
                Some(&acme.client),
                Some(json!({
                    "license_key": acme.license_key, "hardware_id": "m1",
                    "user_email": format!("ada{c}@example.com"),
                })),
            )
            .await;
        assert_refused(&reply, "user_email", c);
    }

    assert_eq!(count(app.list_tenants(&operator).await), tenants);
    assert_eq!(count(app.list_licenses(&acme.admin, "").await), 1);
    assert_eq!(count(app.list_api_keys(&acme.admin).await), keys);
    assert_eq!(
        count(app.license_sessions(&acme.admin, &acme.license_id).await),
        0,
        "no seat was taken"
    );

    // Text in any script, with ordinary punctuation and symbols, is welcome.
    for name in [
        "Zürich GmbH & Co. KG",
        "株式会社アクメ",
        "شركة أكمي",
        "CAD — Pro™",
    ] {
        app.create_tenant(&operator, name).await.expect(201);
        app.create_license(&acme.admin, json!({ "product": name, "seats_total": 1 }))
            .await
            .expect(201);
        app.create_api_key(&acme.admin, name, &["client"])
            .await
            .expect(201);
    }
    app.send(
        Method::POST,
        "/api/v1/licenses/acquire",
        Some(&acme.client),
        Some(json!({
            "license_key": acme.license_key, "hardware_id": "m1", "user_email": "名前@例え.jp",
        })),
    )
    .await
    .expect(200);
}

/// The `key` detail of the newest `license.create` audit event.
async fn key_origin(app: &crate::helpers::TestApp, caller: &crate::helpers::Caller) -> Value {
    let audit = app.audit(caller).await.expect(200);
    audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "license.create")
        .map(|e| e["details"]["key"].clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_guessable_chosen_key_is_refused_unless_the_vendor_allows_it() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    assert_eq!(key_origin(&app, &acme.admin).await, "generated");

    for weak in [
        "ACME-PRO-2026-0001",
        "ACME-PRO-2026-0417",
        "AcmePro-2026-00417",
    ] {
        let refused = app
            .create_license(
                &acme.admin,
                json!({ "product": "CAD", "seats_total": 1, "license_key": weak }),
            )
            .await
            .expect_error(400, "invalid_input");
        assert_eq!(refused.body["field"], "license_key", "{}", refused.body);
        let message = refused.body["message"].as_str().unwrap();
        assert!(message.contains("allow_weak_key"), "{message}");
        assert!(!message.contains(weak), "the key is not echoed: {message}");
    }
    assert_eq!(
        count(app.list_licenses(&acme.admin, "").await),
        1,
        "nothing created"
    );

    // Explicitly allowed (a key already in customers' hands): created, and the audit says so.
    let allowed = app
        .create_license(
            &acme.admin,
            json!({
                "product": "CAD", "seats_total": 1,
                "license_key": "ACME-PRO-2026-0001", "allow_weak_key": true,
            }),
        )
        .await
        .expect(201);
    assert_eq!(allowed.body["license_key"], "ACME-PRO-2026-0001");
    assert_eq!(key_origin(&app, &acme.admin).await, "weak");
    app.acquire(&acme.client, "ACME-PRO-2026-0001", "m1")
        .await
        .expect(200);

    // A chosen key that is hard to guess needs no flag.
    app.create_license(
        &acme.admin,
        json!({ "product": "CAD", "seats_total": 1, "license_key": "ACME-7QX2M-9KD4P-VTH8W" }),
    )
    .await
    .expect(201);
    assert_eq!(key_origin(&app, &acme.admin).await, "chosen");

    // The flag is a boolean, like every other field.
    app.create_license(
        &acme.admin,
        json!({ "product": "CAD", "seats_total": 1, "license_key": "ACME-CAD-0002", "allow_weak_key": "yes" }),
    )
    .await
    .expect_error(400, "invalid_input");
}

/// Kills the child if the test fails before it exits.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The server binary on a free port with `data_dir`, no config file and `env` set.
fn server(data_dir: &std::path::Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_license-server"));
    command
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--data-dir",
        ])
        .arg(data_dir)
        .env_remove("LICENSE_CONFIG")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// How `command` exited and what it wrote to stderr, or `None` if it still ran after `limit`
/// (it is killed then).
fn exit_within(mut command: Command, limit: Duration) -> Option<(ExitStatus, String)> {
    let mut child = Running(command.spawn().unwrap());
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.0.try_wait().unwrap() {
            let mut stderr = String::new();
            child
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return Some((status, stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn a_configured_operator_token_shorter_than_32_characters_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let token = "op_short-but-secret";
    let command = server(
        &dir.path().join("data"),
        &[("LICENSE_AUTH__OPERATOR_TOKEN", token)],
    );
    let (status, stderr) =
        exit_within(command, Duration::from_secs(30)).expect("the server refuses to start");
    assert!(!status.success());
    assert!(
        stderr.contains("auth.operator_token") && stderr.contains("LICENSE_AUTH__OPERATOR_TOKEN"),
        "{stderr}"
    );
    assert!(stderr.contains("at least 32 characters"), "{stderr}");
    assert!(
        !stderr.contains(token),
        "the token is never printed: {stderr}"
    );
}

#[cfg(unix)]
#[test]
fn the_data_directory_and_the_database_are_owner_only_after_start_with_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let set = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    // As a hand-made directory and a copied database would be: 0755 and 0644.
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    set(&data_dir, 0o755);
    let db = data_dir.join("license.db");
    std::fs::write(&db, b"").unwrap();
    set(&db, 0o644);

    let mut child = Running(server(&data_dir, &[]).spawn().unwrap());
    let mut changed = Vec::new();
    for line in BufReader::new(child.0.stderr.take().unwrap()).lines() {
        let entry: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if entry["severity"] == "WARNING" && entry["to"].is_string() {
            changed.push((
                entry["path"].as_str().unwrap().to_owned(),
                entry["from"].as_str().unwrap().to_owned(),
                entry["to"].as_str().unwrap().to_owned(),
            ));
        }
        if entry["message"] == "API docs" {
            break;
        }
    }
    assert_eq!(mode(&data_dir), 0o700);
    assert_eq!(mode(&db), 0o600);
    for companion in ["license.db-wal", "license.db-shm"] {
        let path = data_dir.join(companion);
        assert_eq!(
            mode(&path),
            0o600,
            "{companion} (the server runs in WAL mode)"
        );
    }
    assert_eq!(
        changed,
        [
            (data_dir.display().to_string(), "0755".into(), "0700".into()),
            (db.display().to_string(), "0644".into(), "0600".into()),
        ],
        "a warning names each change"
    );
    for file in ["operator-token", "signing-key-eddsa.pk8"] {
        assert_eq!(mode(&data_dir.join(file)), 0o600, "{file}");
    }
}
