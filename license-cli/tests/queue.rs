//! Waiting for a seat from the command line (ADR 0029): a license's queue set and shown by
//! `license license create/update`; `license run --wait` seated in turn, its wait ending, and a
//! stop signal while it waits; `license acquire --wait`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{Fixture, Run};

/// A 1-seat license whose queue holds waiters up to a minute (set by `license update`), its
/// seat taken by `holder`: the fixture and the holder's session id.
fn queueing() -> (Fixture, String) {
    let fixture = Fixture::new(1);
    let license = fixture
        .admin()
        .run(&[
            "-o",
            "json",
            "license",
            "update",
            &fixture.license_id,
            "--max-wait-seconds",
            "1m",
        ])
        .success()
        .json();
    assert_eq!(license["max_wait_seconds"], 60);
    let holder = fixture.acquire("holder");
    let session = holder["session_id"].as_str().unwrap().to_owned();
    (fixture, session)
}

/// The lines a child writes on stderr, as they come; all of them once it exits.
struct Stderr {
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Stderr {
    fn of(child: &mut Child) -> Stderr {
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Stderr {
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits up to `timeout` for a line containing `needle`.
    #[track_caller]
    fn wait_for(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.seen.iter().any(|l| l.contains(needle)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("no {needle:?} on stderr; so far: {:?}", self.seen),
            }
        }
    }

    /// Everything, once the child has exited.
    fn all(mut self) -> String {
        self.seen.extend(self.lines.iter());
        self.seen.join("\n")
    }
}

/// Whether a plain acquire for `machine` gets the free seat (exit 0), not refused because a
/// ticket still waits for it (`limit reached: queued`). Releases it again.
fn free_seat_goes_to_a_plain_acquire(fixture: &Fixture, machine: &str) -> bool {
    let run = fixture.client().run(&[
        "-o",
        "json",
        "acquire",
        "--license-key",
        &fixture.license_key,
        "--hardware-id",
        machine,
    ]);
    if run.code == 3 {
        assert!(run.stderr.contains("queued"), "{}", run.stderr);
        return false;
    }
    let session = run.success().json()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    fixture.client().run(&["release", &session]).success();
    true
}

/// Releases the holder's seat, then asserts that it goes to a plain acquire within `within`:
/// no ticket is left in the queue (one not left would hold the seat up for 15 s).
#[track_caller]
fn no_ticket_waits(fixture: &Fixture, holder: &str, within: Duration) {
    fixture.client().run(&["release", holder]).success();
    let deadline = Instant::now() + within;
    while !free_seat_goes_to_a_plain_acquire(fixture, "newcomer") {
        assert!(Instant::now() < deadline, "a ticket still waits");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_queue_is_set_shown_and_cleared_on_a_license() {
    let fixture = Fixture::new(1);
    let created = fixture
        .admin()
        .run(&[
            "-o",
            "json",
            "license",
            "create",
            "--product",
            "CAD Lite",
            "--seats",
            "2",
            "--max-wait-seconds",
            "600",
            "--max-queue-length",
            "5",
        ])
        .success()
        .json();
    assert_eq!(created["max_wait_seconds"], 600);
    assert_eq!(created["max_queue_length"], 5);
    let id = created["id"].as_str().unwrap();
    let shown = fixture.admin().run(&["license", "show", id]).success();
    assert!(
        shown
            .stdout
            .contains("waits up to 600 s, at most 5 waiting"),
        "{}",
        shown.stdout
    );
    let cleared = fixture
        .admin()
        .run(&[
            "-o",
            "json",
            "license",
            "update",
            id,
            "--clear-max-queue-length",
            "--max-wait-seconds",
            "0",
        ])
        .success()
        .json();
    assert_eq!(cleared["max_wait_seconds"], 0);
    assert_eq!(cleared["max_queue_length"], 1000, "back to the default");
    let shown = fixture.admin().run(&["license", "show", id]).success();
    assert!(shown.stdout.contains("off"), "{}", shown.stdout);
    fixture
        .admin()
        .run(&["license", "update", id, "--max-queue-length", "0"])
        .fails(1, "max_queue_length");
}

#[cfg(unix)]
#[test]
fn run_waits_in_the_queue_and_starts_the_command_when_the_seat_frees() {
    let (fixture, holder) = queueing();
    let marker = fixture.server.home.path().join("started");
    let script = format!("touch {}", marker.display());
    let mut child = fixture.client().spawn(&[
        "run",
        "--wait",
        "30s",
        "--license-key",
        &fixture.license_key,
        "--hardware-id",
        "waiter",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let mut stderr = Stderr::of(&mut child);
    stderr.wait_for(
        "license: waiting for a seat: position 1",
        Duration::from_secs(5),
    );
    assert!(!marker.exists(), "not before its turn");
    // The administrator sees who waits.
    let listing = fixture
        .admin()
        .run(&["-o", "json", "queue", "list", &fixture.license_id])
        .success()
        .json();
    let waiting = listing["waiting"].as_array().unwrap();
    assert_eq!(waiting.len(), 1, "{listing}");
    assert_eq!(waiting[0]["hardware_id"], "waiter");
    assert_eq!(waiting[0]["position"], 1);
    let table = fixture
        .admin()
        .run(&["queue", "list", &fixture.license_id])
        .success();
    assert!(table.stdout.contains("waiter"), "{}", table.stdout);
    let released = Instant::now();
    fixture.client().run(&["release", &holder]).success();
    let status = child.wait().unwrap();
    assert!(
        released.elapsed() < Duration::from_secs(5),
        "seated at the next poll: {:?}",
        released.elapsed()
    );
    let stderr = stderr.all();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(marker.exists(), "the command ran");
    assert_eq!(
        stderr.matches("position").count(),
        1,
        "printed once, its position never changed: {stderr}"
    );
    assert!(fixture.live_sessions().is_empty(), "released after the run");
}

#[test]
fn run_whose_wait_ends_exits_with_the_no_seats_code_and_leaves_the_queue() {
    let (fixture, holder) = queueing();
    let marker = fixture.server.home.path().join("started");
    let script = format!("touch {}", marker.display());
    let started = Instant::now();
    let run = fixture.client().run(&[
        "run",
        "--wait",
        "2",
        "--license-key",
        &fixture.license_key,
        "--hardware-id",
        "waiter",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("license: waiting for a seat: position 1"),
        "{}",
        run.stderr
    );
    let error = run.stderr.lines().last().unwrap_or_default();
    assert!(
        error.starts_with("error: no seat within the wait of 2 s (still number 1 in the queue)"),
        "{}",
        run.stderr
    );
    assert!(!marker.exists(), "the command must not run without a seat");
    no_ticket_waits(&fixture, &holder, Duration::from_secs(3));
}

#[cfg(unix)]
#[test]
fn sigterm_while_waiting_leaves_the_queue_and_exits_143() {
    let (fixture, holder) = queueing();
    let mut child = fixture.client().spawn(&[
        "run",
        "--wait",
        "30s",
        "--license-key",
        &fixture.license_key,
        "--hardware-id",
        "waiter",
        "--",
        "true",
    ]);
    let mut stderr = Stderr::of(&mut child);
    stderr.wait_for("position 1", Duration::from_secs(5));
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    let stderr = stderr.all();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("left the queue"), "{stderr}");
    no_ticket_waits(&fixture, &holder, Duration::from_secs(1));
}

#[test]
fn acquire_waits_for_the_seat_and_prints_the_lease() {
    let (fixture, holder) = queueing();
    // Nobody releases: the wait ends.
    let run = fixture.client().run(&[
        "acquire",
        "--wait",
        "1",
        "--license-key",
        &fixture.license_key,
        "--hardware-id",
        "waiter",
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("no seat within the wait"),
        "{}",
        run.stderr
    );
    // The holder leaves while the next waits: its lease is printed.
    let mut child = fixture.client().spawn(&[
        "-o",
        "json",
        "acquire",
        "--wait",
        "30s",
        "--license-key",
        &fixture.license_key,
        "--hardware-id",
        "waiter",
    ]);
    let mut stderr = Stderr::of(&mut child);
    stderr.wait_for("position 1", Duration::from_secs(5));
    fixture.client().run(&["release", &holder]).success();
    let output = child.wait_with_output().unwrap();
    let run = Run::from_output(&["acquire"], &output);
    assert_eq!(run.code, 0, "{}", stderr.all());
    let lease = run.json();
    assert_eq!(
        fixture.live_sessions()[0]["id"],
        lease["session_id"],
        "the waiter holds the seat"
    );
}
