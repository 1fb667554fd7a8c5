//! `license-load`: drives one license-server over a fixed number of keep-alive HTTP/1.1
//! connections for a fixed time, and prints what it saw as one JSON line (a summary for people
//! goes to stderr). `benches/run` calls it once per scenario; see `benches/README.md`.
//!
//! ```text
//! license-load ready --server http://127.0.0.1:8080
//! LICENSE_TOKEN=lk_… license-load heartbeat --server http://127.0.0.1:8080 --license-key KEY
//! ```

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use http::Target;
use run::Plan;
use scenario::{Lease, Scenario};

/// One keep-alive HTTP/1.1 connection, opened again after a failure.
mod http;
/// Latencies and errors per connection, merged into exact percentiles.
mod record;
/// Opening the connections, the warm-up, the measured window.
mod run;
/// The four scenarios' requests and what counts as a success.
mod scenario;

/// Load generator for license-server: one scenario per run, over keep-alive HTTP/1.1.
#[derive(Debug, Parser)]
#[command(name = "license-load")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Wait until GET /api/v1/ready/ answers 200.
    Ready {
        /// Base URL of the server (http://host:port).
        #[arg(long)]
        server: String,
        /// Seconds to keep trying.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// GET /api/v1/health/ (no credential, no store, no ledger): the HTTP ceiling [64 connections].
    Ceiling(LoadArgs),
    /// POST /api/v1/licenses/heartbeat over --sessions sessions acquired first [64 connections].
    Heartbeat(LoadArgs),
    /// POST /api/v1/licenses/acquire, a new hardware id (a new seat) each time [100 connections].
    Acquire(LoadArgs),
    /// Acquire then release, in a loop, one hardware id per connection [64 connections].
    Churn(LoadArgs),
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// Base URL of the server (http://host:port).
    #[arg(long)]
    server: String,
    /// A client API key (`lk_…`); not needed by `ceiling`.
    #[arg(long, env = "LICENSE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The license key to acquire on; not needed by `ceiling`.
    #[arg(long)]
    license_key: Option<String>,
    /// Keep-alive connections, each with one request in flight [default: per scenario].
    #[arg(long)]
    connections: Option<usize>,
    /// Seconds measured.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Seconds of load before the measured window (not recorded).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Heartbeat: sessions held and renewed in turn, at least --connections [default: 16 per
    /// connection].
    #[arg(long)]
    sessions: Option<usize>,
    /// Threads of the load generator's runtime [default: half the CPUs, at least 1: it shares
    /// the machine with the server].
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> ExitCode {
    match start(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("license-load: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn start(cli: Cli) -> Result<()> {
    let (scenario, args) = match cli.command {
        Command::Ready { server, timeout } => {
            return runtime(Some(1))?.block_on(async {
                let target = Target::resolve(&server, None).await?;
                run::wait_ready(&target, Duration::from_secs(timeout)).await
            });
        }
        Command::Ceiling(args) => (Scenario::Ceiling, args),
        Command::Heartbeat(args) => (Scenario::Heartbeat, args),
        Command::Acquire(args) => (Scenario::Acquire, args),
        Command::Churn(args) => (Scenario::Churn, args),
    };
    let connections = args.connections.unwrap_or(scenario.default_connections());
    let sessions = args.sessions.unwrap_or(16 * connections);
    if connections == 0 {
        bail!("--connections must be at least 1");
    }
    if scenario == Scenario::Heartbeat && sessions < connections {
        bail!("--sessions ({sessions}) must be at least --connections ({connections})");
    }
    let lease = if scenario.needs_license() {
        if args.token.is_none() {
            bail!(
                "{} needs a client API key (--token or LICENSE_TOKEN)",
                scenario.name()
            );
        }
        let license_key = args
            .license_key
            .clone()
            .with_context(|| format!("{} needs --license-key", scenario.name()))?;
        Some(Lease {
            license_key,
            run_id: run_id(),
        })
    } else {
        None
    };
    let plan = Plan {
        scenario,
        connections,
        sessions,
        warmup: seconds("--warmup", args.warmup)?,
        duration: seconds("--seconds", args.seconds)?,
    };
    let summary = runtime(args.threads)?.block_on(async {
        let target = Target::resolve(&args.server, args.token.as_deref()).await?;
        run::run(&target, &plan, lease).await
    })?;

    eprintln!(
        "{}: {} connections, {:.1} s: {} ok ({:.0}/s), p50 {:.2} ms, p99 {:.2} ms, {} errors{}",
        scenario.name(),
        connections,
        summary.elapsed.as_secs_f64(),
        summary.ok,
        summary.per_second(),
        summary.percentile_ms(50.0),
        summary.percentile_ms(99.0),
        summary.error_count(),
        summary
            .first_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
    );
    let extra = match scenario {
        Scenario::Heartbeat => json!({ "sessions": sessions }),
        _ => json!({}),
    };
    println!("{}", summary.to_json(scenario.name(), connections, extra));
    Ok(())
}

fn runtime(threads: Option<usize>) -> Result<tokio::runtime::Runtime> {
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() / 2));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn seconds(flag: &str, value: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(value).with_context(|| format!("{flag} {value} is not a duration"))
}

/// A short id that keeps this run's hardware ids apart from other runs' (acquire is idempotent
/// per hardware id: reusing one would return the old session instead of a new seat).
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
    format!("{:08x}{:x}", nanos, std::process::id())
}
