//! Issue #20 (part 1) through the `license` command against a real server: a license's seat
//! policy set from an options file and shown back as one, as JSON, and cleared; the leasing
//! flags; and an acquire the policy refuses, by user and by the host name the CLI sends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::Fixture;

/// The CLI's exit code for a usage error and for any other failure (`cli::EXIT_CODES`).
const EXIT_USAGE: i32 = 2;
const EXIT_ERROR: i32 = 1;

const OPTIONS: &str = "\
# engineers keep two seats; interns and the kiosk never get one
GROUP eng domain:eng.acme.com user:ada@acme.com
GROUP banned domain:interns.acme.com host:kiosk-1
RESERVE 1 eng
MAX 2 group:eng
EXCLUDE banned
";

/// `OPTIONS` as `policy show` prints it: comments dropped, one group or rule a line.
const SHOWN: &str = "\
GROUP eng domain:eng.acme.com user:ada@acme.com
GROUP banned domain:interns.acme.com host:kiosk-1
RESERVE 1 eng
MAX 2 group:eng
EXCLUDE banned
";

#[test]
fn a_policy_set_from_an_options_file_is_shown_back_as_one_and_as_json() {
    let fixture = Fixture::new(3);
    let file = fixture.server.home.path().join("options.txt");
    std::fs::write(&file, OPTIONS).unwrap();
    let id = fixture.license_id.as_str();
    let path = file.to_str().unwrap();
    let set = fixture
        .admin()
        .run(&["license", "policy", "set", id, "--file", path])
        .success();
    assert_eq!(set.stdout, SHOWN);
    let shown = fixture
        .admin()
        .run(&["license", "policy", "show", id])
        .success();
    assert_eq!(shown.stdout, SHOWN);

    let json = fixture
        .admin()
        .run(&["license", "policy", "show", id, "--json"])
        .success()
        .json();
    assert_eq!(json["groups"][1]["members"][1]["kind"], "host", "{json}");
    assert_eq!(json["rules"][0]["rule"], "reserve", "{json}");
    assert_eq!(json["rules"][1]["target"]["kind"], "group", "{json}");

    // The JSON goes back in with --json, unchanged.
    let json_file = fixture.server.home.path().join("policy.json");
    std::fs::write(&json_file, json.to_string()).unwrap();
    let again = fixture
        .admin()
        .run(&[
            "license",
            "policy",
            "set",
            id,
            "--json",
            "--file",
            json_file.to_str().unwrap(),
        ])
        .success()
        .json();
    assert_eq!(again, json);

    // The license shows a summary.
    let license = fixture.admin().run(&["license", "show", id]).success();
    assert!(
        license.stdout.contains("2 groups, 3 rules"),
        "{}",
        license.stdout
    );

    fixture
        .admin()
        .run(&["license", "policy", "clear", id])
        .success();
    let cleared = fixture
        .admin()
        .run(&["-o", "json", "license", "policy", "show", id])
        .success()
        .json();
    assert_eq!(cleared, serde_json::json!({ "groups": [], "rules": [] }));
}

#[test]
fn a_bad_options_file_names_its_line_and_a_bad_policy_its_field() {
    let fixture = Fixture::new(1);
    let id = fixture.license_id.as_str();
    let file = fixture.server.home.path().join("options.txt");
    std::fs::write(&file, "GROUP eng domain:acme.com\nRESERVE two eng\n").unwrap();
    let path = file.to_str().unwrap();
    fixture
        .admin()
        .run(&["license", "policy", "set", id, "--file", path])
        .fails(EXIT_USAGE, "line 2");
    // Parsed, but the server refuses it: more reserved than sold.
    std::fs::write(&file, "GROUP eng domain:acme.com\nRESERVE 2 eng\n").unwrap();
    fixture
        .admin()
        .run(&["license", "policy", "set", id, "--file", path])
        .fails(EXIT_ERROR, "invalid rules: the reserves add up to 2 seats");
}

#[test]
fn the_leasing_flags_set_and_clear_the_strategy_and_the_process_cap() {
    let fixture = Fixture::new(2);
    let created = fixture
        .admin()
        .run(&[
            "-o",
            "json",
            "license",
            "create",
            "--product",
            "Solver",
            "--seats",
            "4",
            "--leasing",
            "per-process",
            "--max-processes-per-host",
            "2",
        ])
        .success()
        .json();
    assert_eq!(created["leasing_strategy"], "per_process", "{created}");
    assert_eq!(created["max_processes_per_host"], 2);
    let id = created["id"].as_str().unwrap();
    let shown = fixture.admin().run(&["license", "show", id]).success();
    assert!(
        shown.stdout.contains("per process (at most 2 per host)"),
        "{}",
        shown.stdout
    );
    let changed = fixture
        .admin()
        .run(&[
            "-o",
            "json",
            "license",
            "update",
            id,
            "--leasing",
            "per-user",
            "--clear-max-processes-per-host",
        ])
        .success()
        .json();
    assert_eq!(changed["leasing_strategy"], "per_user", "{changed}");
    assert!(changed["max_processes_per_host"].is_null(), "{changed}");
}

#[test]
fn an_acquire_the_policy_excludes_says_so_by_user_and_by_host_name() {
    let fixture = Fixture::new(3);
    let file = fixture.server.home.path().join("options.txt");
    std::fs::write(&file, OPTIONS).unwrap();
    fixture
        .admin()
        .run(&[
            "license",
            "policy",
            "set",
            &fixture.license_id,
            "--file",
            file.to_str().unwrap(),
        ])
        .success();
    let acquire = |extra: &[&str]| {
        let mut args = vec![
            "acquire",
            "--license-key",
            &fixture.license_key,
            "--hardware-id",
            "pc-1",
        ];
        args.extend_from_slice(extra);
        fixture.client().run(&args)
    };
    acquire(&["--user-email", "tim@interns.acme.com"]).fails(EXIT_ERROR, "(excluded)");
    acquire(&["--user-email", "ada@acme.com", "--host-name", "KIOSK-1"])
        .fails(EXIT_ERROR, "(excluded)");
    let lease = acquire(&["--user-email", "ada@acme.com", "--host-name", "ws-9"]).success();
    assert!(lease.stdout.contains("session"), "{}", lease.stdout);
}
