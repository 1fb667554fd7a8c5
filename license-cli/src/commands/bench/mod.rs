//! `license bench`: the HTTP load scenario. N clients, at most C at a time, each acquire →
//! heartbeat k times → release, each on its own hardware id. Bounded in count (`--clients`,
//! `--requests`) and time (`--duration`: no client starts and no heartbeat is sent after it;
//! held seats are then released, within a grace period after which everything stops).
//! Loopback only unless `--allow-remote`. Latencies are exact percentiles of a sorted `Vec`
//! (the request count is capped, so it stays small).

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Url;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::api::AcquireRequest;
use crate::cli::{BenchArgs, OutputFormat};
use crate::client::{Client, ClientError, parse_base_url};
use crate::config::Connection;
use crate::error::{Error, Result};
use crate::output::{print_json, print_text};

use report::{ACQUIRE, ClientRun, HEARTBEAT, RELEASE, render, summarise};

/// The result: percentiles, throughput, 402s and errors.
mod report;

/// Time held seats get to be released after `--duration`, before everything stops.
const RELEASE_GRACE: Duration = Duration::from_secs(15);
/// One request's time limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the scenario and prints the report.
pub async fn run(connection: &Connection, args: BenchArgs, format: OutputFormat) -> Result<u8> {
    let json = args.json || format == OutputFormat::Json;
    let base = parse_base_url(&connection.server)?;
    if !args.allow_remote && !is_loopback(&base) {
        return Err(Error::Usage(format!(
            "refusing to load-test {}: it is not a loopback address (pass --allow-remote if you mean it)",
            base.host_str().unwrap_or_default()
        )));
    }
    let per_client = 2 + u64::from(args.heartbeats);
    let planned = match args.requests {
        Some(cap) => {
            u32::try_from((cap / per_client).min(u64::from(args.clients))).unwrap_or(args.clients)
        }
        None => args.clients,
    };
    if planned == 0 {
        return Err(Error::Usage(format!(
            "--requests is smaller than one client's {per_client} requests"
        )));
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency as usize)
        .connect_timeout(Duration::from_secs(5))
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| Error::Other(format!("cannot build the HTTP client: {e}")))?;
    let client = Client::with_http(connection, http)?;
    if connection.token.is_none() {
        return Err(ClientError::NoToken.into());
    }
    client.health().await?;

    let progress = if json || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar =
            ProgressBar::with_draw_target(Some(u64::from(planned)), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} {wide_bar} {pos}/{len} clients ({per_sec})",
        ) {
            bar.set_style(style);
        }
        bar
    };

    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.duration);
    let hard_deadline = deadline + RELEASE_GRACE;
    let run_id = run_id();
    let next = Arc::new(AtomicU32::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel::<ClientRun>();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.min(planned) {
        let (client, next, tx) = (client.clone(), next.clone(), tx.clone());
        let (license_key, run_id, heartbeats) =
            (args.license_key.clone(), run_id.clone(), args.heartbeats);
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= planned || Instant::now() >= deadline {
                    break;
                }
                let request = AcquireRequest {
                    license_key: license_key.clone(),
                    hardware_id: format!("bench-{run_id}-{i}"),
                    user_email: None,
                    host_name: None,
                    process_id: None,
                    wait_seconds: None,
                    queue_ticket: None,
                };
                let result = one_client(&client, &request, heartbeats, deadline).await;
                if tx.send(result).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);

    let mut runs = Vec::new();
    let mut hard_stopped = false;
    loop {
        match tokio::time::timeout_at(hard_deadline, rx.recv()).await {
            Ok(Some(run)) => {
                progress.inc(1);
                runs.push(run);
            }
            Ok(None) => break,
            Err(_) => {
                hard_stopped = true;
                break;
            }
        }
    }
    for worker in &workers {
        worker.abort();
    }
    progress.finish_and_clear();
    let elapsed = start.elapsed();

    let report = summarise(&runs, &args, planned, base.as_str(), elapsed, hard_stopped);
    if json {
        print_json(&report)?;
    } else {
        print_text(&render(&report))?;
    }
    if let Some(failure) = report.total_failure() {
        return Err(Error::Other(failure));
    }
    Ok(0)
}

/// acquire → heartbeat × k (until the deadline) → release.
async fn one_client(
    client: &Client,
    request: &AcquireRequest,
    heartbeats: u32,
    deadline: Instant,
) -> ClientRun {
    let mut run = ClientRun::default();
    let started = Instant::now();
    let lease = match client.acquire(request).await {
        Ok(lease) => {
            run.latencies[ACQUIRE].push(micros(started));
            lease
        }
        Err(e) if e.code() == Some("no_seats_available") => {
            run.no_seats = true;
            return run;
        }
        Err(e) => {
            run.errors.push((ACQUIRE, code_of(&e)));
            return run;
        }
    };
    let mut all_ok = true;
    for _ in 0..heartbeats {
        if Instant::now() >= deadline {
            all_ok = false;
            break;
        }
        let started = Instant::now();
        match client
            .heartbeat(&lease.session_id, lease.session_secret.as_deref())
            .await
        {
            Ok(_) => run.latencies[HEARTBEAT].push(micros(started)),
            Err(e) => {
                run.errors.push((HEARTBEAT, code_of(&e)));
                all_ok = false;
            }
        }
    }
    let started = Instant::now();
    match client
        .release(&lease.session_id, lease.session_secret.as_deref())
        .await
    {
        Ok(_) => run.latencies[RELEASE].push(micros(started)),
        Err(e) => {
            run.errors.push((RELEASE, code_of(&e)));
            all_ok = false;
        }
    }
    run.completed = all_ok;
    run
}

fn code_of(e: &ClientError) -> String {
    match e {
        ClientError::Api { code, .. } => code.clone(),
        ClientError::Evicted { .. } => "evicted".into(),
        ClientError::Unreachable { .. } => "unreachable".into(),
        ClientError::BadResponse(_) => "bad_response".into(),
        ClientError::BadUrl { .. } => "bad_url".into(),
        ClientError::NoToken => "no_token".into(),
        ClientError::InvalidId { .. } => "invalid_id".into(),
    }
}

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// A short id that keeps this run's hardware ids apart from earlier runs' (acquire is
/// idempotent per hardware id, so reusing one would return an old session).
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
    format!("{:08x}{:x}", nanos, std::process::id())
}

/// Whether the URL's host is a loopback address or `localhost`.
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_are_local() {
        for local in [
            "http://127.0.0.1:8080",
            "http://[::1]:1",
            "http://localhost",
            "http://a.localhost/",
        ] {
            assert!(is_loopback(&Url::parse(local).unwrap()), "{local}");
        }
        for remote in [
            "http://10.0.0.1",
            "https://licenses.example.com",
            "http://localhost.example.com",
        ] {
            assert!(!is_loopback(&Url::parse(remote).unwrap()), "{remote}");
        }
    }
}
