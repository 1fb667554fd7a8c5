//! `license run --license-key K -- CMD ARGS…`: holds a seat while a command runs. Acquires,
//! starts the command, heartbeats on the server's interval, and releases when the command
//! exits; exits with the command's status.
//!
//! Signals: Ctrl-C reaches the command from the terminal already (same process group), so
//! `run` only waits for it; SIGTERM and SIGHUP are forwarded. Either way the command gets
//! `--kill-after` seconds (or until a second signal) before it is killed, and the seat is
//! released.
//!
//! Evictions: when an administrator evicts the session (a heartbeat answers 410 `evicted`,
//! or a re-acquire 403 `evicted`), the command gets SIGTERM and `--kill-after` seconds, the
//! reason and the end of the hold-off are printed, and `run` exits with
//! [`EXIT_EVICTED`](crate::error::EXIT_EVICTED) without taking another seat.

use std::process::ExitStatus;
use std::time::Duration;

use tokio::process::Child;
use tokio::time::{Instant, sleep_until};

use crate::api::AcquireRequest;
use crate::cli::RunArgs;
use crate::client::{Client, ClientError};
use crate::commands::client::acquire_request;
use crate::config::Connection;
use crate::error::{Error, Result};
use crate::output::time;

/// Exit code when the command was found but could not be started (as shells do).
const EXIT_CANNOT_EXECUTE: u8 = 126;
/// Exit code when the command was not found (as shells do).
const EXIT_NOT_FOUND: u8 = 127;

/// Acquire, spawn, heartbeat, release; the command's exit status.
pub async fn run(connection: &Connection, args: RunArgs) -> Result<u8> {
    let client = Client::new(connection)?;
    let request = acquire_request(&args.seat)?;
    let lease = client.acquire(&request).await?;
    let mut session = Held {
        id: lease.session_id,
        secret: lease.session_secret,
    };
    let interval = Duration::from_secs(u64::from(lease.heartbeat_interval_seconds.max(1)));
    let say = |message: String| {
        if args.verbose {
            eprintln!("license: {message}");
        }
    };
    say(format!(
        "seat acquired (session {}, lease until {}, heartbeat every {} s)",
        session.id,
        time(&lease.expires_at),
        interval.as_secs()
    ));

    let (program, rest) = match args.command.split_first() {
        Some(split) => split,
        None => return Err(Error::Usage("no command given after --".into())),
    };
    // Listen before the command starts, so a Ctrl-C from now on still releases the seat.
    let mut signals = match Signals::new() {
        Ok(signals) => signals,
        Err(e) => {
            release(&client, &session, args.verbose).await;
            return Err(e);
        }
    };
    let spawned = tokio::process::Command::new(program)
        .args(rest)
        .env("LICENSE_SESSION_ID", &session.id)
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            release(&client, &session, args.verbose).await;
            eprintln!("error: cannot start {program}: {e}");
            return Ok(match e.kind() {
                std::io::ErrorKind::NotFound => EXIT_NOT_FOUND,
                _ => EXIT_CANNOT_EXECUTE,
            });
        }
    };

    let mut next_heartbeat = Instant::now() + interval;
    let mut kill_at: Option<Instant> = None;
    // Set once an administrator evicted the session: no more heartbeats, no new seat.
    let mut evicted: Option<ClientError> = None;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            () = sleep_until(next_heartbeat), if evicted.is_none() => {
                match keep_seat(&client, &request, &session, args.verbose).await {
                    Ok(Some(replaced)) => session = replaced,
                    Ok(None) => {}
                    Err(e) => {
                        eprintln!("license: {e}; stopping {program}");
                        terminate(&mut child);
                        kill_at = Some(Instant::now() + Duration::from_secs(args.kill_after));
                        evicted = Some(e);
                    }
                }
                next_heartbeat = Instant::now() + interval;
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
    if let Some(e) = evicted {
        // The seat is gone already; the error line and EXIT_EVICTED tell the caller why.
        return Err(e.into());
    }
    release(&client, &session, args.verbose).await;
    match status {
        Ok(status) => Ok(exit_code(status)),
        Err(e) => Err(Error::Other(format!("cannot wait for {program}: {e}"))),
    }
}

/// The session holding the seat, and its secret if its license requires one (kept in this
/// process only: the command gets the id, not the secret).
#[derive(Debug)]
struct Held {
    id: String,
    secret: Option<String>,
}

/// One heartbeat. A lost seat (expired or unknown session) is acquired again — acquire is
/// idempotent per hardware id. Failures are reported and retried at the next interval; the
/// command keeps running. `Ok(Some)`: a new session holds the seat now. `Err`: an
/// administrator evicted the session (or holds the machine off): the run must stop, and take
/// no seat again.
async fn keep_seat(
    client: &Client,
    request: &AcquireRequest,
    session: &Held,
    verbose: bool,
) -> std::result::Result<Option<Held>, ClientError> {
    match client
        .heartbeat(&session.id, session.secret.as_deref())
        .await
    {
        Ok(renewed) => {
            if verbose {
                eprintln!(
                    "license: heartbeat ok (lease until {})",
                    time(&renewed.expires_at)
                );
            }
            Ok(None)
        }
        Err(e @ ClientError::Evicted { .. }) => Err(e),
        Err(e @ ClientError::Api { .. })
            if matches!(e.code(), Some("session_expired" | "session_not_found")) =>
        {
            match client.acquire(request).await {
                Ok(lease) => {
                    eprintln!(
                        "license: warning: the seat was lost ({}); acquired a new one (session {})",
                        e.code().unwrap_or_default(),
                        lease.session_id
                    );
                    Ok(Some(Held {
                        id: lease.session_id,
                        secret: lease.session_secret,
                    }))
                }
                Err(again @ ClientError::Evicted { .. }) => Err(again),
                Err(again) => {
                    eprintln!(
                        "license: warning: the seat was lost and cannot be taken again: {again}"
                    );
                    Ok(None)
                }
            }
        }
        Err(e) => {
            eprintln!("license: warning: heartbeat failed: {e}");
            Ok(None)
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

async fn release(client: &Client, session: &Held, verbose: bool) {
    let id = &session.id;
    match client.release(id, session.secret.as_deref()).await {
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
