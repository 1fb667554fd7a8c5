//! `license-server`: serve the API (default), run migrations, print the OpenAPI document or a
//! commented example configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use clap::{Parser, Subcommand};
use license_server::config::{Sources, example};
use license_server::{Config, api, compose, serve, telemetry};
use tracing::{info, warn};

/// The floating-license server.
#[derive(Debug, Parser)]
#[command(name = "license-server", version, about)]
struct Cli {
    /// TOML configuration file (default: the file named by LICENSE_CONFIG, else none).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on; overrides `server.listen`.
    #[arg(long, global = true, value_name = "ADDR")]
    listen: Option<String>,
    /// Data directory; overrides `data_dir`.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<String>,
    /// `auto`, `json` or `pretty`; overrides `log.format`.
    #[arg(long, global = true, value_name = "FORMAT")]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Run the store's migrations, then exit.
    Migrate,
    /// Print the OpenAPI document (JSON).
    Openapi,
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        action: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print every setting with its default, explanation and environment variable.
    Example,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The whole cause chain, without a backtrace: these are configuration and
            // environment problems, not bugs.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    match command {
        Command::Openapi => {
            println!("{}", api::spec());
            return Ok(());
        }
        Command::Config {
            action: ConfigCommand::Example,
        } => {
            print!("{}", example::render());
            return Ok(());
        }
        Command::Serve | Command::Migrate => {}
    }

    let mut sources = Sources::from_process(cli.config);
    for (key, flag, value) in [
        ("server.listen", "--listen", cli.listen),
        ("data_dir", "--data-dir", cli.data_dir),
        ("log.format", "--log-format", cli.log_format),
    ] {
        if let Some(value) = value {
            sources = sources.flag(key, flag, value);
        }
    }
    let loaded = Config::load(&sources)?;
    telemetry::init(&loaded.config.log).map_err(|e| anyhow!("cannot set up logging: {e}"))?;
    for warning in &loaded.warnings {
        warn!("{warning}");
    }

    match command {
        Command::Migrate => {
            let done = compose::migrate(&loaded.config)
                .await
                .context("migration failed")?;
            info!("{done}");
        }
        _ => serve(loaded.config, shutdown_signal()).await?,
    }
    Ok(())
}

/// Completes on SIGTERM (Kubernetes) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    info!("shutdown requested: finishing in-flight requests");
}
