//! The commands. Each takes its parsed arguments, talks to the server (or not) and prints; it
//! returns the process exit code.

use crate::cli::{Cli, Command};
use crate::config::{self, Connection};
use crate::error::Result;

/// Tenants, sessions, API keys, usage, audit.
pub mod admin;
/// `license bench`: the HTTP load scenario.
pub mod bench;
/// Acquire, borrow, heartbeat, release, return.
pub mod client;
/// `license completions SHELL`.
pub mod completions;
/// `license audit export|verify`: the seat-event log.
pub mod event_log;
/// `license keys generate`.
pub mod keys;
/// Licenses: create, list, show, update, suspend, reinstate, revoke.
pub mod licenses;
/// `license login`.
pub mod login;
/// `license run -- CMD`: hold a seat while a command runs.
pub mod run;
/// `license usage`: daily figures, reports from the seat-event log, signed statements.
pub mod usage;
/// `license verify`: offline lease-token verification.
pub mod verify;
/// `license webhooks …`: endpoints, deliveries, redelivery.
pub mod webhooks;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<u8> {
    let format = cli.output;
    let connection = || -> Result<Connection> { config::resolve(&cli.connection) };
    match cli.command {
        Command::Login(args) => login::run(&cli.connection, args, format).await,
        Command::Tenant(command) => admin::tenant(&connection()?, command, format).await,
        Command::License(command) => licenses::run(&connection()?, command, format).await,
        Command::Session(command) => admin::session(&connection()?, command, format).await,
        Command::ApiKey(command) => admin::api_key(&connection()?, command, format).await,
        Command::SigningKey(command) => admin::signing_key(&connection()?, command, format).await,
        Command::Queue(command) => admin::queue(&connection()?, command, format).await,
        Command::Webhooks(command) => webhooks::run(&connection()?, command, format).await,
        Command::Usage(args) => usage::run(&cli.connection, args, format).await,
        Command::Audit(args) => match args.command {
            Some(command) => event_log::run(&cli.connection, command, format).await,
            None => admin::audit(&connection()?, args, format).await,
        },
        Command::Acquire(args) => client::acquire(&connection()?, args, format).await,
        Command::Borrow(args) => client::borrow(&connection()?, args, format).await,
        Command::Return(args) => client::return_borrowed(&connection()?, args, format).await,
        Command::Heartbeat(args) => client::heartbeat(&connection()?, args, format).await,
        Command::Release(args) => client::release(&connection()?, args, format).await,
        Command::Run(args) => run::run(&connection()?, args).await,
        Command::Verify(args) => verify::run(args, &cli.connection, format).await,
        Command::Keys(command) => keys::run(command, format),
        Command::Bench(args) => bench::run(&connection()?, args, format).await,
        Command::Completions(args) => completions::run(&args),
    }
}
