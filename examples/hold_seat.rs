//! Holds a floating-license seat while it works, with [`SeatGuard`]: acquires, verifies the
//! lease offline against the tenant's key set (pinned to the root key set when given),
//! works while watching the guard's state, and releases on exit. Evicted by an
//! administrator: stops at once, exit code 5.
//!
//! Settings (environment), as the C and C++ examples in `examples/c/`:
//! `LC_SERVER`, `LC_CREDENTIAL` (a client API key), `LC_LICENSE_KEY`, `LC_HARDWARE_ID`,
//! `LC_KEY_SET_FILE` (the tenant's `/api/v1/tenants/{id}/jwks.json`), `LC_ROOT_KEY_SET_FILE`
//! (optional: `/.well-known/jwks.json`), `LC_WORK_SECONDS` (default 5).
//! Exit codes: 0 done and released, 1 error, 4 seat lost, 5 evicted.
//!
//! `cargo run -p license-examples --example hold_seat` (license-client-c's `examples` test
//! runs it against a live server, next to the C and C++ ones).

use std::process::ExitCode;
use std::time::Duration;

use license_client::{
    AcquireRequest, Client, DEFAULT_ISSUER, Error, GuardOptions, SeatGuard, SeatState, Verifier,
};

fn setting(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{name} is not set"))
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("hold_seat: {message}");
            ExitCode::from(1)
        }
    }
}

async fn run() -> Result<u8, String> {
    let key_set = read(&setting("LC_KEY_SET_FILE")?)?;
    let root = match std::env::var("LC_ROOT_KEY_SET_FILE") {
        Ok(path) => Some(read(&path)?),
        Err(_) => None,
    };
    let work = Duration::from_secs(
        std::env::var("LC_WORK_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
    );
    // INTEGRATE:hold-seat:start
    let verifier = Verifier::from_json(
        &key_set,
        root.as_deref(),
        DEFAULT_ISSUER,
        chrono::Utc::now(),
    )
    .map_err(|e| e.to_string())?;
    let client = Client::new(&setting("LC_SERVER")?, &setting("LC_CREDENTIAL")?)
        .map_err(|e| e.to_string())?;
    let request = AcquireRequest::new(setting("LC_LICENSE_KEY")?, setting("LC_HARDWARE_ID")?);
    let options = GuardOptions {
        verifier: Some(verifier.clone()),
        ..GuardOptions::default()
    };
    let guard = match SeatGuard::acquire(client, request, options).await {
        Ok(guard) => guard,
        Err(e @ Error::Evicted { .. }) => {
            eprintln!("hold_seat: {e}");
            return Ok(5);
        }
        Err(e) => return Err(format!("no seat: {e}")),
    };
    println!("acquired");
    // The guard verified the lease already; checking an entitlement verifies it again.
    let export = verifier
        .has_entitlement(&guard.token(), "export", chrono::Utc::now())
        .map_err(|e| format!("the lease does not verify: {e}"))?;
    println!(
        "verified offline (export {})",
        if export { "granted" } else { "not granted" }
    );
    println!("holding");

    let mut states = guard.subscribe();
    let done = tokio::time::sleep(work); // the work
    tokio::pin!(done);
    loop {
        tokio::select! {
            () = &mut done => break,
            changed = states.changed() => {
                if changed.is_err() {
                    break;
                }
                match &*states.borrow_and_update() {
                    SeatState::Lost(Error::Evicted { .. }) => {
                        println!("evicted");
                        return Ok(5);
                    }
                    SeatState::Lost(_) => {
                        println!("lost");
                        return Ok(4);
                    }
                    _ => {}
                }
            }
        }
    }
    guard
        .release()
        .await
        .map_err(|e| format!("release failed: {e}"))?;
    println!("released");
    // INTEGRATE:hold-seat:end
    Ok(0)
}
