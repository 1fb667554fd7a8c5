//! `license webhooks …` against a real server: create (the secret shown once), list, show,
//! update, secret rotation, the delivery log of a receiver that refuses connections,
//! redeliver, delete, and a URL the server's defaults refuse.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::{Server, eventually};

#[test]
fn webhooks_are_managed_and_their_deliveries_listed() {
    let server = Server::start_with(
        tempfile::tempdir().unwrap(),
        &[
            ("LICENSE_WEBHOOKS__ALLOW_HTTP", "true"),
            ("LICENSE_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES", "true"),
            ("LICENSE_WEBHOOKS__POLL_INTERVAL_MILLIS", "100"),
        ],
    );
    let created = server
        .operator()
        .run(&["-o", "json", "tenant", "create", "Hooks"])
        .success()
        .json();
    let tenant = created["tenant"]["id"].as_str().unwrap().to_owned();
    let admin = || server.operator().env("LICENSE_TENANT", &tenant);

    // Port 9 (discard) on loopback: nothing listens, every delivery fails to connect.
    let hook = admin()
        .run(&[
            "-o",
            "json",
            "webhooks",
            "create",
            "--url",
            "http://127.0.0.1:9/hook",
            "--events",
            "admin_change,granted",
            "--description",
            "audit feed",
        ])
        .success()
        .json();
    let id = hook["id"].as_str().unwrap().to_owned();
    assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(
        hook["event_types"],
        serde_json::json!(["admin_change", "granted"])
    );

    let table = admin().run(&["webhooks", "list"]).success();
    assert!(table.stdout.starts_with("ID"), "{}", table.stdout);
    assert!(table.stdout.contains(&id));
    let shown = admin().run(&["webhooks", "show", &id]).success();
    assert!(shown.stdout.contains("audit feed"), "{}", shown.stdout);
    assert!(!shown.stdout.contains("whsec_"), "the secret is shown once");

    // The endpoint's own creation is an admin change: its delivery is tried and fails.
    let failed = eventually(Duration::from_secs(15), || {
        let rows = admin()
            .run(&["-o", "json", "webhooks", "deliveries", &id])
            .success()
            .json();
        rows.as_array().is_some_and(|r| !r.is_empty())
    });
    assert!(failed, "no delivery attempt on record");
    let rows = admin()
        .run(&["-o", "json", "webhooks", "deliveries", &id, "--limit", "1"])
        .success()
        .json();
    assert_eq!(rows[0]["ok"], false);
    assert!(rows[0]["webhook_id"].as_str().unwrap().starts_with("msg_"));
    let listed = admin().run(&["webhooks", "deliveries", &id]).success();
    assert!(listed.stdout.starts_with("AT"), "{}", listed.stdout);

    let updated = admin()
        .run(&[
            "-o",
            "json",
            "webhooks",
            "update",
            &id,
            "--enabled",
            "false",
            "--events",
            "all",
        ])
        .success()
        .json();
    assert_eq!(updated["enabled"], false);
    assert_eq!(updated["event_types"], serde_json::json!([]));
    admin()
        .run(&["webhooks", "redeliver", &id, "--from-seq", "1"])
        .success();
    let again = admin()
        .run(&["-o", "json", "webhooks", "show", &id])
        .success()
        .json();
    assert_eq!(
        (&again["enabled"], &again["cursor"]),
        (&serde_json::json!(true), &serde_json::json!(0))
    );
    let rotated = admin()
        .run(&["-o", "json", "webhooks", "rotate-secret", &id])
        .success()
        .json();
    assert!(
        rotated["secret"].as_str().unwrap().starts_with("whsec_"),
        "{rotated}"
    );
    assert!(rotated["previous_secret_until"].is_string(), "{rotated}");
    let table = admin().run(&["webhooks", "rotate-secret", &id]).success();
    assert!(table.stdout.contains("shown this once"), "{}", table.stdout);
    assert!(table.stdout.contains("whsec_"), "{}", table.stdout);
    admin()
        .run(&["webhooks", "update", &id, "--events", "renewed"])
        .fails(1, "(invalid_input)");
    admin().run(&["webhooks", "delete", &id]).success();
    admin()
        .run(&["webhooks", "show", &id])
        .fails(1, "(webhook_not_found)");
}

#[test]
fn the_defaults_refuse_plain_http_and_internal_addresses() {
    let server = Server::start();
    let created = server
        .operator()
        .run(&["-o", "json", "tenant", "create", "Strict"])
        .success()
        .json();
    let tenant = created["tenant"]["id"].as_str().unwrap().to_owned();
    for url in ["http://example.com/hook", "https://169.254.169.254/latest"] {
        server
            .operator()
            .env("LICENSE_TENANT", &tenant)
            .run(&["webhooks", "create", "--url", url])
            .fails(1, "url");
    }
}
