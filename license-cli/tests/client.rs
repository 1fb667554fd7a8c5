//! Client commands against a real server: acquire, heartbeat, release and `run`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::{Fixture, Run, eventually};

#[test]
fn a_seat_is_acquired_renewed_and_released() {
    let fixture = Fixture::new(1);
    let lease = fixture.acquire("laptop-1");
    let session = lease["session_id"].as_str().unwrap();
    assert_eq!(lease["heartbeat_interval_seconds"], 1);
    assert_eq!(lease["token"].as_str().unwrap().split('.').count(), 3);

    // Idempotent per hardware id: the same session back, no second seat.
    let again = fixture.acquire("laptop-1");
    assert_eq!(again["session_id"], lease["session_id"]);
    assert_eq!(fixture.live_sessions().len(), 1);

    let renewed = fixture
        .client()
        .run(&["-o", "json", "heartbeat", session])
        .success()
        .json();
    assert!(renewed["expires_at"].as_str().unwrap() >= lease["expires_at"].as_str().unwrap());

    let released = fixture.client().run(&["release", session]).success();
    assert!(
        released.stdout.contains("released at"),
        "{}",
        released.stdout
    );
    assert!(fixture.live_sessions().is_empty());
    // Releasing again answers the same.
    fixture.client().run(&["release", session]).success();
}

#[test]
fn the_default_hardware_id_is_a_stable_fingerprint() {
    let fixture = Fixture::new(2);
    let acquire = || {
        fixture
            .client()
            .run(&[
                "-o",
                "json",
                "acquire",
                "--license-key",
                &fixture.license_key,
            ])
            .success()
            .json()
    };
    assert_eq!(acquire()["session_id"], acquire()["session_id"]);
    let sessions = fixture.live_sessions();
    assert_eq!(sessions.len(), 1);
    let hwid = sessions[0]["hardware_id"].as_str().unwrap();
    assert!(hwid.starts_with("m-") || hwid.starts_with("h-"), "{hwid}");
}

#[test]
fn acquire_on_a_full_license_exits_with_the_no_seats_code() {
    let fixture = Fixture::new(1);
    fixture.acquire("pc-1");
    fixture
        .client()
        .run(&["acquire", "--license-key", &fixture.license_key, "--hardware-id", "pc-2"])
        .fails(3, "error: no seats available: all 1 seats of this license are in use (no_seats_available)");
}

#[test]
fn client_errors_carry_the_server_code() {
    let fixture = Fixture::new(1);
    fixture
        .client()
        .run(&[
            "acquire",
            "--license-key",
            "NO-SUCH-KEY-1",
            "--hardware-id",
            "pc-1",
        ])
        .fails(1, "(license_not_found)");
    fixture
        .client()
        .run(&["heartbeat", "01a2103b-0000-7000-8000-000000000000"])
        .fails(1, "(session_not_found)");
    // The operator credential is not a client credential.
    fixture
        .server
        .operator()
        .run(&[
            "acquire",
            "--license-key",
            &fixture.license_key,
            "--hardware-id",
            "pc-1",
        ])
        .fails(1, "(forbidden)");
    // No credential at all.
    fixture
        .server
        .cli()
        .run(&["release", "01a2103b-0000-7000-8000-000000000000"])
        .fails(1, "no credential");
}

#[test]
fn run_exits_with_the_childs_status_and_releases_the_seat() {
    let fixture = Fixture::new(1);
    // Long enough for at least one heartbeat at the 1 s interval.
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
        "echo \"session $LICENSE_SESSION_ID\"; sleep 2.5; exit 7",
    ]);
    assert_eq!(run.code, 7, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("session "),
        "the child ran: {}",
        run.stdout
    );
    assert!(run.stderr.contains("heartbeat ok"), "{}", run.stderr);
    assert!(run.stderr.contains("seat released"), "{}", run.stderr);
    assert!(fixture.live_sessions().is_empty(), "the seat is free again");

    let ok = fixture
        .client()
        .run(&["run", "--license-key", &fixture.license_key, "--", "true"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stderr.is_empty(),
        "quiet without --verbose: {}",
        ok.stderr
    );
}

#[test]
fn run_on_a_full_license_says_so_and_does_not_start_the_command() {
    let fixture = Fixture::new(1);
    fixture.acquire("someone-else");
    let marker = fixture.server.home.path().join("started");
    let script = format!("touch {}", marker.display());
    fixture
        .client()
        .run(&[
            "run",
            "--license-key",
            &fixture.license_key,
            "--",
            "sh",
            "-c",
            &script,
        ])
        .fails(3, "(no_seats_available)");
    assert!(!marker.exists(), "the command must not run without a seat");
}

#[test]
fn run_releases_the_seat_when_the_command_cannot_start() {
    let fixture = Fixture::new(1);
    let run = fixture.client().run(&[
        "run",
        "--license-key",
        &fixture.license_key,
        "--",
        "/definitely/not/a/command",
    ]);
    assert_eq!(run.code, 127, "{}", run.stderr);
    assert!(run.stderr.contains("cannot start"), "{}", run.stderr);
    assert!(fixture.live_sessions().is_empty());
}

#[cfg(unix)]
#[test]
fn run_forwards_sigterm_and_releases_the_seat() {
    let fixture = Fixture::new(1);
    let marker = fixture.server.home.path().join("running");
    // The child reports that it runs, then exits 42 on SIGTERM.
    let script = format!(
        "trap 'kill $! 2>/dev/null; exit 42' TERM; touch {}; sleep 30 </dev/null >/dev/null 2>&1 & wait",
        marker.display()
    );
    let child = fixture.client().spawn(&[
        "run",
        "--license-key",
        &fixture.license_key,
        "--hardware-id",
        "signal-test",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert!(
        eventually(Duration::from_secs(20), || marker.exists()),
        "the command started"
    );
    assert_eq!(fixture.live_sessions().len(), 1);

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let run = Run::from_output(&["run"], &output);
    assert_eq!(run.code, 42, "{}", run.stderr);
    assert!(fixture.live_sessions().is_empty(), "released after SIGTERM");
}

#[cfg(unix)]
#[test]
fn run_kills_a_command_that_ignores_the_interrupt_after_the_grace_period() {
    let fixture = Fixture::new(1);
    let marker = fixture.server.home.path().join("running");
    // Ignores SIGINT; only a kill ends it.
    let script = format!(
        "trap '' INT; touch {}; exec sleep 30 </dev/null >/dev/null 2>&1",
        marker.display()
    );
    let child = fixture.client().spawn(&[
        "run",
        "--kill-after",
        "1",
        "--license-key",
        &fixture.license_key,
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert!(
        eventually(Duration::from_secs(20), || marker.exists()),
        "the command started"
    );
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = std::time::Instant::now();
    let output = child.wait_with_output().unwrap();
    let run = Run::from_output(&["run"], &output);
    assert_eq!(run.code, 128 + 9, "killed with SIGKILL: {}", run.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "not the 30 s sleep"
    );
    assert!(
        fixture.live_sessions().is_empty(),
        "released after the kill"
    );
}
