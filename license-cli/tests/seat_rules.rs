//! Issue #19 through the `license` command against a real server: the seat rules on a
//! license, borrow and return, the borrowed-seat list, and an eviction that `license run`
//! obeys — it stops its command, says why, exits 5 and takes no second seat.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::{Fixture, Run, eventually};

/// `license run` exits with this when evicted (`cli::EXIT_CODES`).
const EXIT_EVICTED: i32 = 5;

#[cfg(unix)]
#[test]
fn an_evicted_run_stops_its_command_says_why_exits_5_and_takes_no_second_seat() {
    let fixture = Fixture::new(1);
    let running = fixture.server.home.path().join("running");
    let stopped = fixture.server.home.path().join("stopped");
    // The command reports that it runs, and that it was asked to stop (SIGTERM).
    let script = format!(
        "trap 'touch {}; kill $! 2>/dev/null; exit 0' TERM; touch {}; \
         sleep 60 </dev/null >/dev/null 2>&1 & wait",
        stopped.display(),
        running.display()
    );
    let child = fixture.client().spawn(&[
        "run",
        "--license-key",
        &fixture.license_key,
        "--hardware-id",
        "workstation-3",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert!(
        eventually(Duration::from_secs(20), || running.exists()),
        "the command started"
    );
    let sessions = fixture.live_sessions();
    assert_eq!(sessions.len(), 1);
    let session = sessions[0]["id"].as_str().unwrap().to_owned();

    let evicted = fixture
        .admin()
        .run(&[
            "-o",
            "json",
            "session",
            "evict",
            &session,
            "--hold-off",
            "10m",
            "--reason",
            "licence audit",
        ])
        .success()
        .json();
    assert_eq!(evicted["end_reason"], "evicted", "{evicted}");
    assert_eq!(evicted["eviction"]["reason"], "licence audit");

    // The next heartbeat (every second) learns it; the command is stopped.
    let output = child.wait_with_output().unwrap();
    let run = Run::from_output(&["run"], &output);
    assert_eq!(run.code, EXIT_EVICTED, "{}", run.stderr);
    assert!(stopped.exists(), "the command got SIGTERM: {}", run.stderr);
    let last = run.stderr.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: evicted by an administrator: licence audit; no seat before "),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("acquired a new one"),
        "no new seat: {}",
        run.stderr
    );
    assert!(fixture.live_sessions().is_empty(), "no second session");

    // During the hold-off the machine gets no seat, with the same status.
    fixture
        .client()
        .run(&[
            "acquire",
            "--license-key",
            &fixture.license_key,
            "--hardware-id",
            "workstation-3",
        ])
        .fails(EXIT_EVICTED, "licence audit");
    assert!(fixture.live_sessions().is_empty());
}

#[test]
fn a_seat_is_borrowed_listed_and_returned() {
    let fixture = Fixture::new(2);
    let updated = fixture
        .admin()
        .run(&[
            "-o",
            "json",
            "license",
            "update",
            &fixture.license_id,
            "--max-borrow",
            "7d",
            "--max-borrowed-seats",
            "1",
            "--linger",
            "0",
            "--min-hold",
            "1m",
        ])
        .success()
        .json();
    assert_eq!(updated["max_borrow_seconds"], 604_800);
    assert_eq!(updated["max_borrowed_seats"], 1);
    assert_eq!(updated["min_hold_seconds"], 60);
    let shown = fixture
        .admin()
        .run(&["license", "show", &fixture.license_id])
        .success();
    assert!(
        shown.stdout.contains("up to 604800 s, at most 1 seats"),
        "{}",
        shown.stdout
    );

    let borrow = |hardware_id: &str, period: &str| {
        fixture.client().run(&[
            "-o",
            "json",
            "borrow",
            "--license-key",
            &fixture.license_key,
            "--hardware-id",
            hardware_id,
            "--for",
            period,
        ])
    };
    let lease = borrow("laptop-1", "2h").success().json();
    assert_eq!(lease["borrowed"], true, "{lease}");
    let session = lease["session_id"].as_str().unwrap().to_owned();
    // Beyond the license's longest borrow; and beyond its cap on borrowed seats.
    borrow("laptop-2", "8d").fails(1, "borrow_seconds");
    borrow("laptop-2", "1h").fails(3, "(borrow_limit_reached)");
    let usage = borrow("laptop-2", "soon");
    assert_eq!(usage.code, 2, "{}", usage.stderr);
    assert!(usage.stderr.contains("--for"), "{}", usage.stderr);

    let listed = fixture
        .admin()
        .run(&["-o", "json", "session", "borrowed", &fixture.license_id])
        .success()
        .json();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], session.as_str());
    let table = fixture
        .admin()
        .run(&["session", "list", &fixture.license_id])
        .success();
    assert!(table.stdout.contains("borrowed"), "{}", table.stdout);

    let returned = fixture.client().run(&["return", &session]).success();
    assert!(
        returned
            .stdout
            .contains(&format!("session {session} returned at")),
        "{}",
        returned.stdout
    );
    assert!(fixture.live_sessions().is_empty());
    // An ordinary seat is released, not returned.
    let desk = fixture.acquire("desk-1");
    fixture
        .client()
        .run(&["return", desk["session_id"].as_str().unwrap()])
        .fails(1, "session_id");
    // Young (under the minimum hold): a force-release needs --force.
    let desk = desk["session_id"].as_str().unwrap();
    fixture
        .admin()
        .run(&["session", "release", desk])
        .fails(1, "(conflict)");
    fixture
        .admin()
        .run(&["session", "release", desk, "--force"])
        .success();
}

#[test]
fn rules_are_set_on_create_and_cleared_on_update() {
    let fixture = Fixture::new(1);
    let created = fixture
        .admin()
        .run(&[
            "-o",
            "json",
            "license",
            "create",
            "--product",
            "CAD Site",
            "--seats",
            "10",
            "--overdraft",
            "2",
            "--max-borrow",
            "14d",
            "--max-borrowed-seats",
            "3",
            "--linger",
            "5m",
            "--overdraft-minutes-per-day",
            "600",
        ])
        .success()
        .json();
    assert_eq!(created["max_borrow_seconds"], 1_209_600);
    assert_eq!(created["linger_seconds"], 300);
    assert_eq!(created["overdraft_minutes_per_day"], 600);
    let id = created["id"].as_str().unwrap();
    let cleared = fixture
        .admin()
        .run(&[
            "-o",
            "json",
            "license",
            "update",
            id,
            "--clear-max-borrowed-seats",
            "--clear-overdraft-minutes-per-day",
        ])
        .success()
        .json();
    assert!(cleared.get("max_borrowed_seats").is_none(), "{cleared}");
    assert!(cleared.get("overdraft_minutes_per_day").is_none());
    assert_eq!(cleared["max_borrow_seconds"], 1_209_600, "the rest stays");
    // The server names the field it refuses.
    fixture
        .admin()
        .run(&["license", "update", id, "--linger", "2d"])
        .fails(1, "linger_seconds");
}
