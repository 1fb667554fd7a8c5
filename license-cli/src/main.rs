//! `license`: the command line for operators, vendors and testers of the floating-license
//! server — admin, client, offline verification, local keys and the HTTP load scenario.
//!
//! This file only parses the command line, starts the runtime and turns an error into one
//! line on stderr and an exit code (see `cli::EXIT_CODES`).

use std::process::ExitCode;

use clap::Parser as _;

/// The server's JSON, mirrored in small serde structs.
mod api;
/// The command line (clap derive types).
mod cli;
/// The HTTP client and its typed error.
mod client;
/// One module per group of commands.
mod commands;
/// Connection settings: flags > environment > login file.
mod config;
/// Durations on the command line, as whole seconds.
mod duration;
/// The CLI's error type and exit codes.
mod error;
/// The default hardware id (a machine fingerprint).
mod hardware;
/// Tables, key–value blocks and JSON.
mod output;
/// A seat policy printed as an options file (the text `policy set` reads).
mod policy_text;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(error::EXIT_ERROR);
        }
    };
    let result = runtime.block_on(commands::run(cli));
    // Don't wait for a blocking stdin read or an aborted bench task.
    runtime.shutdown_background();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
