//! `veil`: the command-line client of `veild`; with no subcommand, its dashboard
//! (`veil::dash`, in the library).
//!
//! - [`failure`]: why a command failed: exit codes and error messages.
//! - [`sink`]: writing to stdout, where a closed pipe ends the output quietly.
//! - [`session`]: one conversation with veild: connect, hello, calls (raw JSON kept for
//!   `--json`, typed result for people), events.
//! - [`output`]: all text for people, one file per command group; no IO.
//! - [`init`]: `veil init`, which writes files and needs no daemon.
//! - [`cli`]: the command line as clap types, one file per command group.
//! - [`commands`]: runs a command: one file per command group.
//!
//! The library (`veil::text`, `veil::format`, `veil::parse`) renders values and reads
//! typed input for the CLI and the dashboard alike.
//!
//! Modules depend one way only, each on those before it, never back and never in a circle:
//! `failure` ← `sink` ← `session` ← `output` (needs none of these) ← `init` (needs
//! `failure`) ← `cli` (needs `init` for its flags) ← `commands` (needs all) ← `main`.
//! Inside `cli`, `output` and `commands`, the files of a group use the leaf files (`values`,
//! `table`) but never their parent module. Test modules (`#[cfg(test)]`) may reach back.

mod cli;
mod commands;
mod failure;
mod init;
mod output;
mod session;
mod sink;

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::failure::Failure;

fn main() -> ExitCode {
    // clap prints its own errors and exits 2 for usage mistakes, 0 for --help/--version.
    let cli = Cli::parse();
    let socket = cli.socket_path();
    if let Some(path) = &cli.log_file
        && let Err(message) = veil::logfile::start(path, &cli.log_level)
    {
        let failure = Failure::Usage(message);
        let _ = io::stderr().write_all(failure.message().as_bytes());
        return ExitCode::from(failure.exit_code());
    }
    let result = match cli.command {
        Some(command) => run(command, &socket, cli.json),
        // No subcommand: the dashboard (on a terminal; elsewhere a usage error, exit 2).
        None => veil::dash::run(&socket).map_err(|e| match e {
            veil::dash::RunError::NotATerminal => Failure::Usage(e.to_string()),
            veil::dash::RunError::Io(_) => Failure::Local(e.to_string()),
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // Nowhere is left to report a failing stderr; the exit code still tells.
            let _ = io::stderr().write_all(failure.message().as_bytes());
            ExitCode::from(failure.exit_code())
        }
    }
}

/// One command on a current-thread runtime: `veil` makes one connection at a time.
fn run(command: Command, socket: &Path, json: bool) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Local(format!("cannot start the async runtime: {e}")))?;
    let mut stdout = io::stdout().lock();
    runtime.block_on(commands::execute(command, socket, json, &mut stdout))
}
