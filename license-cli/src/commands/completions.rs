//! `license completions SHELL`: a completion script on stdout.

use clap::CommandFactory as _;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::Result;
use crate::output::write_stdout;

/// Prints the script for `args.shell`.
pub fn run(args: &CompletionsArgs) -> Result<u8> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "license", &mut script);
    write_stdout(&script)?;
    Ok(0)
}
