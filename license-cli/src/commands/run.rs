//! `license run --license-key K -- CMD ARGS…`: holds a seat while a command runs. Acquires,
//! starts the command, heartbeats on the server's interval, and releases when the command
//! exits; exits with the command's status.
//!
//! Signals: Ctrl-C reaches the command from the terminal already (same process group), so
//! `run` only waits for it; SIGTERM and SIGHUP are forwarded. Either way the command gets
//! `--kill-after` seconds (or until a second signal) before it is killed, and the seat is
//! released.
//!
//! The seat is held by license-client's `SeatGuard`, as any application would hold it: a
//! lost session is acquired again, an outage is ridden out on the offline lease until the
//! token expires.
//!
//! Waiting (`--wait 10m`): a full license that has a queue is waited for in it
//! (license-client's `SeatGuard::acquire_waiting`): each new position is printed on stderr,
//! and the command starts when the turn comes. The wait ending is the no-seats error (exit
//! 3); a stop signal while waiting gives the place up and exits 128 + the signal (130 for
//! Ctrl-C, 143 for SIGTERM), as a shell reports a command the signal ended. Signals are
//! listened for from the start of the wait (a plain acquire keeps the default: Ctrl-C ends
//! `run` before anything is held).
//!
//! Evictions: when an administrator evicts the session (a heartbeat answers 410 `evicted`,
//! or a re-acquire 403 `evicted`), the command gets SIGTERM and `--kill-after` seconds, the
//! reason and the end of the hold-off are printed, and `run` exits with
//! [`EXIT_EVICTED`](crate::error::EXIT_EVICTED) without taking another seat. A seat lost any
//! other way for good (the lease ran out while the server was unreachable, the license was
//! suspended) stops the command the same way, exit code 1.

use std::process::ExitStatus;
use std::time::Duration;

use license_client::{AcquireRequest, GuardOptions, SeatGuard, SeatState};
use tokio::process::Child;
use tokio::time::{Instant, sleep_until};

use crate::cli::RunArgs;
use crate::client::ClientError;
use crate::commands::client::{acquire_request, report_place};
use crate::config::Connection;
use crate::error::{Error, Result};
use crate::output::time;

/// Exit code when the command was found but could not be started (as shells do).
const EXIT_CANNOT_EXECUTE: u8 = 126;
/// Exit code when the command was not found (as shells do).
const EXIT_NOT_FOUND: u8 = 127;

/// Acquire, spawn, hold the seat with license-client's [`SeatGuard`] (heartbeats, grace
/// period, re-acquire, eviction), release; the command's exit status.
pub async fn run(connection: &Connection, args: RunArgs) -> Result<u8> {
    let credential = connection.token.as_deref().ok_or(ClientError::NoToken)?;
    let client = license_client::Client::new(&connection.server, credential)?;
    let request = acquire_request(&args.seat)?;
    let (guard, listening) = match args.wait.filter(|seconds| *seconds > 0) {
        None => (
            SeatGuard::acquire(client, request, GuardOptions::default()).await?,
            None,
        ),
        Some(seconds) => {
            let mut signals = Signals::new()?;
            match wait_for_seat(client, request, seconds, &mut signals).await? {
                Waited::Seated(guard) => (*guard, Some(signals)),
                Waited::Stopped(code) => return Ok(code),
            }
        }
    };
    let lease = guard.lease();
    let mut session = lease.session_id.clone();
    let say = |message: String| {
        if args.verbose {
            eprintln!("license: {message}");
        }
    };
    say(format!(
        "seat acquired (session {session}, lease until {}, heartbeat every {} s)",
        time(&lease.expires_at),
        lease.heartbeat_interval_seconds.max(1)
    ));

    let (program, rest) = match args.command.split_first() {
        Some(split) => split,
        None => return Err(Error::Usage("no command given after --".into())),
    };
    // Listen before the command starts, so a Ctrl-C from now on still releases the seat.
    let listening = match listening {
        Some(signals) => Ok(signals),
        None => Signals::new(),
    };
    let mut signals = match listening {
        Ok(signals) => signals,
        Err(e) => {
            release(guard, args.verbose).await;
            return Err(e);
        }
    };
    let spawned = tokio::process::Command::new(program)
        .args(rest)
        .env("LICENSE_SESSION_ID", &session)
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            release(guard, args.verbose).await;
            eprintln!("error: cannot start {program}: {e}");
            return Ok(match e.kind() {
                std::io::ErrorKind::NotFound => EXIT_NOT_FOUND,
                _ => EXIT_CANNOT_EXECUTE,
            });
        }
    };

    let mut states = guard.subscribe();
    let mut kill_at: Option<Instant> = None;
    // Set once the seat is lost for good (evicted, or the lease ran out unrenewed): the
    // command is stopped and no seat is taken again.
    let mut lost: Option<license_client::Error> = None;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            changed = states.changed(), if lost.is_none() => {
                if changed.is_err() {
                    continue;
                }
                let state = states.borrow_and_update().clone();
                match state {
                    SeatState::Held { session_id, expires_at } => {
                        if session_id == session {
                            say(format!("heartbeat ok (lease until {})", time(&expires_at)));
                        } else {
                            eprintln!("license: warning: the seat was lost; acquired a new one (session {session_id})");
                            session = session_id;
                        }
                    }
                    SeatState::Offline { reason, until, .. } => eprintln!(
                        "license: warning: heartbeat failed: {reason}; the lease holds until {}",
                        time(&until)
                    ),
                    SeatState::Reacquiring { reason } => {
                        eprintln!("license: warning: the seat was lost ({reason}); taking it again");
                    }
                    SeatState::Lost(e) => {
                        eprintln!("license: {e}; stopping {program}");
                        terminate(&mut child);
                        kill_at = Some(Instant::now() + Duration::from_secs(args.kill_after));
                        lost = Some(e);
                    }
                    SeatState::Released => {}
                }
            }
            signal = signals.recv() => {
                if signal.forward {
                    forward(&child, signal.number);
                }
                if kill_at.is_none() {
                    say(format!("{}: waiting up to {} s for {program} to exit", signal.name, args.kill_after));
                    kill_at = Some(Instant::now() + Duration::from_secs(args.kill_after));
                } else {
                    // A second signal: stop waiting.
                    let _ = child.start_kill();
                }
            }
            () = sleep_until(kill_at.unwrap_or_else(Instant::now)), if kill_at.is_some() => {
                say(format!("{program} did not exit in time: killing it"));
                let _ = child.start_kill();
                kill_at = None;
            }
        }
    };
    if let Some(e) = lost {
        // The seat is gone already; the error line (and EXIT_EVICTED for an eviction) tell
        // the caller why.
        return Err(e.into());
    }
    release(guard, args.verbose).await;
    match status {
        Ok(status) => Ok(exit_code(status)),
        Err(e) => Err(Error::Other(format!("cannot wait for {program}: {e}"))),
    }
}

/// How a wait in the queue ended.
enum Waited {
    /// The seat, held (boxed: a guard is large next to an exit code).
    Seated(Box<SeatGuard>),
    /// A stop signal came first: the place was given up; exit with this code.
    Stopped(u8),
}

/// `--wait`: waits up to `seconds` in the license's queue, printing each new position. A stop
/// signal (listened for since before the wait) ends the wait and gives the place up.
async fn wait_for_seat(
    client: license_client::Client,
    request: AcquireRequest,
    seconds: u32,
    signals: &mut Signals,
) -> Result<Waited> {
    let key = request.license_key.clone();
    let mut ticket = None;
    let waited = tokio::select! {
        guard = SeatGuard::acquire_waiting(
            client.clone(),
            request,
            GuardOptions::default(),
            Duration::from_secs(seconds.into()),
            |place| {
                report_place(place);
                ticket = Some(place.queue_ticket.clone());
            },
        ) => Ok(guard),
        signal = signals.recv() => Err(signal),
    };
    match waited {
        Ok(guard) => Ok(Waited::Seated(Box::new(guard?))),
        Err(signal) => {
            // The dropped wait leaves from a task too; this one is awaited before exiting.
            if let Some(ticket) = ticket {
                let _ = client.leave_queue(&key, &ticket).await;
            }
            eprintln!(
                "license: {} while waiting for a seat: left the queue",
                signal.name
            );
            Ok(Waited::Stopped(
                u8::try_from(128 + signal.number).unwrap_or(255),
            ))
        }
    }
}

/// Asks the command to stop: SIGTERM (it gets `--kill-after` seconds before the kill), or a
/// kill where there are no signals.
#[cfg(unix)]
fn terminate(child: &mut Child) {
    forward(child, nix::sys::signal::Signal::SIGTERM as i32);
}

#[cfg(not(unix))]
fn terminate(child: &mut Child) {
    let _ = child.start_kill();
}

async fn release(guard: SeatGuard, verbose: bool) {
    let id = guard.session_id();
    match guard.release().await {
        Ok(_) => {
            if verbose {
                eprintln!("license: seat released (session {id})");
            }
        }
        Err(e) => eprintln!(
            "license: warning: cannot release session {id}: {e}; the seat frees itself at its TTL"
        ),
    }
}

/// The child's status as our exit code: its code, or 128 + the signal that ended it.
fn exit_code(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code & 0xff).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + signal).unwrap_or(255);
        }
    }
    1
}

/// A stop signal `run` received.
#[derive(Debug, Clone, Copy)]
struct Received {
    name: &'static str,
    number: i32,
    /// Whether the child needs it from us (the terminal already sends it Ctrl-C).
    forward: bool,
}

#[cfg(unix)]
fn forward(child: &Child, number: i32) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let (Some(pid), Ok(signal)) = (child.id(), Signal::try_from(number)) else {
        return;
    };
    if let Ok(pid) = i32::try_from(pid) {
        // The child may have exited in between: nothing to do then.
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

#[cfg(not(unix))]
fn forward(child: &Child, _number: i32) {
    let _ = child;
}

#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| {
            signal(kind).map_err(|e| Error::Other(format!("cannot listen for signals: {e}")))
        };
        Ok(Self {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
            hangup: listen(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) -> Received {
        use nix::sys::signal::Signal;
        tokio::select! {
            _ = self.interrupt.recv() => Received { name: "interrupted", number: Signal::SIGINT as i32, forward: false },
            _ = self.terminate.recv() => Received { name: "terminated", number: Signal::SIGTERM as i32, forward: true },
            _ = self.hangup.recv() => Received { name: "hung up", number: Signal::SIGHUP as i32, forward: true },
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> Result<Self> {
        Ok(Self)
    }

    async fn recv(&mut self) -> Received {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        Received {
            name: "interrupted",
            number: 2,
            forward: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn statuses_map_to_exit_codes() {
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(exit_code(ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(exit_code(ExitStatus::from_raw(0)), 0);
        // Killed by SIGKILL (9).
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 137);
    }
}
