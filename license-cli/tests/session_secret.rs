//! Session secrets through the CLI (ADR 0023): a license that requires them, the secret
//! printed once by `acquire`, and `heartbeat`, `release` and `run` sending it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::Fixture;

#[test]
fn session_secrets_are_printed_once_and_sent_by_heartbeat_release_and_run() {
    let fixture = Fixture::new(2);
    let license = fixture
        .admin()
        .run(&[
            "-o",
            "json",
            "license",
            "update",
            &fixture.license_id,
            "--require-session-secret",
            "true",
        ])
        .success()
        .json();
    assert_eq!(license["require_session_secret"], true);
    let shown = fixture
        .admin()
        .run(&["license", "show", &fixture.license_id])
        .success();
    assert!(shown.stdout.contains("required"), "{}", shown.stdout);

    let lease = fixture.acquire("pc-1");
    let session = lease["session_id"].as_str().unwrap();
    let secret = lease["session_secret"].as_str().unwrap();
    assert!(secret.starts_with("ss_"), "{lease}");

    // Without it, or with a wrong one, the session is unknown to this caller.
    fixture
        .client()
        .run(&["heartbeat", session])
        .fails(1, "(session_not_found)");
    let wrong = format!("ss_{}", "A".repeat(43));
    fixture
        .client()
        .run(&["heartbeat", session, "--session-secret", &wrong])
        .fails(1, "(session_not_found)");
    fixture
        .client()
        .run(&["release", session])
        .fails(1, "(session_not_found)");

    // With it, as a flag or from the environment.
    fixture
        .client()
        .run(&["heartbeat", session, "--session-secret", secret])
        .success();
    let renewed = fixture
        .client()
        .env("LICENSE_SESSION_SECRET", secret)
        .run(&["-o", "json", "heartbeat", session])
        .success();
    assert!(!renewed.stdout.contains(&secret[3..]), "{}", renewed.stdout);
    let listed = fixture.live_sessions();
    assert_eq!(listed.len(), 1);
    assert!(
        listed[0]["holder"]
            .as_str()
            .unwrap()
            .starts_with("api_key:")
    );
    assert!(
        !serde_json::to_string(&listed)
            .unwrap()
            .contains(&secret[3..])
    );
    fixture
        .client()
        .env("LICENSE_SESSION_SECRET", secret)
        .run(&["release", session])
        .success();
    assert!(fixture.live_sessions().is_empty());

    // `run` keeps the secret to itself: heartbeats and the release succeed, the command sees
    // only the session id.
    let run = fixture.client().run(&[
        "run",
        "--verbose",
        "--license-key",
        &fixture.license_key,
        "--hardware-id",
        "ci-runner",
        "--",
        "sh",
        "-c",
        "echo \"session $LICENSE_SESSION_ID secret ${LICENSE_SESSION_SECRET:-none}\"; sleep 1.5",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.ends_with("secret none\n"), "{}", run.stdout);
    assert!(run.stderr.contains("heartbeat ok"), "{}", run.stderr);
    assert!(run.stderr.contains("seat released"), "{}", run.stderr);
    assert!(fixture.live_sessions().is_empty());
}
